"""Rich progress bars shown by the main process only."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Progress and tables go to stderr so `--output -` style stdout stays machine-readable.
console = Console(stderr=True)


class _Bar:
    def __init__(self, progress: Progress | None, task_id):
        self._progress, self._task_id = progress, task_id

    def advance(self, steps: int = 1, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task_id, advance=steps, **fields)


@contextmanager
def progress_bar(accelerator, description: str, total: int, transient: bool = False, stats: bool = False):
    """A bar with steps, elapsed time and ETA; `stats=True` adds loss and examples/s fields."""
    if accelerator is not None and not accelerator.is_main_process:
        yield _Bar(None, None)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if stats:
        columns.append(TextColumn("loss {task.fields[loss]}  {task.fields[speed]} ex/s"))
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    # Without a terminal (CI logs, pipes) a live bar only adds noise.
    with Progress(*columns, console=console, transient=transient,
                  disable=not console.is_terminal and not sys.stderr.isatty()) as progress:
        task_id = progress.add_task(description, total=total, loss="-", speed="-")
        yield _Bar(progress, task_id)
