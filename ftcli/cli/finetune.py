"""`ftcli finetune TASK`: adapt a pretrained model to a task and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.output import print_metrics
from ftcli.cli.options import ColumnOpt, column_sets, run_file, EpochsOpt, LimitEvalOpt, LimitTrainOpt, MaxLengthOpt, MixedPrecisionOpt, ReportToOpt, ModelOpt, OverwriteOpt, ResumeOpt, SeedOpt, TrainBatchSizeOpt


def finetune(
    task: Annotated[str, typer.Argument(help="classification, nli, ner, qa, generation or image-classification; or a config file (run.yaml) that holds the task and the rest of the run.")],
    strategy: Annotated[Optional[str], typer.Option("--strategy", "-s", help="How pretrained weights are reused: full, feature-extraction, prompt-tuning, lora.")] = None,
    model: ModelOpt = None,
    train: Annotated[Optional[str], typer.Option("--train", help="Training data: file (csv, tsv, jsonl, json, parquet) or catalogue alias.", rich_help_panel="Data")] = None,
    eval: Annotated[Optional[str], typer.Option("--eval", help="Test data, scored once with the kept model. Default: the alias's test split or a seeded held-out fraction.", rich_help_panel="Data")] = None,
    validation: Annotated[Optional[str], typer.Option("--validation", help="Validation data that chooses the best epoch (or --set data.validation_fraction=0.1). Default: none; the last epoch is kept.", rich_help_panel="Data")] = None,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML to start from. Default: recipes/TASK/STRATEGY.yaml.", rich_help_panel="Training")] = None,
    column: ColumnOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set optim.lr=3e-5 (repeatable). Training batches are shuffled; train.group_by_length=true groups rows of similar length (less padding, but it trades accuracy: see the README).", rich_help_panel="Training")] = None,
    epochs: EpochsOpt = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate of the pretrained body. Default: the recipe's.", rich_help_panel="Training")] = None,
    head_lr: Annotated[Optional[float], typer.Option("--head-lr", help="Learning rate of the new head (default: --lr).", rich_help_panel="Training")] = None,
    batch_size: TrainBatchSizeOpt = None,
    max_length: MaxLengthOpt = None,
    seed: SeedOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_eval: LimitEvalOpt = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Run directory. Default: runs/<task>-<strategy>-<model>-<time>.", rich_help_panel="Output")] = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    mixed_precision: MixedPrecisionOpt = None,
    report_to: ReportToOpt = None,
) -> None:
    """Fine-tune MODEL on TRAIN for TASK; prints the test metrics and writes a run directory
    (model/, config.yaml, metrics.json, log.jsonl, checkpoints/, README.md).

    The best epoch is chosen on validation data only (--validation or data.validation_fraction);
    without it the last epoch is kept. Checkpoints every train.save_every steps and at each epoch
    end; Ctrl-C or SIGTERM saves one and stops, and --resume continues from it."""
    from ftcli.config import build_config, load_recipe
    from ftcli.progress import console
    from ftcli.recipe_store import recipe_path
    from ftcli.runner import run
    from ftcli.strategies import get_strategy
    from ftcli.tasks import get_task

    task, strategy, recipe = run_file(task, strategy, recipe, "finetune")
    # Unknown names and unsupported pairs fail here, naming what exists, before any recipe lookup.
    get_strategy(strategy or "full").check_task(get_task(task))
    recipe_file = recipe or recipe_path(f"{task}/{strategy or 'full'}")
    config = build_config(
        recipe=load_recipe(recipe_file),
        sets=[*(set_ or []), *column_sets(column)],
        flags={
            "task": task, "strategy": strategy, "model.name": model, "data.train": train,
            "data.eval": eval, "data.validation": validation, "train.epochs": epochs, "optim.lr": lr, "optim.head_lr": head_lr,
            "train.batch_size": batch_size, "model.max_length": max_length, "train.seed": seed,
            "data.limit_train": limit_train, "data.limit_eval": limit_eval,
            "output_dir": str(output_dir) if output_dir else None,
            "train.mixed_precision": mixed_precision, "train.report_to": report_to,
        },
    )
    result = run(config, overwrite=overwrite, resume=resume)
    print_metrics(result.metrics, title=f"{config.task} / {config.strategy}: test metrics "
                                        f"(epoch {result.metrics['kept_epoch']}, {result.metrics['selected_on']})")
    console.print(f"Run saved to [bold]{result.path}[/]")
    needs = get_strategy(config.strategy).plain_transformers
    if needs:
        console.print(f"[yellow]note:[/] {needs}", soft_wrap=True, highlight=False)
