"""Task registry: `ftcli finetune TASK` looks its TASK up here.

Task modules are imported on first use, so a command only pays for the task it runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from ftcli.errors import UserError
from ftcli.preflight import did_you_mean

if TYPE_CHECKING:  # the task modules (and torch) load on first use: `ftcli finetune clasification` fails at once
    from ftcli.config import RunConfig, TaskOptions
    from ftcli.tasks.base import Task

TASKS: dict[str, str] = {
    "classification": "ftcli.tasks.classification:ClassificationTask",
    "nli": "ftcli.tasks.classification:NliTask",
    "ner": "ftcli.tasks.ner:NerTask",
    "qa": "ftcli.tasks.qa:QaTask",
    "generation": "ftcli.tasks.generation:GenerationTask",
    "image-classification": "ftcli.tasks.image_classification:ImageClassificationTask",
}


def available_tasks() -> list[str]:
    """Registered tasks whose module is present in this installation."""
    return [name for name, target in TASKS.items()
            if importlib.util.find_spec(target.split(":")[0]) is not None]


def check_task_name(name: str) -> None:
    """An unknown task is a UserError naming the closest one and those that exist; nothing heavy is imported."""
    if name not in available_tasks():
        raise UserError(f"unknown task '{name}'{did_you_mean(name, available_tasks())}. "
                        f"Available: {', '.join(available_tasks())}")


def get_task(name: str, options: TaskOptions | None = None, config: RunConfig | None = None) -> Task:
    """The task, with its `options` and, for a run being set up, the whole run `config` (`Task.run_config`)."""
    from ftcli.config import TaskOptions

    check_task_name(name)
    module_name, class_name = TASKS[name].split(":")
    task = getattr(importlib.import_module(module_name), class_name)()
    task.options = options or TaskOptions()
    task.run_config = config
    return task
