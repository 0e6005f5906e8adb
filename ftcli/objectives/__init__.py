"""Pre-training objectives (`ftcli pretrain OBJECTIVE`): how a model learns from unlabelled text.

Each objective is a `Task` (text in, features out, held-out metrics) whose `training_module`
wraps the model in an `nn.Module` that builds the objective's inputs (masks, replaced tokens)
and returns `.loss`, so the runner, the training loop and the evaluation loop serve it unchanged.
"""

from __future__ import annotations

import importlib

from ftcli.errors import UserError
from ftcli.preflight import did_you_mean

OBJECTIVES: dict[str, str] = {
    "mlm": "ftcli.objectives.mlm:MaskedLm",
    "mlm+nsp": "ftcli.objectives.nsp_sop:MaskedLmNextSentence",
    "sop": "ftcli.objectives.nsp_sop:MaskedLmSentenceOrder",
    "rtd": "ftcli.objectives.rtd:ReplacedTokenDetection",
    "clm": "ftcli.objectives.clm:CausalLm",
}


def check_objective_name(name: str) -> None:
    """An unknown objective is a UserError naming the closest one; nothing heavy is imported."""
    if name not in OBJECTIVES:
        raise UserError(f"unknown pre-training objective '{name}'{did_you_mean(name, OBJECTIVES)}. "
                        f"Available: {', '.join(OBJECTIVES)}")


def get_objective(name: str, config=None):
    """The objective, built with the run's `pretrain.*` settings and seed (`config`, a RunConfig), or the defaults."""
    check_objective_name(name)
    module_name, class_name = OBJECTIVES[name].split(":")
    objective_class = getattr(importlib.import_module(module_name), class_name)
    objective = objective_class(config.pretrain, config.train.seed) if config is not None else objective_class()
    from ftcli.config import TaskOptions

    objective.options = TaskOptions()
    return objective


def task_or_objective(name: str, options=None, config=None):
    """A run's task by the name in its config.yaml: a fine-tuning task, or the objective of a pre-training run
    (`ftcli pretrain`; built with `config`'s settings when given), for what serves both (the runner, evaluate /
    predict, export, runs ls)."""
    if name in OBJECTIVES:
        return get_objective(name, config)
    from ftcli.tasks import get_task

    return get_task(name, options, config)
