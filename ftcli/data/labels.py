"""Label sets inferred from training data, stored as label2id / id2label in the model config."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ftcli.data.columns import describe_rows
from ftcli.errors import UserError


def label_key(value) -> str:
    """A label as label2id stores it. A whole-number float counts as its integer: pandas reads a
    CSV column of integers as floats (1.0) once any cell is empty."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind(value) -> str:
    """What sort of label a value is: number, text, boolean, or a problem (missing, fraction, other)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, str):
        return "text" if value.strip() else "missing"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number" if value.is_integer() else "fraction"
    return "other"


def _rows_by_kind(values: Sequence, rows: Sequence[int] | None) -> dict[str, list[int]]:
    rows = rows if rows is not None else range(1, len(values) + 1)
    by_kind: dict[str, list[int]] = {}
    for row, value in zip(rows, values):
        by_kind.setdefault(_kind(value), []).append(row)
    # Kinds in the order the file first has them, rows in file order.
    return {kind: sorted(found) for kind, found in sorted(by_kind.items(), key=lambda item: min(item[1]))}


def _check_values(values: Sequence, where: str, column: str, rows: Sequence[int] | None) -> dict[str, list[int]]:
    """Refuse empty, NaN, fractional and non-scalar labels, naming the rows (numbered as in the file)."""
    by_kind = _rows_by_kind(values, rows)
    problems = {
        "missing": f"an empty label ('{column}' is blank, null or NaN); fill in or drop",
        "fraction": f"a fractional '{column}' (class labels are names or whole numbers); fix or drop",
        "other": f"a '{column}' that is a list or an object, not a label; fix or drop",
    }
    for kind, problem in problems.items():
        if kind in by_kind:
            found = by_kind[kind]
            one = len(found) == 1
            raise UserError(f"{where}: {describe_rows(found)} {'has' if one else 'have'} {problem} "
                            f"{'that row' if one else 'those rows'}")
    return by_kind


def infer_labels(values: Iterable, where: str = "the training data", column: str = "label",
                 rows: Sequence[int] | None = None) -> list[str]:
    """Sorted distinct labels (numerically for number labels), as strings for the config.
    `rows` numbers the values as in the user's file (default 1, 2, ...), for error messages."""
    values = list(values)
    by_kind = _check_values(values, where, column, rows)
    if len(by_kind) > 1:
        # Mixed kinds would each become classes of their own (1 and "1", true and "true").
        mixed = " and ".join(f"{kind} ({describe_rows(found, shown=3)})" for kind, found in by_kind.items())
        raise UserError(f"{where}: '{column}' mixes {mixed}; give every row the same kind of label")
    distinct = {label_key(v) for v in values}
    if "number" in by_kind:
        return sorted(distinct, key=int)
    return sorted(distinct)


def check_known_labels(values: Iterable, label2id: dict[str, int], where: str, column: str = "label",
                       rows: Sequence[int] | None = None) -> None:
    values = list(values)
    _check_values(values, where, column, rows)
    rows = rows if rows is not None else range(1, len(values) + 1)
    unseen: dict[str, int] = {}
    for row, value in sorted(zip(rows, values), key=lambda pair: pair[0]):
        key = label_key(value)
        if key not in label2id:
            unseen.setdefault(key, row)
    if unseen:
        shown = ", ".join(f"{label!r} (row {row})" for label, row in list(unseen.items())[:5])
        raise UserError(
            f"{where} has label(s) never seen in training: {shown}{' ...' if len(unseen) > 5 else ''} "
            f"(known: {', '.join(label2id)})"
        )
