"""Which transformer layer a parameter belongs to, read from its name, for freezing the
lower layers and for layer-wise learning-rate decay.

Depth 0 is the embeddings, 1..L the transformer layers (`encoder.layer.3.`, `h.3.`,
`layers.3.`, `block.3.`), and L + 1 everything above them (pooler, final norm, head).
"""

from __future__ import annotations

import re

from torch import nn

from ftcli.errors import UserError

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
_EMBEDDING = re.compile(r"embed|(?:^|\.)(?:wte|wpe)\.")


def num_layers(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    indices = [int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search(name))]
    return max(indices) + 1 if indices else 0


def layer_depth(name: str, total_layers: int) -> int:
    """0 for embeddings, i + 1 for transformer layer i, total_layers + 1 for the rest."""
    match = _LAYER.search(name)
    if match:
        return int(match.group(1)) + 1
    if _EMBEDDING.search(name):
        return 0
    return total_layers + 1


def freeze_lower_layers(model: nn.Module, embeddings: bool, first_layers: int) -> int:
    """Stop gradients for the embeddings and/or the first N layers; returns the tensors frozen."""
    if first_layers < 0:
        raise UserError(f"full.freeze_layers must be 0 or more, got {first_layers}")
    total = num_layers(model)
    if first_layers > total:
        raise UserError(f"full.freeze_layers is {first_layers} but the model has {total} layers")
    frozen = 0
    for name, parameter in model.named_parameters():
        depth = layer_depth(name, total)
        if (embeddings and depth == 0) or 1 <= depth <= first_layers:
            parameter.requires_grad_(False)
            frozen += 1
    return frozen
