"""Using a trained model: load a run directory (or any checkpoint), evaluate it, predict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from ftcli import assets
from ftcli.config import TaskOptions, TrainConfig, config_from_yaml, with_option_sets
from ftcli.data.columns import check_columns, resolve_columns
from ftcli.errors import UserError
from ftcli.batching import length_sorted_loader
from ftcli.evaluation import collect_outputs, score_dataset
from ftcli.models.outputs import enable_packing
from ftcli.models.loading import align_tokenizer_inputs, check_tokenizer_matches, check_weights_file, head_weights_not_loaded, load_model, read_config
from ftcli.paths import check_huggingface_caches
from ftcli.rundir import CONFIG_FILE, is_run_directory
from ftcli.strategies import get_strategy
from ftcli.objectives import task_or_objective
from ftcli.tasks.base import EvalData, Task, model_inputs
from ftcli.training import make_accelerator


@dataclass
class LoadedModel:
    task: Task
    model: Any
    processor: Any
    columns: dict[str, str]
    max_length: int
    labels: list[str] | None
    source: str
    untrained_head: list[str] = field(default_factory=list)
    """Task-head weights that would start random (a bare checkpoint): predicting with it is refused."""


def load_trained(run_or_model: str, task_name: str | None, columns: dict[str, str] | None = None,
                 max_length: int | None = None, option_sets: list[str] | None = None) -> LoadedModel:
    """A run directory brings its task, columns and max length; a bare checkpoint needs --task."""
    path = Path(run_or_model).expanduser()
    run_columns: dict[str, str] = {}
    options = TaskOptions()
    saved = None
    if is_run_directory(path):
        saved = config_from_yaml(path / CONFIG_FILE)
        saved.task, saved.strategy = get_strategy(saved.strategy).served_as(saved.task, path)
        if task_name is not None and task_name != saved.task:
            raise UserError(f"{path} is a {saved.task} run, not {task_name}")
        task_name, run_columns, options = saved.task, saved.data.columns, saved.options
        max_length = max_length or saved.model.max_length
        checkpoint = str(path / "model")
    else:
        if path.is_dir() and (path / CONFIG_FILE).is_file():
            raise UserError(f"{path} holds an unfinished run (no model/ yet)")
        checkpoint = assets.resolve_model(run_or_model)
        if task_name is None:
            raise UserError(f"{run_or_model} is not an ftcli run directory; say which task with --task")
    task = task_or_objective(task_name, with_option_sets(options, option_sets))
    # Adapter and feature-head runs keep no config.json of their own: the base checkpoint decides.
    own_config = saved is None or (Path(checkpoint) / "config.json").is_file()
    task = task.bind(read_config(checkpoint if own_config else assets.resolve_model(saved.model.name)))
    if saved is not None and getattr(task, "problem_type", None) == "multi_label_classification" \
            and not task.thresholds:
        task.thresholds = validation_thresholds(path)  # adapter runs keep no config.json of their own
    check_weights_file(checkpoint)  # the run's own files too: adapter and feature-head weights
    if saved is not None:
        # Each strategy knows its saved form (full weights, adapter + head, feature head).
        model = get_strategy(saved.strategy).load(Path(checkpoint), task, saved)
    else:
        model = load_model(checkpoint, task.auto_class_for)
    # Adapters and feature heads bring their own head; a merged LoRA run is a full checkpoint.
    full_weights = saved is None or get_strategy(saved.strategy).holds_full_weights(Path(checkpoint))
    untrained = head_weights_not_loaded(model) if full_weights else []
    processor = task.load_processor(checkpoint)
    check_tokenizer_matches(processor, model.config, checkpoint)
    align_tokenizer_inputs(processor, model)
    id2label = getattr(model.config, "id2label", None) or {}
    labels = [id2label[i] for i in sorted(id2label)] if id2label else None
    mapped = resolve_columns(task.fields, {**run_columns, **(columns or {})}, task.name)
    limit = min(max_length or 512, getattr(processor, "model_max_length", 512) or 512)
    return LoadedModel(task, model, processor, mapped, limit, labels, checkpoint, untrained)


def validation_thresholds(run: Path) -> dict[str, float] | None:
    """A multi-label run's thresholds as its metrics.json records them (`validation_threshold_<label>`, chosen
    on the validation split with the kept model); None without them (0.5 each)."""
    import json

    try:
        metrics = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    prefix = "validation_threshold_"
    found = {key[len(prefix):]: float(value) for key, value in metrics.items()
             if key.startswith(prefix) and isinstance(value, (int, float))}
    return found or None


def _prepared(loaded: LoadedModel, features: Dataset, batch_size: int):
    """(model, loader, accelerator): rows of similar length batched together, packed where the model supports
    it (`collect_outputs` puts results back in input order)."""
    refuse_untrained_head(loaded)  # once the input is known to be fine, so input errors come first
    accelerator = make_accelerator(TrainConfig())
    loader = length_sorted_loader(model_inputs(features, loaded.task), batch_size, loaded.task.collator(loaded.processor))
    enable_packing(loaded.model)
    model, prepared = accelerator.prepare(loaded.model, loader)
    prepared.order = loader.order  # the length-sorted order, for putting results back in input order
    return model, prepared, accelerator


def _outputs(loaded: LoadedModel, features: Dataset, batch_size: int):
    model, loader, accelerator = _prepared(loaded, features, batch_size)
    return collect_outputs(model, loader, accelerator, loaded.task, order=loader.order)


def refuse_untrained_head(loaded: LoadedModel) -> None:
    if loaded.untrained_head:
        raise UserError(f"{loaded.source} has no trained {loaded.task.name} head ({', '.join(loaded.untrained_head[:2])} "
                        f"would start random, so its answers would be noise); fine-tune it first: "
                        f"ftcli finetune {loaded.task.name} --model {loaded.source} ...")


def evaluate_dataset(loaded: LoadedModel, dataset: Dataset, where: str, batch_size: int = 64) -> dict[str, float]:
    task = loaded.task
    check_columns(dataset, loaded.columns, task.required_for(dataset, loaded.columns), where)
    refuse_untrained_head(loaded)  # before the labels are compared with a random head's placeholder names
    check_huggingface_caches()  # the metric is loaded after the model pass
    label2id = {label: i for i, label in enumerate(loaded.labels)} if loaded.labels else None
    task.validate(dataset, loaded.columns, label2id, where)
    features = task.preprocess(dataset, loaded.processor, loaded.columns, label2id, loaded.max_length)
    data = EvalData(dataset, features, loaded.columns, loaded.labels, loaded.processor)
    model, loader, accelerator = _prepared(loaded, features, batch_size)
    metrics, seconds = score_dataset(model, loader, accelerator, task, data, order=loader.order)
    metrics["eval_rows"] = dataset.num_rows
    metrics["eval_samples_per_second"] = round(len(features) / seconds, 3)  # features: QA windows, not questions
    return metrics


def predict_dataset(loaded: LoadedModel, dataset: Dataset, where: str, batch_size: int = 64) -> list[dict[str, Any]]:
    task = loaded.task
    fields = task.inputs_for(dataset, loaded.columns)
    check_columns(dataset, loaded.columns, fields, where)
    task.validate(dataset, loaded.columns, None, where)
    features = task.preprocess(dataset, loaded.processor, loaded.columns, None, loaded.max_length,
                               with_labels=False)
    outputs = _outputs(loaded, features, batch_size)
    records = task.format_predictions(outputs.gathered, EvalData(dataset, features, loaded.columns, loaded.labels, loaded.processor))
    inputs = {f: dataset[loaded.columns[f]] for f in fields}
    return [{**{f: inputs[f][i] for f in fields}, **record} for i, record in enumerate(records)]
