"""The rows a prompt run works on: keyed by the task's field names, identified by their input, and
the demonstrations each evaluated row is shown."""

from __future__ import annotations

import random
from typing import Any

from ftcli.prompting.demos import draw, most_similar, shuffled

ANSWER_FIELDS = ("label", "tags", "answers", "completion", "target", "id")
"""Row fields that hold the answer (or an id), not the input."""


def canonical_rows(dataset, columns: dict[str, str]) -> list[dict]:
    """Rows keyed by the task's field names (the template's placeholders)."""
    present = {field: column for field, column in columns.items() if column in dataset.column_names}
    return [{field: row[column] for field, column in present.items()} for row in dataset]


def label_of(row: dict) -> Any:
    """What balanced demonstrations take turns over (None for tasks without labels)."""
    return row.get("label")


def row_key(row: dict) -> str:
    """What identifies a row's input (everything but its answer)."""
    return repr(sorted((k, repr(v)) for k, v in row.items() if k not in ANSWER_FIELDS))


def input_text(row: dict) -> str:
    """A row's input as one text (what similar demonstrations are matched on)."""
    return " ".join(str(v) for k, v in row.items() if k not in ANSWER_FIELDS)


def choose_demonstrations(pool: list[dict], rows: list[dict], shots: int, settings, seed: int) -> list[list[dict]]:
    """Each row's demonstrations: one seeded draw for all rows (class-balanced by default), new
    draws per row (`resample`) or each row's most similar pool rows (`select=similar`); then,
    with `order=shuffled`, put in a seeded order per row."""
    if shots <= 0:
        return [[] for _ in rows]
    if settings.select == "similar":
        per_row = most_similar(pool, rows, shots, input_text, row_key, label_of, settings.balanced)
    elif settings.resample:
        per_row = [draw(pool, shots, random.Random(seed * 100_003 + i), label_of=label_of, balanced=settings.balanced,
                        exclude=row_key(row), key=row_key) for i, row in enumerate(rows)]
    else:
        fixed = draw(pool, shots, random.Random(seed), label_of=label_of, balanced=settings.balanced)
        per_row = [fixed] * len(rows)
    if settings.order == "shuffled":
        per_row = [shuffled(demos, random.Random(f"order-{seed}-{i}")) for i, demos in enumerate(per_row)]
    return per_row


def label_set(rows: list[dict], pool: list[dict], settings) -> list:
    labels = {r["label"] for r in rows + pool if "label" in r}
    labels |= set(settings.label_words) if settings.label_words else set()
    return sorted(labels, key=str)


def gold(prompt_format, row: dict, settings) -> Any:
    if "label" in row:
        return row["label"]
    if "answers" in row:
        return list(row["answers"]["text"])
    if "tags" in row:
        return list(row["tags"])
    return prompt_format.gold_text(row, settings)
