"""run(config): task + strategy + model + data -> training -> a complete run directory.

Everything that can be wrong with the user's input (paths, columns, labels, settings, model,
output directory) is checked before the run directory is created.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from accelerate.utils import set_seed

from ftcli import assets
from ftcli.checkpoints import CheckpointStore
from ftcli.config import RunConfig, apply_mapping, check_ranges
from ftcli.data.columns import check_columns, resolve_columns
from ftcli.data.sources import load_splits
from ftcli.distributed import barrier
from ftcli.memory import peak_memory_mb, reset_peak_memory
from ftcli.metrics.selection import selection_for
from ftcli.models.loading import align_tokenizer_inputs, check_tokenizer_matches, read_config
from ftcli.modelcard import render_model_card
from ftcli.paths import check_huggingface_caches, write_text_atomically
from ftcli.progress import console, percent
from ftcli.resume import (INPUTS_FILE, absolute_if_local, check_same_inputs, check_same_settings, command_line,
                          finished_in, input_fingerprints, resume_command)
from ftcli.rundir import RunDirectory
from ftcli.strategies import get_strategy
from ftcli.strategies.base import parameter_counts
from ftcli.objectives import task_or_objective
from ftcli.tasks.base import EvalData
from ftcli.errors import UserError, named_if_disk_full
from ftcli.precision import resolve_mixed_precision
from ftcli.training import EvalSet, Interrupted, TrainResult, global_batch_size, make_accelerator, train


@dataclass
class RunResult:
    path: Path
    metrics: dict[str, Any]


def default_output_dir(config: RunConfig) -> str:
    model = Path(config.model.name.rstrip("/")).name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path("runs") / f"{config.task}-{config.strategy}-{model}-{stamp}")


def run(config: RunConfig, overwrite: bool = False, resume: bool = False) -> RunResult:
    if config.output_dir is None:
        config.output_dir = default_output_dir(config)
    # A local model folder is stored absolute: the run (a LoRA adapter names its base) works from anywhere.
    config.model.name = absolute_if_local(config.model.name)
    run_dir = RunDirectory(config.output_dir, overwrite=overwrite, resume=resume)
    run_dir.check()
    resume = run_dir.resume  # --resume of a run stopped before it wrote anything starts it
    check_huggingface_caches()
    barrier()  # every process has checked before the main one creates anything
    if resume:
        config = _resumed_config(config, run_dir)
        if finished_in(run_dir.staging):  # killed while putting the finished run in place
            return _put_in_place(run_dir, config)
        CheckpointStore(run_dir.staging).verify()
    inputs = _checked_inputs(config)
    model, head = _build_model(inputs, config)
    requested = config.train.mixed_precision
    config.train.mixed_precision, precision_reason = resolve_mixed_precision(requested)
    accelerator = make_accelerator(config.train)
    train_features, eval_features = _preprocess(inputs, config, accelerator)
    # Printed once the input is known to be usable (preprocessing can still reject it).
    trainable, total = parameter_counts(model)
    _announce(inputs, config, accelerator, trainable, total, requested, precision_reason)

    # One run directory, written by the main process; the others write their checkpoint parts into it.
    path = run_dir.create(config.to_dict()) if accelerator.is_main_process else run_dir.staging
    if accelerator.is_main_process and not resume:
        write_text_atomically(path / INPUTS_FILE, json.dumps(input_fingerprints(config), indent=1) + "\n")
    accelerator.wait_for_everyone()
    try:  # the staging folder's lock is held from here until the run is in place
        reset_peak_memory()
        result, data = _train(inputs, config, model, train_features, eval_features, accelerator, path, run_dir, resume)
        metrics = _metrics(result, data.seconds, (trainable, total), config, accelerator, inputs.splits, head)
        if accelerator.is_main_process:
            _write_results(path, metrics, inputs, config, model)
            final = run_dir.finalize(config.train.keep_checkpoints)
        else:
            final = run_dir.destination
        accelerator.wait_for_everyone()
        return RunResult(path=final, metrics=metrics)
    finally:
        run_dir.release()


@dataclass
class _Inputs:
    """A run's checked inputs: its task (bound to the model's config), strategy and model checkpoint,
    the data split, its columns and labels, and the model's processor."""

    task: Any
    strategy: Any
    checkpoint: str
    splits: Any
    columns: dict[str, str]
    held_out: dict[str, tuple[Any, str]]
    """"test" (and "validation"): the rows, and how messages name them."""
    labels: list[str] | None
    label2id: dict[str, int] | None
    processor: Any


def _resumed_config(config: RunConfig, run_dir: RunDirectory) -> RunConfig:
    """A resumed run continues with the settings and data it started with, or is refused."""
    output_dir = config.output_dir
    saved = RunConfig()
    apply_mapping(saved, run_dir.saved_config())
    check_same_settings(getattr(config, "given", {}), saved)
    config, config.output_dir = saved, output_dir
    check_same_inputs(run_dir.staging, config)
    return config


def _checked_inputs(config: RunConfig) -> _Inputs:
    """The settings, task, strategy, model and data, each checked before anything is created."""
    check_ranges(config)
    data_cfg = config.data
    if config.train.early_stopping_patience and data_cfg.validation is None and not data_cfg.validation_fraction:
        raise UserError("train.early_stopping_patience needs a validation split: pass --validation DATA "
                        "or --set data.validation_fraction=0.1")

    task = task_or_objective(config.task, config.options, config)
    strategy = get_strategy(config.strategy)
    checkpoint = assets.resolve_model(config.model.name)

    splits = load_splits(data_cfg.train, data_cfg.eval, data_cfg.eval_fraction, config.train.seed,
                         data_cfg.limit_train, data_cfg.limit_eval, data_cfg.validation, data_cfg.validation_fraction,
                         spare_test_split=task.spares_test_split(data_cfg.train))
    columns = resolve_columns(task.fields, data_cfg.columns, task.name)
    held_out = {"test": (splits.eval, f"evaluation data ({splits.eval_source})")}
    if splits.validation is not None:
        held_out["validation"] = (splits.validation, f"validation data ({splits.validation_source})")
    check_columns(splits.train, columns, task.required_for(splits.train, columns), f"training data {data_cfg.train}")
    for rows, where in held_out.values():
        check_columns(rows, columns, task.required_for(rows, columns), where)
    try:
        labels = task.label_list(splits.all_train, columns)
    except UserError as problem:
        raise held_out_explained(problem, splits, columns) from None
    label2id = {label: i for i, label in enumerate(labels)} if labels else None
    task.validate(splits.train, columns, label2id, f"training data {data_cfg.train}")
    for rows, where in held_out.values():
        task.validate(rows, columns, label2id, where)
    processor = task.load_processor(checkpoint, config.model.trust_remote_code)
    model_config = read_config(checkpoint, config.model.trust_remote_code)
    check_tokenizer_matches(processor, model_config, checkpoint)
    task = task.bind(model_config)
    if task.processor_auto_class == "AutoTokenizer":
        _check_max_length(config.model.max_length, model_config, config.model.name)
    strategy.check(task, config, model_config)
    selection_for(task, config.train.select_metric)  # a metric the task does not report: refused before the run
    return _Inputs(task, strategy, checkpoint, splits, columns, held_out, labels, label2id, processor)


def _build_model(inputs: _Inputs, config: RunConfig):
    """The strategy's model (its new head seeded by the run's seed), and why the checkpoint's head was replaced."""
    processor, labels = inputs.processor, inputs.labels
    pad_id = getattr(processor, "pad_token_id", None)
    set_seed(config.train.seed)  # the new head's initial weights are part of the run's seed
    model = inputs.strategy.build(inputs.checkpoint, inputs.task, labels, config)
    align_tokenizer_inputs(processor, model)
    head = replaced_head_note(model, labels)
    if head:
        console.print(f"head: new ({head})")
    if getattr(model.config, "pad_token_id", None) is None and pad_id is not None:
        model.config.pad_token_id = pad_id
    return model, head


def _preprocess(inputs: _Inputs, config: RunConfig, accelerator) -> tuple[Any, dict[str, Any]]:
    """The training rows' features and each held-out split's, computed by the main process first (then cached)."""
    task, processor, columns, label2id = inputs.task, inputs.processor, inputs.columns, inputs.label2id
    max_length = config.model.max_length
    with accelerator.main_process_first():
        train_features = task.preprocess(inputs.splits.train, processor, columns, label2id, max_length)
        eval_features = {name: task.preprocess(rows, processor, columns, label2id, max_length)
                         for name, (rows, _) in inputs.held_out.items()}
    return train_features, eval_features


def _announce(inputs: _Inputs, config: RunConfig, accelerator, trainable: int, total: int, requested: str,
              precision_reason: str) -> None:
    """What is about to be trained, on what; the mixed precision chosen by `auto`; the batch when it is not one."""
    splits = inputs.splits
    console.print(
        f"[bold]{inputs.task.name}[/] / {config.strategy} on [bold]{config.model.name}[/]: "
        f"{splits.train.num_rows} training rows, "
        + (f"{splits.validation.num_rows} validation rows ({splits.validation_source}; the best epoch by "
           f"{selection_for(inputs.task, config.train.select_metric).described}), "
           if splits.validation is not None else "no validation split (the last epoch is kept), ")
        + f"test on {splits.eval_source}; "
        f"training {trainable:,} of {total:,} parameters ({percent(trainable, total)})"
    )
    if requested == "auto":  # the choice is stored in config.yaml and metrics.json too
        console.print(f"mixed precision: {config.train.mixed_precision} ({precision_reason})")
    if accelerator.num_processes > 1 or config.train.grad_accum_steps > 1:
        console.print(f"batch: {config.train.batch_size} per process x {accelerator.num_processes} process(es) x "
                      f"{config.train.grad_accum_steps} accumulation step(s) = {global_batch_size(config.train, accelerator)} "
                      "examples per optimizer step")


def _train(inputs: _Inputs, config: RunConfig, model, train_features, eval_features: dict[str, Any], accelerator,
           path: Path, run_dir: RunDirectory, resume: bool):
    """Train in the run's staging folder `path`: the result, and the strategy's training data. A signal that
    stopped the run is said with the command that resumes it."""
    task, strategy, processor, model_dir = inputs.task, inputs.strategy, inputs.processor, path / "model"

    def save_model(unwrapped) -> None:
        # Written beside model/ and renamed: a kill while saving leaves no half model/ (both are
        # inside the run's own staging folder, so replacing them deletes only what this run wrote).
        partial = path / ".model.partial"
        for stale in (partial, model_dir):
            if stale.exists():
                shutil.rmtree(stale)
        try:
            with named_if_disk_full(model_dir, writing=partial):
                strategy.save(unwrapped, partial)
                processor.save_pretrained(partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        partial.rename(model_dir)

    def eval_set(name: str, features) -> EvalSet:
        data = EvalData(examples=inputs.held_out[name][0], features=eval_features[name], columns=inputs.columns,
                        labels=inputs.labels, processor=processor, split=name)
        return EvalSet(features, data)

    try:
        data = strategy.training_data(model, train_features, eval_features, task, processor, config, accelerator)
        result = train(
            model, data.train, data.collator, task=task, optim=config.optim, train_cfg=config.train,
            run_path=path, save_model=save_model, test=eval_set("test", data.evals["test"]),
            validation=eval_set("validation", data.evals["validation"]) if "validation" in data.evals else None,
            resume=resume, accelerator=accelerator,
        )
    except Interrupted as stop:
        message = (f"stopped by {stop.signal_name} at step {stop.step}; checkpoint saved in {path}; "
                   f"continue with: {resume_command(run_dir.destination)}" if stop.saved else
                   f"stopped by {stop.signal_name} at step {stop.step}; no checkpoint "
                   "(train.save_checkpoint=false), so the run cannot be resumed")
        error = UserError(message)
        error.exit_code = stop.exit_code
        raise error from None
    except KeyboardInterrupt:
        hint = " with --resume" if config.train.save_checkpoint else ""
        console.print(f"[yellow]Interrupted.[/] The unfinished run is in {path}; run the same command{hint} to continue.")
        raise
    return result, data


def _metrics(result: TrainResult, feature_seconds: float, parameters: tuple[int, int], config: RunConfig,
             accelerator, splits, head: str | None) -> dict[str, Any]:
    """metrics.json: the test and kept validation scores, how the epoch was kept, speeds, sizes and settings."""
    trainable, total = parameters
    return {
        **result.test_metrics,
        **{f"validation_{k}": v for k, v in result.validation_metrics.items()},
        "kept_epoch": result.kept_epoch,
        "selected_on": result.selected_on,
        "stopped_early": result.stopped_early,
        **({"skipped_batches": result.skipped_batches} if result.skipped_batches else {}),
        "train_samples_per_second": round(result.train_samples_per_second, 3),
        "train_runtime": round(result.train_runtime, 3),
        "eval_samples_per_second": round(result.eval_samples_per_second, 3),
        **({"feature_seconds": round(feature_seconds, 3)} if feature_seconds else {}),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "peak_memory_mb": round(peak_memory_mb(accelerator.device), 1),
        "mixed_precision": config.train.mixed_precision,
        "num_processes": accelerator.num_processes,
        "global_batch_size": global_batch_size(config.train, accelerator),
        "train_rows": splits.train.num_rows,
        **({"validation_rows": splits.validation.num_rows} if splits.validation is not None else {}),
        "eval_rows": splits.eval.num_rows,
        **({"head": f"new ({head})"} if head else {}),
    }


def _write_results(path: Path, metrics: dict[str, Any], inputs: _Inputs, config: RunConfig, model) -> None:
    """metrics.json, loss.png and the model card (README.md) in the run's staging folder."""
    task, splits = inputs.task, inputs.splits
    selection = selection_for(task, config.train.select_metric)
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plotted = write_loss_plot(path, selection.metric, f"{task.name} / {config.strategy} on {config.model.name}",
                              metrics.get("kept_epoch"))
    card = render_model_card(
        config.to_dict(), metrics, splits.train.num_rows, splits.eval.num_rows,
        splits.eval_source, inputs.labels,
        validation=(f"best epoch by {selection.described} on {splits.validation_source}"
                    if splits.validation is not None else "the last epoch (no validation split)"),
        command=command_line(), auto_class=task.auto_class_for(model.config), processor_class=task.processor_auto_class,
        loss_plot="loss.png" if plotted else None,
    )
    (path / "README.md").write_text(card)


def held_out_explained(problem: UserError, splits, columns: dict[str, str]) -> UserError:
    """A label set too small for training because the seeded test hold-out took a label's only rows:
    say so, instead of blaming the file for what the split did."""
    label = columns.get("label")
    if "held out" not in splits.eval_source or label not in splits.eval.column_names:
        return problem
    from ftcli.data.labels import label_key

    seen = {label_key(v) for v in splits.all_train[label]}
    only_held_out = sorted({label_key(v) for v in splits.eval[label]} - seen)
    if not only_held_out:
        return problem
    return UserError(f"{problem}: label(s) {', '.join(map(repr, only_held_out))} occur only in the rows held out for "
                     f"testing ({splits.eval_source}); give more rows of each label, or test data with --test DATA")


def _put_in_place(run_dir: RunDirectory, config: RunConfig) -> RunResult:
    """Finish a run that was killed after everything was written: checkpoints pruned, moved into place."""
    from accelerate import PartialState

    metrics = json.loads((run_dir.staging / "metrics.json").read_text())
    final = run_dir.destination
    if PartialState().is_main_process:
        run_dir.create(config.to_dict())  # takes the lock; a resume clears nothing
        try:
            final = run_dir.finalize(config.train.keep_checkpoints)
        finally:
            run_dir.release()
    barrier()
    console.print("The run had finished training; it is now in place (nothing was recomputed).")
    return RunResult(path=final, metrics=metrics)


def replaced_head_note(model, labels: list[str] | None) -> str | None:
    """Why the checkpoint's own task head was replaced by a new one (None when it was not)."""
    replaced = getattr(model, "ftcli_replaced_head", None) or {}
    if not replaced:
        return None
    key, (theirs, ours) = sorted(replaced.items())[-1]  # the weight matrix (".weight" sorts after ".bias")
    why = f"{key} is {list(theirs)} in the checkpoint but the task needs {list(ours)}"
    return why + (f": {len(labels)} labels in the data" if labels else "")


def write_loss_plot(run_path: Path, headline: str, title: str, kept_epoch: int | None = None) -> bool:
    """loss.png from the run's log.jsonl (training loss per logging step, validation loss and metric per epoch),
    with the epoch whose weights are model/ marked."""
    from ftcli.plots import loss_plot

    log = run_path / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    return loss_plot(records, headline, run_path / "loss.png", title, kept_epoch)


def _check_max_length(max_length: int, model_config, model_name: str) -> None:
    """Inputs longer than the model's position table fail deep in the forward pass; refuse early."""
    positions = getattr(model_config, "max_position_embeddings", None) or getattr(model_config, "n_positions", None)
    if isinstance(positions, int) and max_length > positions:
        raise UserError(f"--max-length {max_length} is more than {model_name} has positions for ({positions}); "
                        f"use --max-length {positions} or less")
