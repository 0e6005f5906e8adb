"""`ftcli prompt`: evaluate a pretrained model by in-context learning, with no weight update.

    rows to evaluate + a pool of demonstrations (never the evaluated rows)
      -> prompts: instruction, K solved demonstrations, the query (chat template if any)
      -> answers: rank the label words (causal LM), fill a [MASK] (encoder, cloze), or
         generate greedily up to a stop sequence and parse the text
      -> the task's metrics, as `ftcli evaluate` prints them

This module runs those steps; the rows and demonstrations are in `rows`, the templates in
`templates`, and reading the model's answers in `scoring`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate import PartialState

from ftcli import assets
from ftcli.config import RunConfig, check_ranges
from ftcli.data.columns import check_columns, file_row_numbers, resolve_columns
from ftcli.data.labels import check_one_label_per_row
from ftcli.data.sources import load_single, load_train_split
from ftcli.distributed import sharded, world_size
from ftcli.errors import UserError
from ftcli.models.loading import is_masked_lm_encoder, load_model, load_tokenizer, read_config
from ftcli.paths import check_huggingface_caches
from ftcli.precision import half_dtype, resolve_mixed_precision
from ftcli.progress import console, warn
from ftcli.prompting import stats
from ftcli.prompting.calibration import resolve_method
from ftcli.prompting.demos import exclude_evaluated
from ftcli.prompting.formats import entity_types, format_for
from ftcli.prompting.rows import canonical_rows, choose_demonstrations, gold, label_set, row_key
from ftcli.prompting.scoring import describe_prior, generate, label_scores, predict_labels, rounded
from ftcli.prompting.templates import render
from ftcli.tasks import get_task


@dataclass
class PromptRun:
    metrics: dict[str, float]
    records: list[dict[str, Any]]
    settings: dict[str, Any]
    by_calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    """With `compare_calibrations`: per method, the metrics and predicted-label counts, from the same scores."""


@dataclass
class Scorer:
    """The model that answers the prompts, and how it answers them."""
    model: Any
    tokenizer: Any
    scoring: str
    """"rank" (label words), "cloze" (an encoder fills a [MASK]) or "generate"."""
    chat: bool
    """Prompts are wrapped in the tokenizer's chat template."""
    device: torch.device
    precision: str
    precision_reason: str


def run_prompt(config: RunConfig, data: str, demos: str | None, shots: int, limit: int | None,
               batch_size: int, compare_calibrations: tuple[str, ...] = ()) -> PromptRun:
    settings = config.prompt
    if shots < 0:
        raise UserError(f"--shots must be 0 or more, got {shots}")
    check_ranges(config)
    check_huggingface_caches()  # the metric is loaded after the model pass
    format_for(config.task)  # a task ftcli prompt does not answer is refused before any data loads
    task = get_task(config.task)
    columns = resolve_columns(task.fields, config.data.columns, task.name)
    rows, where = evaluated_rows(data, limit, task, columns)
    pool = demonstration_pool(demos or (data if data in assets.DATASETS else None), shots, rows, task, columns)
    prompt_format = format_for(config.task, entity_types(rows + pool))
    scorer = load_scorer(config, prompt_format)

    demos_per_row = choose_demonstrations(pool, rows, shots, settings, config.train.seed)
    prompts = [render(prompt_format, settings, row, row_demos, scorer.tokenizer, scorer.chat, scorer.scoring)
               for row, row_demos in zip(rows, demos_per_row)]
    console.print(f"[bold]{task.name}[/] in-context on [bold]{config.model.name}[/]: {len(rows)} rows from {where}, "
                  f"{shots} shot(s), scoring: {scorer.scoring}{', chat template' if scorer.chat else ''}; "
                  f"precision: {'float32' if scorer.precision == 'no' else scorer.precision} ({scorer.precision_reason})")
    start = time.perf_counter()
    predictions, outputs, calibration, by_calibration = answer(scorer, prompt_format, settings, rows, pool,
                                                               demos_per_row, prompts, shots, batch_size,
                                                               compare_calibrations)
    seconds = time.perf_counter() - start
    metrics = prompt_format.metrics(predictions, rows, settings)
    metrics.update({"eval_rows": len(rows), "seconds": round(seconds, 3)})
    records = [{"prompt": p.prefix + p.query, **out, "prediction": prediction, "gold": gold(prompt_format, row, settings)}
               for p, out, prediction, row in zip(prompts, outputs, predictions, rows)]
    described = describe_run(config, data, demos, shots, scorer, rows, predictions, calibration)
    comparisons = {method: {"metrics": prompt_format.metrics(method_predictions, rows, settings),
                            "predicted": stats.distribution(method_predictions)}
                   for method, (_, method_predictions) in by_calibration.items() if method in compare_calibrations}
    return PromptRun(metrics=metrics, records=records, settings=described, by_calibration=comparisons)


def evaluated_rows(data: str, limit: int | None, task, columns: dict[str, str]) -> tuple[list[dict], str]:
    """The rows to evaluate (the first `limit`), keyed by the task's field names, and where they came from."""
    dataset, where = load_single(data)
    if limit is not None:
        dataset = dataset.select(range(min(limit, dataset.num_rows)))
    check_columns(dataset, columns, task.required_for(dataset, columns), where)
    check_class_labels(dataset, columns, where)
    return canonical_rows(dataset, columns), where


def check_class_labels(dataset, columns: dict[str, str], where: str) -> None:
    """A prompt chooses one label per row: label sets and regression numbers are refused, by row."""
    column = columns.get("label")
    if column in dataset.column_names:
        check_one_label_per_row(dataset[column], where, column, file_row_numbers(dataset),
                                "a prompt chooses one label per row: fine-tune for these (--strategy full or lora)")


def demonstration_pool(source: str | None, shots: int, rows: list[dict], task, columns: dict[str, str]) -> list[dict]:
    """The rows demonstrations are drawn from (`source`'s training rows, the evaluated rows left out);
    none at 0 shots."""
    if shots <= 0:
        return []
    if source is None:
        raise UserError(f"--shots {shots} needs demonstrations: give --demos DATA (a file or alias)")
    pool_dataset = load_train_split(source)
    check_columns(pool_dataset, columns, task.required_for(pool_dataset, columns), f"demos {source}")
    check_class_labels(pool_dataset, columns, f"demos {source}")
    pool = exclude_evaluated(canonical_rows(pool_dataset, columns), rows, row_key)
    if len(pool) < shots:
        raise UserError(f"demos {source} has {len(pool)} usable rows (evaluated rows excluded); "
                        f"--shots {shots} needs at least that many")
    return pool


def load_scorer(config: RunConfig, prompt_format) -> Scorer:
    """The model and tokenizer on this process's device, and the way the model answers this task."""
    checkpoint = assets.resolve_model(config.model.name)
    model_config = read_config(checkpoint, config.model.trust_remote_code)
    scoring = "cloze" if is_masked_lm_encoder(model_config) else prompt_format.scoring
    if scoring == "cloze" and prompt_format.scoring != "rank":
        raise UserError(f"{config.model.name} is an encoder: it answers {config.task} prompts only by filling "
                        "a [MASK] for classification or nli; use a causal LM (e.g. --model smollm2)")
    tokenizer = load_tokenizer(checkpoint, config.model.trust_remote_code)
    auto_class = "AutoModelForMaskedLM" if scoring == "cloze" else "AutoModelForCausalLM"
    model = load_model(checkpoint, auto_class, config.model.trust_remote_code).eval()
    untrained = getattr(model, "ftcli_new_weights", [])
    if untrained:
        warn(f"{config.model.name} has no trained {auto_class.removeprefix('AutoModelFor')} "
             f"head ({len(untrained)} weights, e.g. {untrained[0]}, start random); its answers are "
             "close to chance")
    # Each process of a launched job scores its share of the prompts (`sharded`), on its own device.
    device = PartialState().device if world_size() > 1 else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision, why = resolve_mixed_precision(config.train.mixed_precision)
    if precision == "fp16" and device.type != "cuda":
        raise UserError("--mixed-precision fp16 needs a GPU; on a CPU use bf16 or no")
    # Inference only: the weights themselves in half precision (scores are read in float32).
    model.to(device, dtype=half_dtype(precision) or torch.float32)
    chat = config.prompt.chat_template and bool(getattr(tokenizer, "chat_template", None)) and scoring != "cloze"
    return Scorer(model, tokenizer, scoring, chat, device, precision, why)


def answer(scorer: Scorer, prompt_format, settings, rows: list[dict], pool: list[dict], demos_per_row, prompts,
           shots: int, batch_size: int, compare_calibrations: tuple[str, ...]):
    """Each row's prediction and what `--output` records beside it; for label scores also the calibration
    used (None when generating) and, per calibration method, the calibrated scores and predictions."""
    texts = [p.prefix + p.query for p in prompts]
    if scorer.scoring == "generate":
        generated = sharded(lambda part: generate(scorer.model, scorer.tokenizer, part, settings, batch_size,
                                                  scorer.device), texts)
        predictions = [prompt_format.parse(text, row, settings) for text, row in zip(generated, rows)]
        return predictions, [{"generated": text} for text in generated], None, {}
    labels = label_set(rows, pool, settings)
    method = resolve_method(settings.calibrate, shots)
    methods = list(dict.fromkeys([method, *compare_calibrations]))
    raw, priors, groups = label_scores(scorer.model, scorer.tokenizer, prompt_format, settings, rows, demos_per_row,
                                       prompts, labels, scorer.chat, scorer.scoring, methods, batch_size, scorer.device)
    by_calibration = {method: predict_labels(raw, priors.get(method), groups, labels, method) for method in methods}
    calibrated, predictions = by_calibration[method]
    outputs = [{"scores": rounded(labels, row), **({"calibrated": rounded(labels, fixed)} if method != "none" else {})}
               for row, fixed in zip(raw, calibrated)]
    calibration = {**describe_prior(method, priors.get(method), labels), "setting": settings.calibrate}
    return predictions, outputs, calibration, by_calibration


def describe_run(config: RunConfig, data: str, demos: str | None, shots: int, scorer: Scorer, rows: list[dict],
                 predictions: list, calibration: dict | None) -> dict[str, Any]:
    """The run's settings as `--output` records them; with label scores, also the calibration and the
    predicted and gold label counts (a warning when one label takes nearly every prediction)."""
    settings = config.prompt
    length_normalised = settings.length_normalize and scorer.scoring == "rank"
    described = {"model": config.model.name, "task": config.task, "data": data, "shots": shots,
                 "demo_seed": config.train.seed, "demos": demos or (data if shots else None),
                 "scoring": scorer.scoring + (" (length-normalised)" if length_normalised else ""),
                 "chat_template": scorer.chat, "template": asdict(settings), "mixed_precision": scorer.precision,
                 "mixed_precision_reason": scorer.precision_reason}
    if calibration is not None:
        described["calibration"] = calibration
        described["distributions"] = {"predicted": stats.distribution(predictions),
                                      "gold": stats.distribution([row["label"] for row in rows])}
        label, share = stats.dominant_share(predictions)
        if share > stats.SKEW_WARNING:
            warn(f"{share:.0%} of the predictions are {label!r}: the model barely "
                 "tells the labels apart (try prompt.calibrate, other label words or more shots)")
    return described
