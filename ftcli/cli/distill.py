"""`ftcli distill`: train a smaller student from a fine-tuned teacher and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.output import print_metrics
from ftcli.cli.options import ColumnOpt, column_sets, EpochsOpt, LimitEvalOpt, LimitTrainOpt, MaxLengthOpt, MixedPrecisionOpt, ReportToOpt, OverwriteOpt, ResumeOpt, SeedOpt, TrainBatchSizeOpt


def distill(
    teacher: Annotated[str, typer.Option("--teacher", help="The fine-tuned teacher: a run directory, its model/ folder, or a checkpoint with the task's head.")],
    train: Annotated[str, typer.Option("--train", help="Training data: file (csv, tsv, jsonl, json, parquet) or catalogue alias.")],
    task: Annotated[Optional[str], typer.Option("--task", help="classification, nli or ner. Default: the teacher run's task.")] = None,
    student: Annotated[Optional[str], typer.Option("--student", help="The student: catalogue alias or checkpoint directory (its head starts fresh, with the data's labels).")] = None,
    init_from_teacher: Annotated[Optional[str], typer.Option("--init-from-teacher", help="Instead of --student: every-other-layer (the teacher's layers 0, 2, 4, ... with its embeddings and head).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="soft-targets (DistilBERT; alias distilbert) or tinybert (also hidden states and attention maps). Default: soft-targets.")] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="Softens both output distributions (the KL term is scaled by T^2). Default 2.")] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="Weight of the soft-target loss; the hard-label loss gets 1 - alpha. Default 0.5.")] = None,
    eval: Annotated[Optional[str], typer.Option("--eval", help="Test data, scored with the student and the teacher. Default: the alias's test split or a seeded held-out fraction.")] = None,
    validation: Annotated[Optional[str], typer.Option("--validation", help="Validation data that chooses the best epoch. Default: none; the last epoch is kept.")] = None,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML to start from. Default: recipes/TASK/full.yaml.")] = None,
    column: ColumnOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set distill.cosine_weight=1 (repeatable).")] = None,
    epochs: EpochsOpt = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate of the student.")] = None,
    batch_size: TrainBatchSizeOpt = None,
    max_length: MaxLengthOpt = None,
    seed: SeedOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_eval: LimitEvalOpt = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Run directory. Default: runs/<task>-distill-<student>-<time>.")] = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    mixed_precision: MixedPrecisionOpt = None,
    report_to: ReportToOpt = None,
) -> None:
    """Distil a fine-tuned TEACHER into a smaller student on TRAIN; prints the student's test
    metrics beside the teacher's and the speed-up, and writes a normal run directory (the student
    in model/; metrics.json adds teacher_* metrics and both models' examples/s).

    soft-targets: alpha * T^2 * KL(teacher/T || student/T) + (1 - alpha) * hard-label loss
    (+ distill.cosine_weight x cosine loss on the last hidden states). tinybert: also the MSE
    between mapped hidden states (through a learned projection when the widths differ) and
    attention maps, weighted by distill.hidden_weight."""
    from ftcli.config import build_config, load_recipe
    from ftcli.distillation import check_command, distill as run_distillation
    from ftcli.progress import console
    from ftcli.recipe_store import recipe_path

    task, method = check_command(teacher, task, student, init_from_teacher, method)
    config = build_config(
        recipe=load_recipe(recipe or recipe_path(f"{task}/full")),
        sets=[*(set_ or []), *column_sets(column)],
        flags={
            "task": task, "strategy": "distill", "model.name": student, "data.train": train, "data.eval": eval,
            "data.validation": validation, "train.epochs": epochs, "optim.lr": lr, "train.batch_size": batch_size,
            "model.max_length": max_length, "train.seed": seed, "data.limit_train": limit_train,
            "data.limit_eval": limit_eval, "output_dir": str(output_dir) if output_dir else None,
            "train.mixed_precision": mixed_precision, "train.report_to": report_to, "distill.teacher": teacher, "distill.method": method,
            "distill.temperature": temperature, "distill.alpha": alpha,
            "distill.init_from_teacher": init_from_teacher or "none",
        },
    )
    result = run_distillation(config, overwrite=overwrite, resume=resume)
    print_metrics(result.metrics, title=f"{config.task} / distill ({config.distill.method}): test metrics "
                                        f"(epoch {result.metrics['kept_epoch']}, {result.metrics['selected_on']})")
    console.print(f"Run saved to [bold]{result.path}[/]")
