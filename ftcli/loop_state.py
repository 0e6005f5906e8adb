"""What the training loop needs to continue exactly where a checkpoint was taken (the RNG, model,
optimizer and scheduler states are accelerate's part of the checkpoint). Saved as the checkpoint's
trainer_state.json (`dataclasses.asdict`); its keys are those of every earlier version, so a run
checkpointed by one resumes with another.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class LoopState:
    epoch: int = 0
    """The last epoch whose training is done (0 before the first)."""
    global_step: int = 0
    epoch_batches: int = 0
    """Batches of the current epoch done: a resumed run skips them."""
    epoch_loss_sum: float = 0.0
    epoch_loss_batches: int = 0
    window_loss_sum: float = 0.0
    """The logging window (`DeviceLosses` keeps it while training and puts it here for a checkpoint)."""
    window_batches: int = 0
    window_parts: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    evals_without_improvement: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    """One record per validated epoch, as log.jsonl has it."""
    log_lines: int = 0
    """Lines of log.jsonl when the checkpoint was taken: a resumed run drops the ones written after."""
    skipped_batches: int = 0
    train_seconds: float = 0.0
    train_examples: int = 0
    # The phases after training, each recorded once done so that a killed run does not do it again:
    unvalidated: dict[str, Any] | None = None
    """The record of an epoch trained and checkpointed but not yet validated."""
    test: dict[str, Any] | None = None
    """The kept model's test scores: {"metrics": ..., "seconds": ...}."""
    model_saved: bool = False

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> "LoopState":
        """The state a checkpoint's trainer_state.json holds: keys this version does not know are ignored,
        keys an older version did not write take their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in saved.items() if key in known})
