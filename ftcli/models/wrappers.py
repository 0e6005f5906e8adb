"""What the training loop trains around the model a run saves: GPT-1's auxiliary LM loss, a student with its
teacher, a pre-training objective, prompt tuning's alignment of virtual tokens. Each is a `TrainingWrapper`,
and `saved_model` is the one way to get the model inside (the loop, strategies and export need no
knowledge of which wrapper it is)."""

from __future__ import annotations

from torch import nn


class TrainingWrapper(nn.Module):
    """Wraps `model` (kept under the attribute `wrapped`, "model" unless a subclass names another, so a
    checkpoint's parameter names stay what they were) and shares its config."""

    wrapped = "model"

    def saved_model(self) -> nn.Module:
        return getattr(self, self.wrapped)


def saved_model(model: nn.Module) -> nn.Module:
    """The model a run saves: the one inside a training wrapper, or `model` itself."""
    return model.saved_model() if isinstance(model, TrainingWrapper) else model
