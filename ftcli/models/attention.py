"""Multi-head attention through `F.scaled_dot_product_attention`, shared by the encoders, and the last-layer
shortcut for heads that read one position per row.

A sequence-level head reads one position per row: [CLS] for BERT, ALBERT, ELECTRA, DistilBERT and ViT, the last
real token for GPT-2. The last layer is then needed at that position only: its keys and values still come from
every position, but its query, attention output and feed-forward run on one token per row, which removes about
five sixths of that layer's work with identical logits and losses. It is the sequence-level counterpart of
transformers' `logits_to_keep`. A head passes `positions_to_keep` (one index per row) down to the last layer,
unless the caller asked for every layer's hidden states, which must stay full.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def attend(
    query: nn.Module,
    key: nn.Module,
    value: nn.Module,
    hidden_states: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    key_value_states: torch.Tensor | None = None,
) -> torch.Tensor:
    """Queries from `hidden_states`, keys and values from `key_value_states` (default: the same states);
    returns (batch, queries, num_heads * head_dim), the heads merged back."""
    key_value_states = hidden_states if key_value_states is None else key_value_states
    batch_size, q_len, _ = hidden_states.shape

    def split_heads(x):  # (batch, seq, heads * head_dim) -> (batch, heads, seq, head_dim)
        return x.view(batch_size, x.size(1), num_heads, -1).transpose(1, 2)

    out = F.scaled_dot_product_attention(
        split_heads(query(hidden_states)), split_heads(key(key_value_states)), split_heads(value(key_value_states)),
        attn_mask=attention_mask, dropout_p=dropout_p,
    )
    return out.transpose(1, 2).reshape(batch_size, q_len, -1)


def keep_rows(hidden_states: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """(batch, seq, ...) -> (batch, 1, ...): each row's state at its kept position (all of them when None)."""
    if positions is None:
        return hidden_states
    rows = torch.arange(hidden_states.size(0), device=hidden_states.device)
    return hidden_states[rows, positions.to(hidden_states.device)].unsqueeze(1)


def positions_to_keep(positions: torch.Tensor, output_hidden_states: bool | None, config) -> torch.Tensor | None:
    """The head's pooled positions, or None when every layer's full hidden states were asked for."""
    wants_all = config.output_hidden_states if output_hidden_states is None else output_hidden_states
    return None if wants_all else positions


def first_positions(*inputs: torch.Tensor | None) -> torch.Tensor:
    """Position 0 ([CLS]) for every row of the first input given (input_ids, inputs_embeds, pixel_values)."""
    reference = next(x for x in inputs if x is not None)
    return torch.zeros(reference.size(0), dtype=torch.long, device=reference.device)
