"""Training losses summed on the device, and the logging window they are averaged over."""

from __future__ import annotations

import math

import torch
from accelerate import Accelerator

from ftcli.config import TrainConfig
from ftcli.loop_state import LoopState


POINTS = 10
"""Loss lines a run logs at least (when it has that many optimizer steps)."""


def logging_interval(train_cfg: TrainConfig, batches_per_epoch: int) -> int:
    """Optimizer steps between two log.jsonl lines: `train.logging_steps`, or fewer in a short run, so that
    every run logs about POINTS losses or more (12 steps in all: every step; 100: every 10; 1000: every 20).
    `batches_per_epoch`: this process's."""
    steps = math.ceil(batches_per_epoch / train_cfg.grad_accum_steps) * train_cfg.epochs
    return max(1, min(train_cfg.logging_steps, steps // POINTS))


class NonFiniteLoss(Exception):
    """The training loss summed since the last read became NaN or infinite, by `step` of `epoch`."""

    def __init__(self, value: float, step: int, epoch: int):
        super().__init__(f"the training loss became {value} by step {step} (epoch {epoch})")
        self.value, self.step, self.epoch = value, step, epoch


class DeviceLosses:
    """Training losses summed where they are computed and read only at logging steps, checkpoints and epoch
    ends: reading one every step would make the host wait for the device before queueing the next step.
    With several processes the sums are averaged over them when read (every process reads at the same
    steps), so the logged loss is the whole global batch's and a NaN on any process stops them all.

    What was read adds to the logging window (`take_window` averages it for a log line) and to the epoch's
    totals in the loop state. The window goes into the state for a checkpoint (`save_window`) and comes back
    from it on resume (`restore_window`), so a resumed run logs the lines an uninterrupted one does."""

    def __init__(self, accelerator: Accelerator | None = None):
        self.accelerator = accelerator
        self.total, self.parts, self.batches = None, {}, 0
        self.reset_window()

    def add(self, loss: torch.Tensor, parts: dict[str, torch.Tensor] | None) -> None:
        value = loss.detach().float()
        self.total = value if self.total is None else self.total + value
        for part, part_loss in (parts or {}).items():  # GPT-1's auxiliary LM loss is logged apart
            part_loss = part_loss.detach().float()
            self.parts[part] = part_loss if part not in self.parts else self.parts[part] + part_loss
        self.batches += 1

    def flush_into(self, state: LoopState, epoch: int) -> None:
        """Add the sums to the logging window and to the epoch's totals in `state`; a NaN or infinite sum
        raises NonFiniteLoss (before anything is added: a checkpoint never holds a NaN run)."""
        if not self.batches:
            return
        if self.accelerator is not None and self.accelerator.num_processes > 1:
            self.total = self.accelerator.reduce(self.total.clone(), reduction="mean")
            self.parts = {part: self.accelerator.reduce(value.clone(), reduction="mean") for part, value in self.parts.items()}
        total = self.total.item()
        if not math.isfinite(total):
            raise NonFiniteLoss(total, state.global_step, epoch)
        self.window_loss_sum += total
        self.window_batches += self.batches
        state.epoch_loss_sum += total
        state.epoch_loss_batches += self.batches
        for part, value in self.parts.items():
            self.window_parts[part] = self.window_parts.get(part, 0.0) + value.item()
        self.total, self.parts, self.batches = None, {}, 0

    def running_mean(self) -> float | None:
        """The logging window's mean loss so far, for the progress bar (None before its first batch): one
        read of the device, this process's batches not yet flushed included as they are (no reduction)."""
        batches = self.window_batches + self.batches
        if not batches:
            return None
        pending = self.total.item() if self.total is not None else 0.0
        return (self.window_loss_sum + pending) / batches

    def take_window(self) -> tuple[float, dict[str, float]]:
        """The logging window's mean loss and mean loss of each part; the next window starts empty."""
        batches = max(self.window_batches, 1)
        loss, parts = self.window_loss_sum / batches, {part: total / batches for part, total in self.window_parts.items()}
        self.reset_window()
        return loss, parts

    def reset_window(self) -> None:
        self.window_loss_sum, self.window_batches, self.window_parts = 0.0, 0, {}

    def save_window(self, state: LoopState) -> None:
        state.window_loss_sum, state.window_batches = self.window_loss_sum, self.window_batches
        state.window_parts = dict(self.window_parts)

    def restore_window(self, state: LoopState) -> None:
        self.window_loss_sum, self.window_batches = state.window_loss_sum, state.window_batches
        self.window_parts = dict(state.window_parts)
