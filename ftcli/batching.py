"""Batching helpers shared by the task modules and in-context prompting (the layer below both)."""

from __future__ import annotations

import torch


def left_pad(sequences, pad_id: int, length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (lists or tensors) right-aligned in a (rows, length) tensor, and the attention
    mask of the real tokens: every row ends at the last column, where generation and scoring
    continue."""
    length = length or max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, length - len(ids):] = torch.as_tensor(ids, dtype=torch.long)
        mask[row, length - len(ids):] = 1
    return input_ids, mask
