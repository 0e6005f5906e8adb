"""One trial's run: a worker process trains it (`run_trial`), the search watches it (`watch`).

How pruning sees the epochs: the training loop appends one record per epoch to the run's `log.jsonl`,
with its validation scores, as it validates; the search polls that file (every half second) while the
worker runs, and hands each new epoch's score to the pruner. When the pruner says stop, the worker is
killed at once (SIGKILL: nothing of a pruned trial is kept but its log), so a pruned trial costs at most
its next few batches. The worker itself knows nothing of Optuna: it is a plain run, and a crash in it
loses only that trial.

Ctrl-C or SIGTERM reach the worker too: it saves a checkpoint at its next step and stops; the search
waits for it and stops too, and the same command later continues that trial from its checkpoint.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

POLL_SECONDS = 0.5


@dataclass
class Outcome:
    """How a worker ended."""

    returncode: int | None = None
    pruned: bool = False
    interrupted: str | None = None
    """The name of the signal that stopped the search (and the worker), if one did."""
    seconds: float = 0.0
    epochs: dict[int, float] = field(default_factory=dict)
    """Each validated epoch's score, as the worker logged it."""


def epoch_scores(log: Path, key: str) -> dict[int, float]:
    """{epoch: score} from a run's log.jsonl: the per-epoch records holding `key` (complete lines only)."""
    try:
        text = log.read_text()
    except OSError:
        return {}
    scores = {}
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # being written
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if key in record and "train_loss" in record and isinstance(record.get("epoch"), int):
            scores[record["epoch"]] = float(record[key])
    return scores


def watch(command: list[str], logs: list[Path], key: str, on_epoch: Callable[[int, float], bool],
          stdout=subprocess.DEVNULL) -> Outcome:
    """Run the worker `command` to its end, reading each new epoch's `key` score from the first of `logs`
    that exists (the staging folder's log while it trains, the finished run's after) and passing it to
    `on_epoch`; when that returns True the worker is killed and the outcome is `pruned`. Ctrl-C and SIGTERM
    reach the worker too (it checkpoints and stops); here they are noted, and the worker is waited for."""
    received: list[str] = []

    def note(signum, frame):
        received.append(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    outcome, start, forwarded = Outcome(), time.perf_counter(), False
    try:
        worker = subprocess.Popen(command, stdout=stdout)
        while True:
            try:
                outcome.returncode = worker.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:
                received.append("SIGINT")
            if received and not forwarded and worker.poll() is None:
                # A terminal's Ctrl-C reached the worker already, `kill PID` did not: SIGTERM makes it
                # checkpoint either way (a second SIGINT would stop it at once, without one).
                worker.send_signal(signal.SIGTERM)
                forwarded = True
            if outcome.returncode is not None or received:
                if outcome.returncode is None:
                    outcome.returncode = _wait_through_signals(worker)
                _read_epochs(outcome, logs, key, lambda epoch, value: False)
                break
            if _read_epochs(outcome, logs, key, on_epoch):
                worker.kill()
                worker.wait()
                outcome.pruned = True
                break
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    outcome.interrupted = received[0] if received else None
    outcome.seconds = time.perf_counter() - start
    return outcome


def _wait_through_signals(worker: subprocess.Popen) -> int:
    while True:
        try:
            return worker.wait()
        except KeyboardInterrupt:
            continue


def _read_epochs(outcome: Outcome, logs: list[Path], key: str, on_epoch: Callable[[int, float], bool]) -> bool:
    """New epochs' scores into `outcome`, each passed to `on_epoch`; True once one of those says prune."""
    log = next((path for path in logs if path.is_file()), None)
    if log is None:
        return False
    for epoch, value in sorted(epoch_scores(log, key).items()):
        if epoch in outcome.epochs:
            continue
        outcome.epochs[epoch] = value
        if on_epoch(epoch, value):
            return True
    return False


def run_trial(config_file: Path, out: Path) -> None:
    """Train one trial (or the best settings) as a plain run in `out`, from `config_file` (a whole config, as
    a run's config.yaml): a finished run is left alone, an interrupted one continues from its checkpoint."""
    from ftcli.config import build_config, load_recipe
    from ftcli.rundir import RunDirectory, is_run_directory
    from ftcli.runner import run

    if is_run_directory(out) and (out / "metrics.json").is_file():
        return
    config = build_config(recipe=load_recipe(config_file))
    config.output_dir = str(out)
    staging = RunDirectory(out).staging
    resume = (staging / "config.yaml").is_file() and (staging / "checkpoints").is_dir()
    run(config, overwrite=not resume, resume=resume)


def keep_records(out: Path, record: Path) -> None:
    """A trial's config, log and metrics copied to `record`; its run (model, checkpoints) removed."""
    from ftcli.rundir import RunDirectory, is_ftcli_run

    record.mkdir(parents=True, exist_ok=True)
    for folder in (out, RunDirectory(out).staging):
        if not folder.is_dir():
            continue
        for name in ("log.jsonl", "metrics.json"):
            if (folder / name).is_file():
                shutil.copyfile(folder / name, record / name)
        if is_ftcli_run(folder):
            shutil.rmtree(folder)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
