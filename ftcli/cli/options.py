"""Option aliases shared by several commands (huggingface_hub cli style)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="Catalogue alias (`ftcli models ls`), checkpoint directory, or Hub id.")]
TaskOpt = Annotated[Optional[str], typer.Option("--task", help="Task name; read from the run directory when omitted.")]
OutputFileOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the results to this file: JSON, or for predict CSV / TSV / JSONL by the extension (- writes JSON to stdout); never one of the command's inputs.")]
OverwriteOutputOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --output file that an earlier ftcli command wrote (never another file).")]
ColumnOpt = Annotated[Optional[list[str]], typer.Option("--column", help="Map a task field to a column: FIELD=NAME (repeatable), e.g. text=review.", rich_help_panel="Data")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Examples per forward pass.")]

# The training commands' shared flags (finetune, pretrain, distill): each maps to one config key.
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set optim.lr=3e-5 (repeatable).", rich_help_panel="Training")]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", help="Passes over the training data.", rich_help_panel="Training")]
TrainBatchSizeOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Examples per device per step.", rich_help_panel="Training")]
MaxLengthOpt = Annotated[Optional[int], typer.Option("--max-length", help="Longest tokenized input (pretrain: tokens per block).", rich_help_panel="Training")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Random seed.", rich_help_panel="Training")]
LimitTrainOpt = Annotated[Optional[int], typer.Option("--limit-train", help="Use only N (seeded-shuffled) training rows.", rich_help_panel="Data")]
LimitEvalOpt = Annotated[Optional[int], typer.Option("--limit-eval", help="Use only the first N evaluation rows.", rich_help_panel="Data")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --output-dir from its newest checkpoint (mid-epoch too).", rich_help_panel="Output")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace the ftcli run in --output-dir once the new one finishes (never a folder ftcli did not create).", rich_help_panel="Output")]
ReportToOpt = Annotated[Optional[str], typer.Option("--report-to", help="Also log to an experiment tracker: tensorboard (event files in the run's logs/), wandb or mlflow (when installed), or none.", rich_help_panel="Output")]
MixedPrecisionOpt = Annotated[Optional[str], typer.Option("--mixed-precision", help="auto (bf16 where the hardware runs it fast: a GPU with bf16, a CPU with AMX or AVX-512 BF16; float32 elsewhere), no, bf16 or fp16.", rich_help_panel="Training")]


def parse_columns(items: list[str] | None) -> dict[str, str]:
    from ftcli.errors import UserError

    mapping = {}
    for item in items or []:
        field, sep, name = item.partition("=")
        if not sep or not field or not name:
            raise UserError(f"--column expects FIELD=NAME, got {item!r}")
        mapping[field] = name
    return mapping


def column_sets(items: list[str] | None) -> list[str]:
    """--column FIELD=NAME as the `--set data.columns.FIELD=NAME` it stands for (one syntax for every command)."""
    return [f"data.columns.{field}={name}" for field, name in parse_columns(items).items()]


def run_file(task: str, strategy: str | None, recipe: Path | None, command: str) -> tuple[str, str | None, Path | None]:
    """(task, strategy, recipe) for `ftcli COMMAND TASK`: TASK may be a config file (.yaml / .yml) that holds the task
    and everything else of the run; a --recipe whose `task:` or `strategy:` disagrees with the command line is
    refused, never silently overridden."""
    from ftcli.config import load_recipe
    from ftcli.errors import UserError

    if task.endswith((".yaml", ".yml")):
        if recipe is not None:
            raise UserError(f"give the run's config file either as the task ({task}) or as --recipe, not both")
        recipe = Path(task)
        settings = load_recipe(recipe)
        if not settings.get("task"):
            raise UserError(f"{recipe} has no `task:`; add one, or run `ftcli {command} TASK --recipe {recipe}`")
        return str(settings["task"]), strategy or settings.get("strategy"), recipe
    if recipe is not None:
        settings = load_recipe(recipe)
        for key, given in (("task", task), ("strategy", strategy)):
            theirs = settings.get(key)
            if given is not None and theirs is not None and str(theirs) != given:
                raise UserError(f"recipe {recipe} is for {key} {theirs}, but the command says {given}: run "
                                f"`ftcli {command} {recipe}` (its settings), or change `{key}:` in it")
        strategy = strategy or settings.get("strategy")
    return task, strategy, recipe


def check_batch_size(batch_size: int) -> None:
    """A batch of 0 (or fewer) examples would make the DataLoader raise deep inside evaluation."""
    from ftcli.errors import UserError

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
