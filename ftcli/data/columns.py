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
    return {**defaults, **overrides}


def check_columns(dataset: Dataset, columns: dict[str, str], fields: list[str], where: str) -> None:
    """Raise UserError naming the missing column, the columns that exist, and the fix."""
    for field_name in fields:
        column = columns[field_name]
        if column not in dataset.column_names:
            raise UserError(
                f"{where} has no '{column}' column for the {field_name} (columns: "
                f"{', '.join(dataset.column_names)}); map it with --set data.columns.{field_name}=NAME"
            )


def check_texts(dataset: Dataset, columns: dict[str, str], fields: list[str] | tuple[str, ...], where: str) -> None:
    """Raise UserError naming the first row whose text field is empty or not a string."""
    for field_name in fields:
        column = columns[field_name]
        texts = dataset[column]
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()), None)
        if bad is not None:
            raise UserError(f"{where}: row {bad + 1} has an empty or non-text '{column}'; fill or drop it")
