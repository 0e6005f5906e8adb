"""Rich progress bars shown by the main process only."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from datetime import timedelta

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


def percent(part: float, whole: float) -> str:
    """`part` of `whole` as a percentage people read: two decimals, but a small share keeps two significant
    digits instead of rounding to 0.00% (770 of 22,713,986 parameters: 0.0034%)."""
    share = 100 * part / whole if whole else 0.0
    return f"{share:.2f}%" if share == 0 or share >= 1 else f"{share:.2g}%"


def number(value) -> str:
    """A statistic as people read it: integers with thousands separators (22,713,986), floats with one decimal
    from 10 up (1,369.2 MB) and three below; text as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3f}"


def warn(message: str) -> None:
    """One `warning:` line on stderr, never wrapped (paths in it stay whole for grep and copy)."""
    console.print(f"[yellow]warning:[/] {message}", soft_wrap=True, highlight=False)


class _Bar:
    def __init__(self, progress: Progress | None, task_id):
        self._progress, self._task_id = progress, task_id

    def advance(self, steps: int = 1, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task_id, advance=steps, **fields)


class _PlainLines:
    """Without a terminal (CI logs, pipes): a plain line at every tenth of the way, with the step, the
    loss, the speed and the time left, instead of a live bar."""

    def __init__(self, description: str, total: int):
        self.description, self.total, self.done = description, total, 0
        self.start, self.next_line = time.perf_counter(), max(1, total // 10)

    def advance(self, steps: int = 1, **fields) -> None:
        self.done += steps
        if self.done < self.next_line and self.done != self.total:
            return
        self.next_line = self.done + max(1, self.total // 10)
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        extra = "".join(f", {name} {fields[name]}" for name in ("loss",) if fields.get(name, "-") != "-")
        speed = f", {fields['speed']} ex/s" if fields.get("speed", "-") != "-" else ""
        console.print(f"{self.description}: {self.done}/{self.total}{extra}{speed}, "
                      f"ETA {timedelta(seconds=round(left))}", highlight=False, soft_wrap=True)


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
    # Without a terminal (CI logs, pipes) a live bar only adds noise: training prints plain lines instead.
    if not console.is_terminal and not sys.stderr.isatty():
        yield _PlainLines(description, total) if stats else _Bar(None, None)
        return
    with Progress(*columns, console=console, transient=transient) as progress:
        task_id = progress.add_task(description, total=total, loss="-", speed="-")
        yield _Bar(progress, task_id)
