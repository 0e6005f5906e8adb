"""Full fine-tuning: every weight trains; the new head may use its own learning rate."""

from __future__ import annotations

from torch import nn


def prepare(model: nn.Module) -> nn.Module:
    """Nothing is frozen."""
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model
