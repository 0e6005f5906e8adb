"""Rich progress bars shown by the main process only."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Callable

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


FIELD_REFRESH = 0.5
"""Seconds between two reads of a bar's lazy fields (the loss, which the device holds)."""


def plain_output() -> bool:
    """Without a terminal (CI logs, pipes) a live bar only adds noise: progress is printed as plain lines."""
    return not console.is_terminal and not sys.stderr.isatty()


class LinePacer:
    """Paces the plain progress lines of one run (its epochs' lines and epoch summaries): at most one every
    `interval` seconds, so that a run of many short epochs (a `compare` cell) prints a few lines, not hundreds.
    `clock` is injectable (tests pass a fake one)."""

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.interval, self.clock, self.last = interval, clock, None

    def due(self, force: bool = False) -> bool:
        """May a line be printed now? (Always when forced; then the next one waits `interval` again.)"""
        now = self.clock()
        if force or self.last is None or now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def say(self, text: str, force: bool = False) -> None:
        """A status line (an epoch's summary): always at a terminal; without one when due or `force`d."""
        if not plain_output() or self.due(force):
            console.print(text)


def _read(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as shown: a callable is read now (None: nothing to show yet, the field is left out) and a
    number gets four decimals."""
    shown = {}
    for name, value in fields.items():
        value = value() if callable(value) else value
        if value is not None:
            shown[name] = f"{value:.4f}" if isinstance(value, float) else value
    return shown


class _Bar:
    """A live bar. A field given as a callable (the loss, which costs a read from the device) is read at the
    first step, then at most every FIELD_REFRESH seconds, and at the last step."""

    def __init__(self, progress: Progress | None, task_id, total: int = 0, clock: Callable[[], float] = time.monotonic):
        self._progress, self._task_id, self.total, self.done = progress, task_id, total, 0
        self._clock, self._read_at = clock, None

    def advance(self, steps: int = 1, **fields) -> None:
        if self._progress is None:
            return
        self.done += steps
        lazy = [name for name, value in fields.items() if callable(value)]
        now = self._clock()
        if lazy and (self._read_at is None or now - self._read_at >= FIELD_REFRESH or self.done >= self.total):
            self._read_at = now
        else:
            fields = {name: value for name, value in fields.items() if name not in lazy}
        self._progress.update(self._task_id, advance=steps, **_read(fields))


class _PlainLines:
    """Without a terminal: a plain line with the step, the loss, the speed and the time left, once a tenth of
    the way has passed since the last line and the run's pacer allows one (at most a line a second). The
    fields are read only for a line printed (a callable loss: one read of the device per line)."""

    def __init__(self, description: str, total: int, pacer: LinePacer):
        self.description, self.total, self.done, self.pacer = description, total, 0, pacer
        self.start, self.next_line = pacer.clock(), 1

    def advance(self, steps: int = 1, **fields) -> None:
        self.done += steps
        if self.done < self.next_line and self.done < self.total or not self.pacer.due():
            return
        self.next_line = self.done + max(1, self.total // 10)
        elapsed = self.pacer.clock() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        shown = _read(fields)
        loss = f", loss {shown['loss']}" if shown.get("loss", "-") != "-" else ""
        speed = f", {shown['speed']} ex/s" if shown.get("speed", "-") != "-" else ""
        console.print(f"{self.description}: {self.done}/{self.total}{loss}{speed}, "
                      f"ETA {timedelta(seconds=round(left))}", highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(accelerator, description: str, total: int, transient: bool = False, stats: bool = False,
                 pacer: LinePacer | None = None):
    """A bar with steps, elapsed time and ETA; `stats=True` adds loss and examples/s fields (a field may be
    a callable, read only when shown). Without a terminal, a `stats` bar prints plain lines paced by `pacer`
    (one shared by a run's bars: a line a second at most) and the others print nothing."""
    if accelerator is not None and not accelerator.is_main_process:
        yield _Bar(None, None)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if stats:
        columns.append(TextColumn("loss {task.fields[loss]}  {task.fields[speed]} ex/s"))
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    if plain_output():
        yield _PlainLines(description, total, pacer or LinePacer()) if stats else _Bar(None, None)
        return
    with Progress(*columns, console=console, transient=transient) as progress:
        task_id = progress.add_task(description, total=total, loss="-", speed="-")
        yield _Bar(progress, task_id, total)
