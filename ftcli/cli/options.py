"""The options every command shares, defined once: one name per concept (DESIGN.md section 3), in the
same help panels everywhere, in this order: Data, Model, Training, Output, Launch.

| concept | name |
|---|---|
| a folder the command writes | --output-dir / -o |
| a file the command writes | --output FILE (- = stdout) |
| training / validation / test data | --train, --validation, --test |
| the one data set of a command that reads one | --data |
| row limits | --limit-train, --limit-test; --limit with one data set |
| columns | --column FIELD=NAME |
| any config key | --set key=value |

Old names (--eval, --limit-eval, predict --file, export --to, --out) still work for a release, hidden from
--help, with a warning naming the new one (`renamed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DATA, MODEL, TRAINING, OUTPUT = "Data", "Model", "Training", "Output"  # Launch: ftcli.launch.PANEL

# Data
ColumnOpt = Annotated[Optional[list[str]], typer.Option("--column", help="Map a task field to a column: FIELD=NAME (repeatable), e.g. text=review.", rich_help_panel=DATA)]
TrainOpt = Annotated[Optional[str], typer.Option("--train", help="Training data: a file (csv, tsv, jsonl, json, parquet, conll), a folder (a save_to_disk dataset too; PATH@split picks a split), a catalogue alias or a Hub dataset NAME[:CONFIG][@SPLIT]. Default: the recipe's.", rich_help_panel=DATA)]
ValidationOpt = Annotated[Optional[str], typer.Option("--validation", help="Validation data that chooses the best epoch (or --set data.validation_fraction=0.1). Default: none; the last epoch is kept.", rich_help_panel=DATA)]
TestOpt = Annotated[Optional[str], typer.Option("--test", help="Test data, scored once with the kept model. Default: the alias's test split, or a seeded held-out fraction of a file.", rich_help_panel=DATA)]
DataOpt = Annotated[Optional[str], typer.Option("--data", help="The data: a file (csv, tsv, jsonl, json, parquet, conll) or a catalogue alias (its test split).", rich_help_panel=DATA)]
LimitTrainOpt = Annotated[Optional[int], typer.Option("--limit-train", help="Use only N (seeded-shuffled) training rows.", rich_help_panel=DATA)]
LimitTestOpt = Annotated[Optional[int], typer.Option("--limit-test", help="Score only the first N test rows (faster, noisier).", rich_help_panel=DATA)]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="Use only the first N rows.", rich_help_panel=DATA)]
OLD_NAMES = {"--eval": "--test", "--limit-eval": "--limit-test", "--file": "--data", "--to": "--output-dir",
             "--out": "--output-dir"}
# Old names, hidden; `renamed` turns them into the new ones with a warning.
OldEvalOpt = Annotated[Optional[str], typer.Option("--eval", hidden=True, help="Renamed --test.")]
OldLimitEvalOpt = Annotated[Optional[int], typer.Option("--limit-eval", hidden=True, help="Renamed --limit-test.")]
OldOutOpt = Annotated[Optional[Path], typer.Option("--out", hidden=True, help="Renamed --output-dir.")]

# Model
ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="Catalogue alias (`ftcli models ls`), checkpoint directory, or Hub id. Default: the recipe's.", rich_help_panel=MODEL)]
TaskOpt = Annotated[Optional[str], typer.Option("--task", help="Task name; read from the run directory when omitted.", rich_help_panel=MODEL)]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Examples per forward pass.", rich_help_panel=MODEL)]
InferenceMaxLengthOpt = Annotated[Optional[int], typer.Option("--max-length", help="Longest input in tokens. Default: the run's; 512 for a bare checkpoint.", rich_help_panel=MODEL)]

# Training: each maps to one config key; unset, the recipe's value holds.
RecipeOpt = Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML to start from. Default: recipes/TASK/STRATEGY.yaml (`ftcli recipes ls`).", rich_help_panel=TRAINING)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set optim.lr=3e-5 (repeatable; `ftcli recipes show` lists the keys).", rich_help_panel=TRAINING)]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", help="Passes over the training data. Default: the recipe's.", rich_help_panel=TRAINING)]
LrOpt = Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate. Default: the recipe's.", rich_help_panel=TRAINING)]
TrainBatchSizeOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Examples per device per step. Default: the recipe's.", rich_help_panel=TRAINING)]
MaxLengthOpt = Annotated[Optional[int], typer.Option("--max-length", help="Longest tokenized input (pretrain: tokens per block). Default: the recipe's.", rich_help_panel=TRAINING)]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Random seed. Default: the recipe's (42).", rich_help_panel=TRAINING)]
MixedPrecisionOpt = Annotated[Optional[str], typer.Option("--mixed-precision", help="auto (bf16 where the hardware runs it fast: a GPU with bf16, a CPU with AMX or AVX-512 BF16; float32 elsewhere), no, bf16 or fp16.", rich_help_panel=TRAINING)]

# Output
OutputFileOpt = Annotated[Optional[Path], typer.Option("--output", help="Also write the results to this file: JSON, or for predict CSV / TSV / JSONL by the extension (- writes JSON to stdout); never one of the command's inputs.", rich_help_panel=OUTPUT)]
OverwriteOutputOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --output file that an earlier ftcli command wrote (never another file).", rich_help_panel=OUTPUT)]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --output-dir from its newest checkpoint (mid-epoch too).", rich_help_panel=OUTPUT)]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace the ftcli run in --output-dir once the new one finishes (never a folder ftcli did not create).", rich_help_panel=OUTPUT)]
ReportToOpt = Annotated[Optional[str], typer.Option("--report-to", help="Also log to an experiment tracker: tensorboard (event files in the run's logs/), wandb or mlflow (when installed), or none.", rich_help_panel=OUTPUT)]


def output_dir_option(help: str, required: bool = False):
    """`--output-dir/-o`, a folder the command writes; the help says what goes there and the default."""
    kind = Path if required else Optional[Path]
    return Annotated[kind, typer.Option("--output-dir", "-o", help=help, rich_help_panel=OUTPUT)]


def renamed(new_value, old_value, old: str, new: str):
    """The value of an option given under its old name (one release of grace, with a warning)."""
    from ftcli.errors import UserError
    from ftcli.progress import warn

    if old_value is None:
        return new_value
    if new_value is not None:
        raise UserError(f"{old} is the old name of {new}: give {new} only")
    warn(f"{old} is now {new}; the old name will stop working in the next release")
    return old_value


def test_options(test, eval, limit_test, limit_eval) -> tuple:
    """(--test, --limit-test), either given under its old name (--eval, --limit-eval)."""
    return renamed(test, eval, "--eval", "--test"), renamed(limit_test, limit_eval, "--limit-eval", "--limit-test")


def checked_run(command: str, task: str, strategy: str | None, recipe: Path | None,
                paths: dict) -> tuple[str, str | None, Path | None]:
    """`run_file`'s (task, strategy, recipe) for a command that trains a task, with the task, the strategy and the
    data and model `paths` checked before torch is imported: mistakes on the command line fail at once."""
    from ftcli.preflight import check_paths
    from ftcli.strategies import check_strategy_name
    from ftcli.tasks import check_task_name

    task, strategy, recipe = run_file(task, strategy, recipe, command)
    check_task_name(task)
    check_strategy_name(strategy or "full")
    check_paths(paths)
    return task, strategy, recipe


def required(value, flag: str):
    """An option typer cannot require itself (its old name may stand in for it)."""
    from ftcli.errors import UserError

    if value is None:
        raise UserError(f"missing option {flag}")
    return value


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
