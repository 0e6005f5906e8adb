"""Demonstrations ("shots") for in-context learning: drawn with a seed from a pool that never
contains an evaluated row, the same for every query by default, or re-drawn per query."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable


def exclude_evaluated(pool: list[dict], evaluated: list[dict], key: Callable[[dict], Any]) -> list[dict]:
    """The pool without any row whose input equals an evaluated row's (a demo must never show
    the answer to the question being asked)."""
    asked = {key(row) for row in evaluated}
    return [row for row in pool if key(row) not in asked]


def draw(pool: list[dict], shots: int, rng: random.Random, label_of: Callable[[dict], Any] | None = None,
         balanced: bool = False, exclude: Any = None, key: Callable[[dict], Any] | None = None) -> list[dict]:
    """`shots` rows from `pool`. Balanced: labels take turns (round-robin over the labels in a
    seeded order), as far as each label has rows. A row whose `key(row)` equals `exclude` is never drawn."""
    if shots <= 0:
        return []
    candidates = [row for row in pool if exclude is None or key(row) != exclude]
    if not balanced or label_of is None:
        return rng.sample(candidates, min(shots, len(candidates)))
    by_label: dict[Any, list[dict]] = defaultdict(list)
    for row in candidates:
        by_label[label_of(row)].append(row)
    labels = sorted(by_label, key=str)
    rng.shuffle(labels)
    queues = {label: rng.sample(rows, len(rows)) for label, rows in by_label.items()}
    chosen: list[dict] = []
    while len(chosen) < shots and any(queues.values()):
        for label in labels:
            if queues[label] and len(chosen) < shots:
                chosen.append(queues[label].pop())
    rng.shuffle(chosen)  # no label always first
    return chosen
