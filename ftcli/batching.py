"""Batching shared by training, evaluation, the task modules and in-context prompting: little padding
(length-grouped training order, length-sorted evaluation with results put back in input order)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler


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


def token_lengths(features) -> list[int] | None:
    """Tokens per feature row (its `input_ids`, or the `token_lengths` a dataset of cached features carries),
    or None for features without token ids (images)."""
    if getattr(features, "token_lengths", None) is not None:
        return list(features.token_lengths)
    column_names = getattr(features, "column_names", None) or []
    if "input_ids" not in column_names:
        return None
    return [len(ids) for ids in features["input_ids"]]


class LengthGroupedSampler(Sampler[int]):
    """Training order with little padding, still random: each epoch shuffles the rows, cuts them into
    mega-batches of `batch_size * mega_batches` rows, sorts each mega-batch by length (so its batches hold
    rows of similar length) and shuffles the order of the batches. The order is a function of (seed, epoch)
    only, so a resumed run sees the batches an uninterrupted one saw. (transformers' `group_by_length` takes
    the same mega-batch approach.)"""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, mega_batches: int = 50):
        self.lengths, self.batch_size, self.seed, self.mega_batches = lengths, batch_size, seed, mega_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.batch_size * self.mega_batches
        ordered = [i for start in range(0, len(order), size)
                   for i in sorted(order[start:start + size], key=lambda i: self.lengths[i], reverse=True)]
        batches = [ordered[start:start + self.batch_size] for start in range(0, len(ordered), self.batch_size)]
        # A short final batch stays last, so every other batch boundary stays where the DataLoader cuts.
        full = batches if len(batches[-1]) == self.batch_size else batches[:-1]
        shuffled = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
        return iter([i for batch in shuffled + batches[len(full):] for i in batch])


def length_sorted_loader(features, batch_size: int, collator, **kwargs) -> DataLoader:
    """Evaluation batches of rows of similar length (longest first, so memory errors come early); the
    loader's `order` (the feature index of each row it yields) lets `in_input_order` put results back."""
    lengths = token_lengths(features)
    order = list(range(len(features))) if lengths is None else sorted(range(len(features)), key=lambda i: -lengths[i])
    # Its own generator: a loader without one draws a seed from the global RNG each time it is iterated,
    # so validating would shift the dropout masks of the training that follows (and a resumed run's).
    kwargs.setdefault("generator", torch.Generator())
    loader = DataLoader(features, batch_size=batch_size, sampler=order, collate_fn=collator, **kwargs)
    loader.order = order
    return loader


def in_input_order(gathered: dict[str, np.ndarray], order: list[int] | None) -> dict[str, np.ndarray]:
    """Per-row arrays in loader order -> the features' own order."""
    if order is None or order == sorted(order):
        return gathered
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order)] = np.arange(len(order))
    return {key: array[inverse] for key, array in gathered.items()}
