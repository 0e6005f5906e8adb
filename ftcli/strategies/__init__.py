"""Strategy registry: how pretrained weights are reused (`--strategy`).

Modules load on first use, so `full` runs never import peft.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ftcli.errors import UserError
from ftcli.preflight import did_you_mean

if TYPE_CHECKING:  # strategy modules (torch, peft) load on first use
    from ftcli.strategies.base import Strategy

STRATEGIES: dict[str, str] = {
    "feature-extraction": "ftcli.strategies.feature_extraction:FeatureExtractionStrategy",
    "full": "ftcli.strategies.full:FullStrategy",
    "prompt-tuning": "ftcli.strategies.prompt_tuning:PromptTuningStrategy",
    "lora": "ftcli.strategies.lora:LoraStrategy",
    "contrastive": "ftcli.strategies.contrastive:ContrastiveStrategy",
}
IN_CONTEXT = "in-context"
COMMAND_STRATEGIES: dict[str, str] = {
    "distill": "ftcli.distillation.strategy:DistillStrategy",
    "pretrain": "ftcli.objectives.base:PretrainStrategy",
}
"""Strategies that belong to a command of their own (`ftcli distill`, `ftcli pretrain`): found by name (the runner,
and evaluate/predict reading a run's config.yaml) but not offered as `finetune --strategy`, nor
part of the task x strategy grid."""


def check_strategy_name(name: str) -> None:
    """An unknown strategy is a UserError naming the closest one; nothing heavy is imported."""
    if name == IN_CONTEXT:
        raise UserError("in-context learning trains nothing: run `ftcli prompt TASK --model M --data DATA`")
    if name not in STRATEGIES and name not in COMMAND_STRATEGIES:
        raise UserError(f"unknown strategy '{name}'{did_you_mean(name, STRATEGIES)}. Available: {', '.join(STRATEGIES)}")


def get_strategy(name: str) -> Strategy:
    check_strategy_name(name)
    module_name, class_name = {**STRATEGIES, **COMMAND_STRATEGIES}[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
