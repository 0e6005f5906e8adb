"""`ftcli prompt TASK --model M --data DATA --shots K`: in-context learning, no training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.options import (DATA, MODEL, BatchSizeOpt, ColumnOpt, ModelOpt, OutputFileOpt, OverwriteOutputOpt, check_batch_size,
                               column_sets)


def prompt(
    task: Annotated[str, typer.Argument(help="classification, nli, ner, qa or generation.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Rows to evaluate: a file or a catalogue alias (its test split). Default: the recipe's (below); the command names it when used.", rich_help_panel=DATA)] = None,
    demos: Annotated[Optional[str], typer.Option("--demos", help="Where demonstrations come from (default: the alias's training split); evaluated rows are never used.", rich_help_panel=DATA)] = None,
    column: ColumnOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Evaluate only the first N rows. Default: every row of --data.", rich_help_panel=DATA)] = None,
    model: ModelOpt = None,
    shots: Annotated[int, typer.Option("--shots", "-k", help="Solved demonstrations before each query (0 = zero-shot).", rich_help_panel=MODEL)] = 0,
    template: Annotated[Optional[Path], typer.Option("--template", help="A YAML file of prompt.* settings (instruction, query, answer, separator, label_words...).", rich_help_panel=MODEL)] = None,
    batch_size: BatchSizeOpt = 8,
    mixed_precision: Annotated[Optional[str], typer.Option("--mixed-precision", help="auto (bf16 where the hardware runs it fast), no, bf16 or fp16.", rich_help_panel=MODEL)] = None,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML. Default: recipes/TASK/in-context.yaml.", rich_help_panel=MODEL)] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. prompt.instruction=\"...\" (repeatable).", rich_help_panel=MODEL)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for drawing demonstrations.", rich_help_panel=MODEL)] = None,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
) -> None:
    """Evaluate a pretrained model zero-, one- or few-shot: the task is described in the prompt,
    with K solved examples before each query, and no weight changes. Prints the same metrics
    as `ftcli evaluate`; --output also writes every prompt, the scores or generations and the
    parsed answers."""
    from ftcli.cli.output import check_output, print_defaults, print_metrics, write_json
    from ftcli.preflight import check_paths
    from ftcli.tasks import check_task_name

    check_task_name(task)
    check_batch_size(batch_size)
    check_paths({"--data": data, "--demos": demos, "--template": template, "--model": model})
    check_output(output, overwrite, [data, demos, template, recipe])
    from ftcli.config import build_config, load_recipe
    from ftcli.prompting.formats import format_for
    from ftcli.prompting.runner import run_prompt
    from ftcli.recipe_store import recipe_path

    format_for(task)  # tasks prompting does not serve fail here, naming the supported ones
    settings = load_recipe(recipe or recipe_path(f"{task}/in-context"))
    if template is not None:  # a template file replaces the recipe's prompt.* keys it names
        overrides = load_recipe(template)
        settings["prompt"] = {**settings.get("prompt", {}), **overrides.get("prompt", overrides)}
    config = build_config(
        recipe=settings,
        sets=[*(set_ or []), *column_sets(column)],
        flags={"task": task, "model.name": model, "data.train": data, "train.seed": seed,
               "train.mixed_precision": mixed_precision},
    )
    if data is None:
        print_defaults({"--data": config.data.train}, f"{'the first ' + str(limit) + ' test rows' if limit else 'every test row'}; "
                       "--data and --limit choose")
    result = run_prompt(config, data or config.data.train, demos, shots, limit, batch_size)
    print_metrics(result.metrics, title=f"{config.task} / in-context ({shots}-shot, {result.settings['scoring']}) "
                                        f"on {config.model.name}", output=output)
    print_label_summary(result.settings)
    write_json(output, {**result.settings, "metrics": result.metrics, "examples": result.records})


def print_label_summary(settings: dict) -> None:
    """Calibration and the predicted-label counts beside the gold ones (classification, NLI)."""
    from ftcli.progress import console

    if "calibration" not in settings:
        return
    calibration = settings["calibration"]
    prior = ", ".join(f"{label} {value:.3f}" for label, value in calibration.get("prior", {}).items())
    console.print(f"calibration: {calibration['method']}" + (f" (prior: {prior})" if prior else ""))
    predicted, gold = settings["distributions"]["predicted"], settings["distributions"]["gold"]
    console.print("predicted / gold labels: " + ", ".join(
        f"{label} {predicted.get(label, 0)}/{gold.get(label, 0)}" for label in sorted({*predicted, *gold})))

