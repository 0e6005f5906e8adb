"""`ftcli tune TASK`: hyper-parameter search (Optuna) on validation data, then the best settings run once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.options import (DATA, MODEL, TRAINING, ColumnOpt, LimitTestOpt, LimitTrainOpt, MaxLengthOpt,
                               MixedPrecisionOpt, ModelOpt, OldEvalOpt, OldLimitEvalOpt, RecipeOpt, SeedOpt, SetOpt,
                               TestOpt, TrainOpt, checked_run, column_sets, output_dir_option, test_options)
from ftcli.cli.worker import run_as_worker

TuneDirOpt = output_dir_option("Where the search goes (optuna.db, trials.md, trials.png, best.yaml, best/); "
                               "the same command there continues it. Default: runs/tune-TASK-STRATEGY-MODEL.")
WORKER = "ftcli.cli.tune"
"""`python -m ftcli.cli.tune CONFIG.yaml RUN_DIR` trains one trial (or the best settings) in a worker process."""


def tune(
    task: Annotated[str, typer.Argument(help="classification, nli, ner, qa, generation or image-classification; or a config file (run.yaml) that holds the task, and a tune: section with the space.")],
    train: TrainOpt = None,
    validation: Annotated[Optional[str], typer.Option("--validation", help="Validation data that scores every trial. Default: a seeded 10% of the training rows (data.validation_fraction), printed.", rich_help_panel=DATA)] = None,
    test: TestOpt = None,
    column: ColumnOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_test: LimitTestOpt = None,
    model: ModelOpt = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", "-s", help="How pretrained weights are reused: full, feature-extraction, prompt-tuning, lora, contrastive. Default: full.", rich_help_panel=MODEL)] = None,
    max_length: MaxLengthOpt = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    space: Annotated[Optional[list[str]], typer.Option("--space", help="A searched setting, KEY=KIND:ARGS (repeatable): optim.lr=loguniform:1e-5:1e-3, optim.warmup_ratio=uniform:0:0.2, train.epochs=int:1:4, train.batch_size=choice:16,32. Default: the recipe's tune: space, else learning rate, epochs, batch size, warm-up, weight decay (and LoRA rank).", rich_help_panel=TRAINING)] = None,
    trials: Annotated[int, typer.Option("--trials", help="Trials to finish (complete or pruned); a re-run continues up to this many.", rich_help_panel=TRAINING)] = 20,
    seed: SeedOpt = None,
    mixed_precision: MixedPrecisionOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="Also run the recipe's own settings and score them on the test split, beside the best.", rich_help_panel=TRAINING)] = False,
    output_dir: TuneDirOpt = None,
    eval: OldEvalOpt = None,
    limit_eval: OldLimitEvalOpt = None,
) -> None:
    """Search hyper-parameters with Optuna (seeded TPE; a median pruner stops weak trials after
    an epoch), each trial scored on validation data only. The best settings become best.yaml
    (`ftcli finetune best.yaml` runs it) and are run once in best/, scoring the test split once.
    Writes trials.json, trials.md and trials.png. Interrupted? Run the same command again."""
    test, limit_test = test_options(test, eval, limit_test, limit_eval)
    # Mistakes the command line shows fail here, in a fraction of a second: torch is not imported yet.
    task, strategy, recipe = checked_run("tune", task, strategy, recipe,
                                         {"--train": train, "--validation": validation, "--test": test, "--model": model})
    from ftcli.tune import Tuner, TuneSettings

    name = Path((model or "recipe").rstrip("/")).name
    out = output_dir or Path("runs") / f"tune-{task}-{strategy or 'full'}-{name}"
    tuner = Tuner(TuneSettings(
        task=task, output_dir=out, model=model, strategy=strategy, recipe=str(recipe) if recipe else None, train=train,
        validation=validation, test=test, limit_train=limit_train, limit_test=limit_test, max_length=max_length,
        sets=[*(set_ or []), *column_sets(column)], space=list(space or []), trials=trials, seed=seed,
        mixed_precision=mixed_precision, baseline=baseline))
    report = tuner.run(worker=[sys.executable, "-m", WORKER])
    print_report(report)


def print_report(report: dict) -> None:
    """The trials and the best settings' test scores, on stdout."""
    from rich.table import Table

    from ftcli.cli.output import result_console
    from ftcli.progress import console

    metric, keys = report["metric"], [text.split("=")[0] for text in report["space"]]
    short = [key.rpartition(".")[2] for key in keys]
    headers = short if len(set(short)) == len(short) else keys  # lr, epochs, batch_size ... when they are distinct
    table = Table(title=f"{report['task']} / {report['strategy']}: validation {metric} per trial", header_style="bold")
    for column in ("trial", "state", metric, "seconds", *headers):
        table.add_column(column, justify="left" if column == "state" else "right", overflow="fold")
    for row in report["trials"]:
        values = [row["params"].get(key) for key in keys]
        table.add_row(str(row["number"]), row["state"], "" if row["value"] is None else f"{row['value']:.4f}",
                      "" if row["seconds"] is None else f"{row['seconds']:.0f}",
                      *("" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v) for v in values))
    out = result_console()
    out.print(table)
    best = report["best"]
    out.print(f"best: trial {best['trial']}, validation {metric} {best['validation']:.4f}; test {metric} "
              f"{best['test'][metric]:.4f}", highlight=False)
    if "baseline" in report:
        out.print(f"recipe settings: validation {metric} {report['baseline']['validation']:.4f}; test {metric} "
                  f"{report['baseline']['test'][metric]:.4f}", highlight=False)
    console.print(f"Wrote {best['config']} (`ftcli finetune {best['config']}` runs it), trials.md, trials.json and "
                  f"trials.png; the best settings' run is {best['run']}", soft_wrap=True, highlight=False)


def run_worker(config_file: str, out: str) -> None:
    """One trial (or the best settings), in a worker process of its own, as `ftcli tune` starts it."""
    def work() -> None:
        from ftcli.tune import run_trial

        run_trial(Path(config_file), Path(out))

    run_as_worker(work)


if __name__ == "__main__":
    run_worker(*sys.argv[1:3])
