"""Mapping the task's fields (text, label, ...) onto the columns a file actually has."""

from __future__ import annotations

from datasets import Dataset

from ftcli.errors import UserError


def resolve_columns(defaults: dict[str, str], overrides: dict[str, str], task: str) -> dict[str, str]:
    """Task field -> column name: the task's defaults, with the user's mapping applied."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise UserError(
            f"unknown column field(s) {', '.join(unknown)} for task {task}; "
            f"its fields are {', '.join(defaults)}"
        )
    mapped = {**defaults, **overrides}
    readers: dict[str, list[str]] = {}
    for field_name, column in mapped.items():
        readers.setdefault(column, []).append(field_name)
    shared = {column: names for column, names in readers.items() if len(names) > 1}
    if shared:
        column, names = next(iter(shared.items()))
        raise UserError(f"the {' and '.join(names)} fields both read the column '{column}' (data.columns); "
                        "each field needs its own column (a model given its label as input learns nothing)")
    return mapped


def check_columns(dataset: Dataset, columns: dict[str, str], fields: list[str], where: str) -> None:
    """Raise UserError naming the missing column, the columns that exist, and the fix."""
    for field_name in fields:
        column = columns[field_name]
        if column not in dataset.column_names:
            raise UserError(
                f"{where} has no '{column}' column for the {field_name} (columns: "
                f"{', '.join(dataset.column_names)}); map it with --column {field_name}=NAME"
            )


def file_row_numbers(dataset: Dataset) -> list[int]:
    """Each row's number (from 1) in the file it was read from, for error messages.

    shuffle, select and train_test_split keep the rows in place and add an indices mapping (the
    original row ids); without one the rows are in file order. (A contiguous `select(range(a, b))`
    slices without a mapping, so a slice not starting at 0 counts from its first row.)"""
    indices = getattr(dataset, "_indices", None)
    if indices is None:
        return list(range(1, dataset.num_rows + 1))
    return [i + 1 for i in indices.column(0).to_pylist()]


def describe_rows(rows: list[int], shown: int = 5) -> str:
    """'row 7', or 'rows 3, 9, 12, 15, 20 and 4 more'."""
    if len(rows) == 1:
        return f"row {rows[0]}"
    more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
    return f"rows {', '.join(map(str, rows[:shown]))}{more}"


def check_texts(dataset: Dataset, columns: dict[str, str], fields: list[str] | tuple[str, ...], where: str) -> None:
    """Raise UserError naming the (first few) rows whose text field is empty or not a string."""
    for field_name in fields:
        column = columns[field_name]
        bad = [i for i, t in enumerate(dataset[column]) if not isinstance(t, str) or not t.strip()]
        if bad:
            rows = file_row_numbers(dataset)
            verb = "has" if len(bad) == 1 else "have"
            raise UserError(f"{where}: {describe_rows(sorted(rows[i] for i in bad))} {verb} an empty or "
                            f"non-text '{column}'; fill or drop {'it' if len(bad) == 1 else 'them'}")
