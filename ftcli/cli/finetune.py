"""`ftcli finetune TASK`: adapt a pretrained model to a task and write a run directory."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ftcli.cli.output import print_defaults, print_metrics
from ftcli.cli.options import (MODEL, TRAINING, ColumnOpt, EpochsOpt, LimitTestOpt, LimitTrainOpt, MaxLengthOpt,
                               MixedPrecisionOpt, ModelOpt, OldEvalOpt, OldLimitEvalOpt, OverwriteOpt, RecipeOpt,
                               ReportToOpt, ResumeOpt, SeedOpt, TestOpt, TrainBatchSizeOpt, TrainOpt, ValidationOpt,
                               checked_run, column_sets, output_dir_option, test_options)


RunDirOpt = output_dir_option("Run directory. Default: runs/<task>-<strategy>-<model>-<time>.")

def finetune(
    task: Annotated[str, typer.Argument(help="classification, nli, ner, qa, generation or image-classification; or a config file (run.yaml) that holds the task and the rest of the run.")],
    train: TrainOpt = None,
    validation: ValidationOpt = None,
    test: TestOpt = None,
    column: ColumnOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_test: LimitTestOpt = None,
    model: ModelOpt = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", "-s", help="How pretrained weights are reused: full, feature-extraction, prompt-tuning, lora, contrastive. Default: full.", rich_help_panel=MODEL)] = None,
    max_length: MaxLengthOpt = None,
    recipe: RecipeOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set optim.lr=3e-5 (repeatable). Training batches are shuffled; train.group_by_length=true groups rows of similar length (less padding, but it trades accuracy: see the README).", rich_help_panel=TRAINING)] = None,
    epochs: EpochsOpt = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate of the pretrained body. Default: the recipe's.", rich_help_panel=TRAINING)] = None,
    head_lr: Annotated[Optional[float], typer.Option("--head-lr", help="Learning rate of the new head. Default: --lr.", rich_help_panel=TRAINING)] = None,
    batch_size: TrainBatchSizeOpt = None,
    seed: SeedOpt = None,
    mixed_precision: MixedPrecisionOpt = None,
    output_dir: RunDirOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    report_to: ReportToOpt = None,
    eval: OldEvalOpt = None,
    limit_eval: OldLimitEvalOpt = None,
) -> None:
    """Fine-tune MODEL on TRAIN for TASK; prints the test metrics and writes a run directory
    (model/, config.yaml, metrics.json, log.jsonl, checkpoints/, README.md).

    The best epoch is chosen on validation data only (--validation or data.validation_fraction);
    without it the last epoch is kept. Checkpoints every train.save_every steps and at each epoch
    end; Ctrl-C or SIGTERM saves one and stops, and --resume continues from it."""
    test, limit_test = test_options(test, eval, limit_test, limit_eval)
    # Mistakes the command line shows fail here, in a fraction of a second: torch is not imported yet.
    task, strategy, recipe = checked_run("finetune", task, strategy, recipe,
                                         {"--train": train, "--validation": validation, "--test": test, "--model": model})

    from ftcli.config import build_config, load_recipe
    from ftcli.progress import console
    from ftcli.recipe_store import recipe_path
    from ftcli.runner import run
    from ftcli.strategies import get_strategy
    from ftcli.tasks import get_task

    # Unsupported task x strategy pairs fail here, naming what exists, before any recipe lookup.
    get_strategy(strategy or "full").check_task(get_task(task))
    recipe_file = recipe or recipe_path(f"{task}/{strategy or 'full'}")
    config = build_config(
        recipe=load_recipe(recipe_file),
        sets=[*(set_ or []), *column_sets(column)],
        flags={
            "task": task, "strategy": strategy, "model.name": model, "data.train": train,
            "data.eval": test, "data.validation": validation, "train.epochs": epochs, "optim.lr": lr, "optim.head_lr": head_lr,
            "train.batch_size": batch_size, "model.max_length": max_length, "train.seed": seed,
            "data.limit_train": limit_train, "data.limit_eval": limit_test,
            "output_dir": str(output_dir) if output_dir else None,
            "train.mixed_precision": mixed_precision, "train.report_to": report_to,
        },
    )
    print_defaults({"--model": config.model.name if model is None else None,
                    "--train": config.data.train if train is None else None}, "flags choose others")
    result = run(config, overwrite=overwrite, resume=resume)
    print_metrics(result.metrics, title=f"{config.task} / {config.strategy}: test metrics "
                                        f"(epoch {result.metrics['kept_epoch']}, {result.metrics['selected_on']})")
    console.print(f"Run saved to [bold]{result.path}[/]")
    needs = get_strategy(config.strategy).plain_transformers
    if needs:
        console.print(f"[yellow]note:[/] {needs}", soft_wrap=True, highlight=False)
