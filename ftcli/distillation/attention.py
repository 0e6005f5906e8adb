"""What a model's config says about its shape, and attention maps rebuilt from forward hooks.

ftcli's models run attention through SDPA, which returns no probabilities; `AttentionRecorder`
catches the query and key projections' outputs so TinyBERT's attention loss can recompute them.
This works for encoders with separate query/key projections (BERT, MiniLM, ELECTRA, ALBERT,
DistilBERT, RoBERTa...); `check_attention_support` refuses the others.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ftcli.distillation.losses import attention_probabilities
from ftcli.errors import UserError
from ftcli.models.layers import DEPTH_KEYS, config_depth


def layer_count(config) -> tuple[str, int]:
    """(the config key holding the depth, its value)."""
    depth = config_depth(config)
    if depth is None:
        raise UserError(f"cannot tell how many layers a {config.model_type} model has (none of {', '.join(DEPTH_KEYS)})")
    return depth


def hidden_width(config) -> int:
    for key in ("hidden_size", "dim", "n_embd", "d_model"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise UserError(f"cannot tell the hidden size of a {config.model_type} model")


def head_count(config) -> int:
    for key in ("num_attention_heads", "n_heads", "n_head"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise UserError(f"cannot tell how many attention heads a {config.model_type} model has")


def attention_projections(model: nn.Module) -> list[tuple[nn.Linear, nn.Linear]]:
    """The (query, key) projections of each self-attention module, in layer order: BERT's naming
    (query/key: BERT, MiniLM, ELECTRA, ALBERT, RoBERTa) or DistilBERT's (q_lin/k_lin)."""
    found = []
    for module in model.modules():
        for q_name, k_name in (("query", "key"), ("q_lin", "k_lin")):
            q, k = module._modules.get(q_name), module._modules.get(k_name)
            if isinstance(q, nn.Linear) and isinstance(k, nn.Linear):
                found.append((q, k))
    return found


class AttentionRecorder:
    """Catches the query and key projections' outputs of every attention call (forward hooks) while
    `recording()`, so attention probabilities can be rebuilt. A layer shared by every depth
    (ALBERT) is caught once per call, so the calls still line up with the layers."""

    def __init__(self, model: nn.Module, num_heads: int, num_layers: int):
        self.num_heads, self.num_layers = num_heads, num_layers
        self.active = False
        self.queries: list[torch.Tensor] = []
        self.keys: list[torch.Tensor] = []
        self.handles = []
        for query, key in attention_projections(model):
            self.handles.append(query.register_forward_hook(self._catch(self.queries)))
            self.handles.append(key.register_forward_hook(self._catch(self.keys)))

    def _catch(self, into: list):
        def hook(module, inputs, output):
            if self.active:
                into.append(output)
        return hook

    @contextlib.contextmanager
    def recording(self):
        self.queries.clear(), self.keys.clear()
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def maps(self, layers: list[int], key_mask: torch.Tensor | None) -> list[torch.Tensor]:
        """Attention probabilities of the given layers (0-based) from the last recorded forward pass."""
        if len(self.queries) != self.num_layers or len(self.keys) != self.num_layers:
            raise RuntimeError(f"caught {len(self.queries)} attention calls for {self.num_layers} layers")
        return [attention_probabilities(self.queries[i], self.keys[i], self.num_heads, key_mask) for i in layers]

    def clear(self) -> None:
        self.queries.clear(), self.keys.clear()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def check_attention_support(model: nn.Module, role: str, name: str) -> None:
    """Refuse (one line) a model whose attention maps cannot be rebuilt from query/key projections."""
    config = model.config
    pairs = attention_projections(model)
    _, layers = layer_count(config)
    if getattr(config, "is_encoder_decoder", False) or not pairs or len(pairs) not in (1, layers):
        raise UserError(f"--method tinybert matches attention maps, which ftcli rebuilds for BERT-family encoders "
                        f"(bert, minilm, electra, albert, distilbert); the {role} {name} is a "
                        f"{config.model_type} model: use --method soft-targets")
