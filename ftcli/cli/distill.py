"""`ftcli distill`: train a smaller student from a fine-tuned teacher and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.output import print_metrics
from ftcli.cli.options import (DATA, MODEL, TRAINING, ColumnOpt, EpochsOpt, LimitTestOpt, LimitTrainOpt,
                               MaxLengthOpt, MixedPrecisionOpt, OldEvalOpt, OldLimitEvalOpt, OverwriteOpt,
                               ReportToOpt, ResumeOpt, SeedOpt, TrainBatchSizeOpt, ValidationOpt, column_sets,
                               output_dir_option, test_options)


RunDirOpt = output_dir_option("Run directory. Default: runs/<task>-distill-<student>-<time>.")

def distill(
    run_file_: Annotated[Optional[str], typer.Argument(metavar="[CONFIG.yaml]", help="A config file that holds the whole run (task:, distill.teacher, data.train...): `ftcli distill run.yaml`.")] = None,
    train: Annotated[Optional[str], typer.Option("--train", help="Training data: file (csv, tsv, jsonl, json, parquet) or catalogue alias. Required unless CONFIG.yaml names it.", rich_help_panel=DATA)] = None,
    validation: ValidationOpt = None,
    test: Annotated[Optional[str], typer.Option("--test", help="Test data, scored with the student and the teacher. Default: the alias's test split or a seeded held-out fraction.", rich_help_panel=DATA)] = None,
    transfer: Annotated[Optional[str], typer.Option("--transfer", help="A transfer set: unlabelled text the teacher labels for the student, beside --train (a text file or folder, an alias's training split, or a data file whose labels are not read). The teacher's logits are computed once and cached. --set distill.transfer_limit=N samples N rows.", rich_help_panel=DATA)] = None,
    column: ColumnOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_test: LimitTestOpt = None,
    teacher: Annotated[Optional[str], typer.Option("--teacher", help="The fine-tuned teacher: a run directory, its model/ folder, or a checkpoint with the task's head. Required unless CONFIG.yaml names it.", rich_help_panel=MODEL)] = None,
    student: Annotated[Optional[str], typer.Option("--student", help="The student: catalogue alias or checkpoint directory (its head starts fresh, with the data's labels).", rich_help_panel=MODEL)] = None,
    init_from_teacher: Annotated[Optional[str], typer.Option("--init-from-teacher", help="Instead of --student: every-other-layer (the teacher's layers 0, 2, 4, ... with its embeddings and head).", rich_help_panel=MODEL)] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="classification, nli or ner. Default: the teacher run's task.", rich_help_panel=MODEL)] = None,
    max_length: MaxLengthOpt = None,
    method: Annotated[Optional[str], typer.Option("--method", help="soft-targets (DistilBERT; alias distilbert) or tinybert (also hidden states and attention maps). Default: soft-targets.", rich_help_panel=TRAINING)] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="Softens both output distributions (the KL term is scaled by T^2). Default 2.", rich_help_panel=TRAINING)] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="Weight of the soft-target loss; the hard-label loss gets 1 - alpha. Default 0.5.", rich_help_panel=TRAINING)] = None,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML to start from. Default: recipes/TASK/full.yaml.", rich_help_panel=TRAINING)] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set distill.cosine_weight=1 (repeatable).", rich_help_panel=TRAINING)] = None,
    epochs: EpochsOpt = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate of the student. Default: the recipe's.", rich_help_panel=TRAINING)] = None,
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
    """Distil a fine-tuned TEACHER into a smaller student on TRAIN; prints the student's test
    metrics beside the teacher's and the speed-up, and writes a normal run directory (the student
    in model/; metrics.json adds teacher_* metrics and both models' examples/s).

    soft-targets: alpha * T^2 * KL(teacher/T || student/T) + (1 - alpha) * hard-label loss
    (+ distill.cosine_weight x cosine loss on the last hidden states). tinybert: also the MSE
    between mapped hidden states (through a learned projection when the widths differ) and
    attention maps, weighted by distill.hidden_weight."""
    from ftcli.preflight import check_paths

    test, limit_test = test_options(test, eval, limit_test, limit_eval)
    task, teacher, train, recipe, student, init_from_teacher = distill_run_file(
        run_file_, task, teacher, train, recipe, student, init_from_teacher)
    check_paths({"--teacher": teacher, "--train": train, "--validation": validation, "--test": test, "--student": student,
                 "--transfer": transfer})
    from ftcli.config import build_config, load_recipe
    from ftcli.distillation import check_command, distill as run_distillation
    from ftcli.progress import console
    from ftcli.recipe_store import recipe_path

    task, method = check_command(teacher, task, student, init_from_teacher, method)
    config = build_config(
        recipe=load_recipe(recipe or recipe_path(f"{task}/full")),
        sets=[*(set_ or []), *column_sets(column)],
        flags={
            "task": task, "strategy": "distill", "model.name": student, "data.train": train, "data.eval": test,
            "data.validation": validation, "train.epochs": epochs, "optim.lr": lr, "train.batch_size": batch_size,
            "model.max_length": max_length, "train.seed": seed, "data.limit_train": limit_train,
            "data.limit_eval": limit_test, "output_dir": str(output_dir) if output_dir else None,
            "train.mixed_precision": mixed_precision, "train.report_to": report_to, "distill.teacher": teacher, "distill.method": method,
            "distill.temperature": temperature, "distill.alpha": alpha,
            "distill.init_from_teacher": init_from_teacher or "none", "distill.transfer": transfer,
        },
    )
    result = run_distillation(config, overwrite=overwrite, resume=resume)
    print_metrics(result.metrics, title=f"{config.task} / distill ({config.distill.method}): test metrics "
                                        f"(epoch {result.metrics['kept_epoch']}, {result.metrics['selected_on']})")
    console.print(f"Run saved to [bold]{result.path}[/]")


def distill_run_file(path: str | None, task: str | None, teacher: str | None, train: str | None, recipe: Path | None,
                     student: str | None, init_from_teacher: str | None) -> tuple:
    """`ftcli distill run.yaml`: the file is the recipe and may name the task, the teacher and the data; flags
    given beside it win. Without a file, --teacher and --train are required."""
    from ftcli.errors import UserError

    if path is not None:
        from ftcli.config import load_recipe

        if recipe is not None:
            raise UserError(f"give the run's config file either as the argument ({path}) or as --recipe, not both")
        recipe = Path(path)
        settings = load_recipe(recipe)
        task = task or settings.get("task")
        teacher = teacher or (settings.get("distill") or {}).get("teacher")
        train = train or (settings.get("data") or {}).get("train")
        if student is None and init_from_teacher is None:  # the file's student, unless a flag names one
            init = (settings.get("distill") or {}).get("init_from_teacher")
            if init not in (None, "none"):
                init_from_teacher = init
            else:
                student = (settings.get("model") or {}).get("name")
    for flag, value in (("--teacher", teacher), ("--train", train)):
        if not value:
            raise UserError(f"missing option {flag}" + (f" (or a value for it in {path})" if path else ""))
    return task, teacher, train, recipe, student, init_from_teacher
