"""Option aliases shared by several commands (huggingface_hub cli style)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="Catalogue alias (`ftcli models ls`), checkpoint directory, or Hub id.")]
TaskOpt = Annotated[Optional[str], typer.Option("--task", help="Task name; read from the run directory when omitted.")]
OutputFileOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the results as JSON to this file.")]
ColumnOpt = Annotated[Optional[list[str]], typer.Option("--column", help="Map a task field to a column: FIELD=NAME (repeatable), e.g. text=review.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Examples per forward pass.")]


def parse_columns(items: list[str] | None) -> dict[str, str]:
    from ftcli.errors import UserError

    mapping = {}
    for item in items or []:
        field, sep, name = item.partition("=")
        if not sep or not field or not name:
            raise UserError(f"--column expects FIELD=NAME, got {item!r}")
        mapping[field] = name
    return mapping


def check_batch_size(batch_size: int) -> None:
    """A batch of 0 (or fewer) examples would make the DataLoader raise deep inside evaluation."""
    from ftcli.errors import UserError

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
