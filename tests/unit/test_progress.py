"""Training progress: the loss from the first step at a terminal and without one, plain lines paced by a
clock (a fake one here: no test waits or depends on the machine's speed), and a logging interval that gives
short runs about ten loss points."""

import io
import json
import re

import pytest
import torch
from rich.console import Console

import ftcli.progress as progress
from ftcli.config import TrainConfig
from ftcli.device_losses import DeviceLosses, logging_interval
from ftcli.loop_state import LoopState
from ftcli.progress import LinePacer, _Bar, _PlainLines, progress_bar
from tests.conftest import sentiment_rows, write_csv


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lines(monkeypatch):
    """What progress prints, line by line, as it would without a terminal."""
    stream = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=stream, width=200, force_terminal=False))
    monkeypatch.setattr(progress, "plain_output", lambda: True)
    return lambda: stream.getvalue().splitlines()


def steps_shown(printed: list[str]) -> list[int]:
    return [int(re.match(r"Epoch \d+/\d+: (\d+)/", line).group(1)) for line in printed]


def test_plain_lines_come_at_most_every_second_and_every_tenth_with_the_loss_from_the_first(lines):
    clock = FakeClock()
    bar = _PlainLines("Epoch 1/1", 40, LinePacer(clock=clock))
    reads = []

    def loss():
        reads.append(clock.now)
        return 0.5

    for _ in range(40):
        clock.now += 0.25  # a step takes a quarter of a second: a tenth (4 steps) takes one
        bar.advance(loss=loss, speed="64.0")
    printed = lines()
    # The first step at once, then a line each tenth of the way, those being a second apart.
    assert steps_shown(printed) == [1, 5, 9, 13, 17, 21, 25, 29, 33, 37]
    assert printed[0] == "Epoch 1/1: 1/40, loss 0.5000, 64.0 ex/s, ETA 0:00:10"
    assert len(reads) == len(printed)  # the loss is read from the device only for a line printed


def test_a_fast_bar_prints_a_line_a_second_not_one_a_tenth(lines):
    clock = FakeClock()
    bar = _PlainLines("Epoch 1/1", 400, LinePacer(clock=clock))
    for _ in range(400):
        clock.now += 1 / 128  # 400 steps in about three seconds
        bar.advance(loss=lambda: 0.25)
    assert steps_shown(lines()) == [1, 129, 257, 385]


def test_many_short_epochs_print_a_few_lines_and_always_the_last_summary(lines):
    """A `compare` cell: 25 epochs of 4 steps in under a second printed 125 lines before (a line per step
    and a summary per epoch); one pacer shared by the run's epochs prints a line a second at most."""
    clock = FakeClock()
    pacer = LinePacer(clock=clock)
    for epoch in range(1, 26):
        with progress_bar(None, f"Epoch {epoch}/25", total=4, stats=True, pacer=pacer) as bar:
            for _ in range(4):
                clock.now += 1 / 64
                bar.advance(loss=lambda: 0.7, speed="100.0")
        pacer.say(f"Epoch {epoch}/25: train loss 0.7000", force=epoch == 25)
    assert lines() == ["Epoch 1/25: 1/4, loss 0.7000, 100.0 ex/s, ETA 0:00:00",
                       "Epoch 17/25: 1/4, loss 0.7000, 100.0 ex/s, ETA 0:00:00",
                       "Epoch 25/25: train loss 0.7000"]


def test_at_a_terminal_epoch_summaries_are_all_printed(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=stream, width=200, force_terminal=True))
    monkeypatch.setattr(progress, "plain_output", lambda: False)
    pacer = LinePacer(clock=FakeClock())
    for epoch in (1, 2, 3):
        pacer.say(f"Epoch {epoch}/3: train loss 0.5")
    assert stream.getvalue().count("train loss") == 3


class RecordingProgress:
    def __init__(self):
        self.updates = []

    def update(self, task_id, advance, **fields):
        self.updates.append(fields)


def test_the_live_bar_reads_the_loss_at_the_first_step_then_every_half_second_and_at_the_end():
    clock, recorded = FakeClock(), RecordingProgress()
    bar = _Bar(recorded, 0, total=10, clock=clock)
    losses = iter(x / 10 for x in range(1, 100))
    for _ in range(10):
        clock.now += 0.2
        bar.advance(loss=lambda: next(losses), speed="5.0")
    shown = [update.get("loss") for update in recorded.updates]
    # Read at steps 1, 4 (0.6 s later), 7 and the last: four reads of the device for ten steps.
    assert shown == ["0.1000", None, None, "0.2000", None, None, "0.3000", None, None, "0.4000"]
    assert all(update["speed"] == "5.0" for update in recorded.updates)


def test_the_live_bar_shows_the_loss_of_an_epoch_shorter_than_the_logging_interval(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=stream, width=200, force_terminal=True))
    monkeypatch.setattr(progress, "plain_output", lambda: False)
    with progress_bar(None, "Epoch 1/1", total=12, stats=True) as bar:
        bar.advance(loss=lambda: 0.6931, speed="10.0")
    assert "loss 0.6931" in stream.getvalue()


def test_the_running_mean_covers_the_logging_window_flushed_or_not():
    losses = DeviceLosses()
    assert losses.running_mean() is None  # nothing to show before the first batch
    losses.add(torch.tensor(1.0), None)
    assert losses.running_mean() == pytest.approx(1.0)
    losses.add(torch.tensor(3.0), None)
    losses.flush_into(LoopState(), epoch=1)
    losses.add(torch.tensor(5.0), None)
    assert losses.running_mean() == pytest.approx(3.0)
    assert losses.take_window()[0] == pytest.approx(2.0)  # reading it did not move anything
    losses.flush_into(LoopState(), epoch=1)
    assert losses.running_mean() == pytest.approx(5.0) and losses.take_window()[0] == pytest.approx(5.0)


@pytest.mark.parametrize("logging_steps, epochs, batches, accumulation, expected", [
    (20, 2, 6, 1, 1), (20, 1, 1, 1, 1), (20, 25, 4, 1, 10), (20, 1, 199, 1, 19), (20, 10, 100, 1, 20),
    (5, 10, 100, 1, 5), (20, 1, 400, 2, 20), (20, 1, 399, 4, 10)])
def test_the_logging_interval_gives_about_ten_points(logging_steps, epochs, batches, accumulation, expected):
    """min(train.logging_steps, optimizer steps in all // 10), at least 1: a 12-step run logs every step."""
    config = TrainConfig(logging_steps=logging_steps, epochs=epochs, grad_accum_steps=accumulation)
    assert logging_interval(config, batches) == expected


def test_a_twelve_step_run_logs_a_loss_each_step_and_shows_it_from_the_first_line(cli, tmp_path, tiny_bert):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(48))
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", train, "--eval", train,
                 "--output-dir", out, "--epochs", "2", "--batch-size", "8", "--max-length", "16")
    assert result.exit_code == 0, result.stderr
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 13))  # 12 steps, train.logging_steps 20
    # The speed of each window: its examples (8 a step) over its seconds.
    assert all(r["examples_per_second"] > 0 for r in steps)
    first = next(line for line in result.stderr.splitlines() if line.startswith("Epoch 1/2: "))
    assert re.match(r"Epoch 1/2: 1/6, loss \d\.\d{4}, ", first)
