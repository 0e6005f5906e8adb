"""What a comparison runs: the strategies, the training-set sizes and seeds (its cells), the
class-balanced subsample behind each cell, and the schedule a size trains with.

The schedule follows the data size by a rule fixed in advance (never tuned on the evaluation rows):
batches of min(recipe, max(4, size / 8)) and at least MIN_STEPS optimizer steps, between the
recipe's epochs and MAX_EPOCHS. Strategies that train on pairs of the rows (contrastive: 40 pairs a
row) have steps enough at every size: they keep their recipe's batch and epochs.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcli.data.labels import SINGLE
from ftcli.errors import UserError
from ftcli.strategies import IN_CONTEXT
from ftcli.strategies import STRATEGIES as TRAINED_STRATEGIES

FULL = "full"
OPT_IN = ("prompt-tuning", "contrastive")
"""Strategies that run only when --strategies names them. contrastive: 40 pairs per row make it costly at the
default sizes up to all the rows, and it is a few-shot method (benchmarks/contrastive_vs_setfit.py)."""
PAIRED = ("contrastive",)
"""Strategies whose training rows are pairs of the labelled rows: the schedule keeps their recipe's."""
SINGLE_LABEL_ONLY = (IN_CONTEXT, "feature-extraction", "contrastive")
"""Strategies that learn (or prompt for) one label per row: not for label sets or numbers."""
STRATEGIES = (IN_CONTEXT, *sorted(TRAINED_STRATEGIES, key=lambda name: name == FULL))
"""Every strategy, from the fewest trained weights to all of them: in-context learning (none), the
registry's other strategies in its order, full fine-tuning last. Tables list them in this order."""
DEFAULT_STRATEGIES = tuple(name for name in STRATEGIES if name not in OPT_IN)
DEFAULT_SIZES = ("0", "16", "64", "256", "1024", "all")
MIN_STEPS = 100
MAX_EPOCHS = 50
MAX_SHOTS = 4
"""In-context demonstrations at most (a small encoder's context holds about this many reviews)."""
MAX_IN_CONTEXT_SIZE = 64
"""In-context learning runs at sizes up to this (k-shot with k = min(size, MAX_SHOTS))."""


@dataclass
class CompareSettings:
    task: str
    model: str
    train: str
    eval: str | None
    output_dir: Path
    strategies: list[str] = field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    sizes: list[str] = field(default_factory=lambda: list(DEFAULT_SIZES))
    seeds: int = 3
    limit_eval: int | None = None
    max_length: int | None = None
    sets: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    prompt_model: str | None = None
    """The model of the in-context cells: one that can learn in context (a causal LM). None: the in-context
    recipe's (the catalogue's causal LM), not `model`, which may be an encoder with no language-model head."""
    problem_type: str | None = None
    """Classification's problem type as the comparison decided it from all the training rows, passed on to the
    worker processes so that none reads the training split again. None: not decided yet."""


@dataclass(frozen=True)
class Cell:
    strategy: str
    size: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.strategy}-n{self.size}-s{self.seed}"


def parse_list(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UserError(f"{option} needs a comma-separated list, got {text!r}")
    return items


def check_settings(settings: CompareSettings) -> None:
    unknown = [s for s in settings.strategies if s not in STRATEGIES]
    if unknown:
        raise UserError(f"unknown strategy {unknown[0]!r} in --strategies; choose from {', '.join(STRATEGIES)}")
    for size in settings.sizes:
        if size != "all" and (not size.isdigit()):
            raise UserError(f"--train-sizes takes whole numbers or 'all', got {size!r}")
    if settings.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {settings.seeds}")


def plan(settings: CompareSettings, train_rows: int) -> list[Cell]:
    """The cells to run, smallest sizes first (the quick ones report early)."""
    sizes = sorted({train_rows if s == "all" else min(int(s), train_rows) for s in settings.sizes})
    cells = []
    for size in sizes:
        for strategy in settings.strategies:
            if strategy == IN_CONTEXT and size > MAX_IN_CONTEXT_SIZE:
                continue
            if strategy != IN_CONTEXT and size == 0:
                continue
            # Zero-shot prompts draw nothing at random (no demonstrations): one seed says it all.
            seeds = 1 if strategy == IN_CONTEXT and size == 0 else settings.seeds
            cells += [Cell(strategy, size, 42 + i) for i in range(seeds)]
    return cells


def strategies_for(strategies: list[str], problem_type: str | None) -> tuple[list[str], list[str]]:
    """(the strategies that can learn `problem_type`, those left out). Strategies named on purpose that
    cannot are refused; from the default list they are left out."""
    if problem_type in (None, SINGLE):
        return list(strategies), []
    unfit = [s for s in strategies if s in SINGLE_LABEL_ONLY]
    if unfit and list(strategies) != list(DEFAULT_STRATEGIES):
        fit = ", ".join(s for s in STRATEGIES if s not in SINGLE_LABEL_ONLY)
        raise UserError(f"--strategies {', '.join(unfit)}: learns one label per row, and this data is "
                        f"{problem_type}; choose from {fit}")
    return [s for s in strategies if s not in unfit], unfit


def balanced_indices(labels: list, size: int, seed: int, by_label: bool = True) -> list[int]:
    """`size` row indices taking the classes (or label sets) in turn (seeded order within each), so every
    class is as equally represented as the data allows; rows of unlabelled tasks, and of regression
    (`by_label` False: every number would be its own class), are drawn at random."""
    rng = random.Random(seed)
    if not by_label:
        return rng.sample(range(len(labels)), min(size, len(labels)))
    by_class: dict[Any, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(json.dumps(label, sort_keys=True, default=str), []).append(index)
    for rows in by_class.values():
        rng.shuffle(rows)
    queues = [by_class[key] for key in sorted(by_class)]
    chosen: list[int] = []
    while len(chosen) < size and any(queues):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop())
    rng.shuffle(chosen)
    return chosen


def schedule(size: int, recipe_batch: int, recipe_epochs: int, strategy: str | None = None) -> tuple[int, int]:
    """(batch size, epochs) for a training set of `size` rows: see the module docstring."""
    if strategy in PAIRED:
        return recipe_batch, recipe_epochs
    batch = max(1, min(recipe_batch, max(4, size // 8)))
    steps_per_epoch = math.ceil(size / batch)
    epochs = max(recipe_epochs, math.ceil(MIN_STEPS / steps_per_epoch))
    return batch, min(epochs, MAX_EPOCHS)
