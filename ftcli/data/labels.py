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


# -- problem types: one label, a set of labels, or a number per row ------------------------------------------

SINGLE, MULTI, REGRESSION = "single_label_classification", "multi_label_classification", "regression"
PROBLEM_TYPES = (SINGLE, MULTI, REGRESSION)
"""transformers' names (`config.problem_type`)."""


def infer_problem_type(values: Sequence, separator: str = "|") -> tuple[str, str]:
    """(problem type, why) for `options.problem_type: auto`: at least half the labels lists -> multi-label;
    every label a number and at least half of them fractional -> regression; else single-label. Empty labels
    do not count. A lone list or fraction among class labels stays a problem to report, not a new type."""
    present = [v for v in values if isinstance(v, list) or _kind(v) != "missing"]
    lists = sum(isinstance(v, list) for v in present)
    if present and 2 * lists >= len(present):
        return MULTI, "every label is a list" if lists == len(present) else f"{lists} of {len(present)} labels are lists"
    kinds = [_kind(v) for v in present]
    fractions = kinds.count("fraction")
    if present and kinds.count("number") + fractions == len(present) and 2 * fractions >= len(present):
        return REGRESSION, f"every label is a number, {fractions} of {len(present)} fractional"
    why = "the labels are names or whole numbers"
    joined = next((v for v in present if isinstance(v, str) and separator and separator in v), None)
    if joined is not None:
        why += (f"; some hold '{separator}' ({joined!r}): for label sets, --set "
                "options.problem_type=multi_label_classification")
    return SINGLE, why


def check_one_label_per_row(values: Sequence, where: str, column: str, rows: Sequence[int], why: str) -> None:
    """Refuse label sets and fractional numbers where each row must hold one class label (`why` says what
    needs one), naming the rows; whole numbers stay class names."""
    problem_type, _ = infer_problem_type(values)
    if problem_type == REGRESSION:
        kind, bad = "a fractional number (regression)", [r for r, v in zip(rows, values) if _kind(v) == "fraction"]
    else:  # label sets, or a lone list or mapping among class names
        kind = "a label set (multi_label_classification)" if problem_type == MULTI else "a list or mapping"
        bad = [row for row, value in zip(rows, values) if isinstance(value, (list, dict))]
    if bad:
        raise UserError(f"{where} {describe_rows(bad)}: '{column}' holds {kind}; {why}")


def label_set(value, separator: str = "|") -> list[str] | None:
    """A multi-label row's labels (keys as label2id stores them, each once, in order): a list, a string
    split on `separator` ("a|b"), one name or whole number, or nothing (empty, null, NaN or []). None when
    it holds something that is no label (a fraction, a nested list or object, an empty or null element)."""
    if isinstance(value, str):
        return list(dict.fromkeys(part.strip() for part in value.split(separator) if part.strip())) \
            if separator else ([value.strip()] if value.strip() else [])
    if not isinstance(value, list):
        if _kind(value) == "missing":
            return []
        value = [value]
    if any(_kind(element) not in ("text", "number", "boolean") for element in value):
        return None
    return list(dict.fromkeys(label_key(element) for element in value))


def bad_label_set_rows(values: Sequence, separator: str, rows: Sequence[int] | None = None) -> list[int]:
    rows = rows if rows is not None else range(1, len(values) + 1)
    return sorted(row for row, value in zip(rows, values) if label_set(value, separator) is None)


def label_sets(values: Sequence, separator: str, where: str, column: str = "label",
               rows: Sequence[int] | None = None) -> list[list[str]]:
    """Every row's label set; a row holding something that is no label is a UserError naming the rows."""
    values = list(values)
    bad = bad_label_set_rows(values, separator, rows)
    if bad:
        one = len(bad) == 1
        raise UserError(f"{where}: {describe_rows(bad)} {'has' if one else 'have'} a '{column}' that is not a label "
                        f"set (a list of names or whole numbers, or names joined by '{separator}'); fix or drop "
                        f"{'that row' if one else 'those rows'}")
    return [label_set(value, separator) for value in values]


def infer_label_set(values: Sequence, separator: str, where: str = "the training data", column: str = "label",
                    rows: Sequence[int] | None = None) -> list[str]:
    """The labels of a multi-label column, sorted (numerically when every label is a whole number)."""
    distinct = {label for found in label_sets(values, separator, where, column, rows) for label in found}
    numeric = all(label.lstrip("-").isdigit() for label in distinct)
    return sorted(distinct, key=int) if numeric else sorted(distinct)


def regression_value(value) -> float | None:
    """A regression label as a float: a number, or a string holding one; None for anything else (empty,
    NaN, infinite, booleans, lists, words)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def regression_problem_rows(values: Sequence, rows: Sequence[int] | None = None) -> dict[str, list[int]]:
    """"missing" (empty, null, NaN) and "not a number" rows of a regression column."""
    rows = rows if rows is not None else range(1, len(values) + 1)
    found: dict[str, list[int]] = {}
    for row, value in zip(rows, values):
        if regression_value(value) is None:
            found.setdefault("missing" if _kind(value) == "missing" else "not a number", []).append(row)
    return {kind: sorted(found_rows) for kind, found_rows in found.items()}


def regression_targets(values: Sequence, where: str, column: str = "label",
                       rows: Sequence[int] | None = None) -> list[float]:
    values = list(values)
    problems = regression_problem_rows(values, rows)
    for kind, found in problems.items():
        one = len(found) == 1
        what = "an empty" if kind == "missing" else "a non-numeric"
        raise UserError(f"{where}: {describe_rows(found)} {'has' if one else 'have'} {what} '{column}' (regression "
                        f"labels are numbers); fix or drop {'that row' if one else 'those rows'}")
    return [regression_value(value) for value in values]


def class_weights(spec, problem_type: str, labels: list[str], rows: list) -> list[float] | None:
    """`train.class_weights` as one weight per label id: single-label cross-entropy weights, or multi-label BCE
    pos_weights. `rows` holds each training row's label key (single-label) or label set (multi-label).
    "balanced": n / (labels x rows of the label) for single-label (scikit-learn's), rows without the label /
    rows with it for multi-label (1 for a label every row has). A mapping names labels; the others weigh 1."""
    if spec in (None, "none"):
        return None
    if problem_type == REGRESSION:
        raise UserError("train.class_weights weighs classes, and a regression run has none; drop it (or "
                        "--set train.class_weights=none)")
    if isinstance(spec, dict):
        unknown = [name for name in spec if name not in labels]
        if unknown:
            raise UserError(f"train.class_weights names label(s) not in the training data: "
                            f"{', '.join(map(repr, unknown[:5]))} (labels: {', '.join(labels[:20])})")
        bad = {name: weight for name, weight in spec.items() if not (math.isfinite(weight) and weight > 0)}
        if bad:
            name, weight = next(iter(bad.items()))
            raise UserError(f"train.class_weights.{name} must be a number greater than 0, got {weight}")
        return [float(spec.get(label, 1.0)) for label in labels]
    total = len(rows)
    if problem_type == MULTI:
        having = [sum(label in found for found in rows) for label in labels]
        return [(total - count) / count if count and total > count else 1.0 for count in having]
    counts = {label: 0 for label in labels}
    for key in rows:
        counts[key] = counts.get(key, 0) + 1
    return [total / (len(labels) * counts[label]) if counts[label] else 1.0 for label in labels]
