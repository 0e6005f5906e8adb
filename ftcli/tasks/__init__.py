"""Task registry: `ftcli finetune TASK` looks its TASK up here."""

from __future__ import annotations

from ftcli.errors import UserError
from ftcli.tasks.base import Task
from ftcli.tasks.classification import ClassificationTask

TASKS: dict[str, type[Task]] = {
    ClassificationTask.name: ClassificationTask,
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise UserError(f"unknown task '{name}'; available: {', '.join(TASKS)}")
    return TASKS[name]()
