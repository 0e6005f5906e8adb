"""Which transformer layer a parameter belongs to, read from its name, for freezing the
lower layers and for layer-wise learning-rate decay.

Depth 0 is the embeddings, 1..L the transformer layers, and L + 1 everything above them
(pooler, final norm, head). ftcli's own architectures declare their layer naming
(`models.registry`); other checkpoints fall back to the common names (`encoder.layer.3.`,
`h.3.`, `layers.3.`, `block.3.`).
"""

from __future__ import annotations

import re

from torch import nn

from ftcli.errors import UserError
from ftcli.models.registry import Architecture, architecture_of

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
_EMBEDDING = re.compile(r"embed|(?:^|\.)(?:wte|wpe)\.")


DEPTH_KEYS = ("num_hidden_layers", "n_layers", "n_layer", "num_layers")
"""Where configs keep their depth: BERT-like, DistilBERT, GPT-2, others."""


def config_depth(config) -> tuple[str, int] | None:
    """(the config key holding the number of layers, its value), or None when the config has none."""
    values = config.to_dict() if hasattr(config, "to_dict") else {}
    return next(((key, values[key]) for key in DEPTH_KEYS if isinstance(values.get(key), int)), None)


def num_layers(model: nn.Module) -> int:
    depth = config_depth(getattr(model, "config", None))
    if depth is not None:
        return depth[1]
    indices = [int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search(name))]
    return max(indices) + 1 if indices else 0


def layer_depth(name: str, total_layers: int, architecture: Architecture | None = None) -> int:
    """0 for embeddings, i + 1 for transformer layer i, total_layers + 1 for the rest. A layer
    shared by every depth (ALBERT) counts as the top layer, the last one to use it."""
    if architecture is not None:
        index = architecture.layer_index(name)
        if index is not None:
            return total_layers if architecture.shared_layers else index + 1
        return 0 if architecture.is_embedding(name) else total_layers + 1
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
    architecture = architecture_of(model)
    if architecture is not None and architecture.shared_layers and 0 < first_layers < total:
        raise UserError(f"{architecture.model_type} shares one set of weights across its {total} layers: "
                        f"freeze all of them (full.freeze_layers={total}) or none")
    frozen = 0
    for name, parameter in model.named_parameters():
        depth = layer_depth(name, total, architecture)
        if (embeddings and depth == 0) or 1 <= depth <= first_layers:
            parameter.requires_grad_(False)
            frozen += 1
    return frozen
