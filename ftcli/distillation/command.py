"""The `ftcli distill` command: what it accepts (the single place that decides whether a task can be
distilled), then the run itself and the teacher's report."""

from __future__ import annotations

from pathlib import Path

from ftcli.config import RunConfig
from ftcli.distillation.report import add_teacher_report
from ftcli.distillation.student import student_from_teacher
from ftcli.distillation.teacher import resolve_teacher, teacher_task
from ftcli.errors import UserError
from ftcli.tasks.base import Task

METHODS = ("soft-targets", "tinybert")
METHOD_ALIASES = {"distilbert": "soft-targets"}
"""`--method distilbert` (DESIGN.md's name) means soft-targets."""
TASK_KINDS = frozenset({"sequence", "token"})
"""Task output kinds distillation supports: classification and NLI (one label), NER (one per token)."""
MODALITIES = frozenset({"text"})
INIT_FROM_TEACHER = ("every-other-layer",)


def check_distillable(task: Task | str) -> Task:
    """The task (looked up when given by name), or a one-line refusal of a task distillation cannot train."""
    if isinstance(task, str):
        from ftcli.tasks import get_task

        task = get_task(task)
    if task.output_kind not in TASK_KINDS or task.modality not in MODALITIES:
        raise UserError(f"ftcli distill supports the classification, nli and ner tasks, not {task.name}")
    return task


def check_command(teacher: str, task: str | None, student: str | None, init_from_teacher: str | None,
                  method: str | None) -> tuple[str, str | None]:
    """Check `ftcli distill`'s options before any work: returns (the task, defaulting to the teacher
    run's; the method with its alias resolved, None when not given)."""
    if student is not None and init_from_teacher is not None:
        raise UserError("give --student M or --init-from-teacher every-other-layer, not both")
    if student is None and init_from_teacher is None:
        raise UserError("say which student to train: --student M, or --init-from-teacher every-other-layer")
    if init_from_teacher is not None and init_from_teacher not in INIT_FROM_TEACHER:
        raise UserError(f"--init-from-teacher must be every-other-layer, got {init_from_teacher!r}")
    if method is not None:
        method = METHOD_ALIASES.get(method, method)
        if method not in METHODS:
            raise UserError(f"unknown --method {method!r}; use soft-targets (alias distilbert) or tinybert")
    teacher_ref = resolve_teacher(teacher)  # a teacher that is not there is refused even with --task
    task = task or teacher_task(teacher_ref)
    if task is None:
        raise UserError(f"teacher {teacher} is not an ftcli run, so say which task with --task")
    check_distillable(task)
    return task, method


def distill(config: RunConfig, overwrite: bool = False, resume: bool = False):
    """`ftcli distill`: train the student with `ftcli.runner.run` (strategy `distill`), then add the
    teacher's test metrics and both models' inference speed to metrics.json and the model card."""
    from datetime import datetime

    from ftcli.runner import run
    from ftcli.tasks import get_task

    settings = config.distill
    if settings.teacher is None:
        raise UserError("distillation needs a teacher: --teacher RUN_OR_MODEL")
    teacher = resolve_teacher(settings.teacher)
    task = check_distillable(get_task(config.task, config.options))
    if settings.init_from_teacher == "every-other-layer":
        from ftcli.progress import console

        config.model.name = str(student_from_teacher(teacher, task, config.model.trust_remote_code))
        console.print(f"Student: every other layer of the teacher {teacher.spec}, saved as {config.model.name}")
        label = f"{teacher.run_dir.name if teacher.run_dir else Path(teacher.checkpoint).name}-half"
    else:
        label = Path(config.model.name.rstrip("/")).name
    if config.output_dir is None and not resume:
        config.output_dir = str(Path("runs") / f"{config.task}-distill-{label}-{datetime.now():%Y%m%d-%H%M%S}")
    result = run(config, overwrite=overwrite, resume=resume)
    result.metrics = add_teacher_report(result.path, teacher)
    return result
