"""The training split's loader: shuffled batches, or batches grouped by length (train.group_by_length)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ftcli.batching import LengthGroupedSampler
from ftcli.config import TrainConfig


def build_train_loader(features, collator, train_cfg: TrainConfig, lengths: list[int] | None,
                       group_size: int | None = None) -> DataLoader:
    """Length-grouped batches when given the rows' token `lengths` (train.group_by_length, and the rows have
    token ids), else a plain shuffle. Either way the order is a function of (seed, epoch): the loader has its
    own generator, since one without would draw a seed from the global RNG each epoch and a resumed
    mid-epoch loader would then shift the dropout masks. Grouping is by `group_size`, the global batch
    (the consecutive batches of all processes and accumulation steps that make one optimizer step), so
    a step sees the rows a one-process run with that batch size would."""
    common = {"batch_size": train_cfg.batch_size, "collate_fn": collator,
              "generator": torch.Generator().manual_seed(train_cfg.seed),
              "num_workers": train_cfg.dataloader_workers, "persistent_workers": train_cfg.dataloader_workers > 0}
    if lengths is not None:
        sampler = LengthGroupedSampler(lengths, group_size or train_cfg.batch_size, train_cfg.seed)
        return DataLoader(features, sampler=sampler, **common)
    return DataLoader(features, shuffle=True, **common)


def groups_by_length(train_cfg: TrainConfig, task) -> bool:
    """`train.group_by_length` (off by default: shuffled batches); auto groups where the loss is a
    mean over rows and, for a mean over tokens, keeps shuffled batches."""
    if train_cfg.group_by_length != "auto":
        return train_cfg.group_by_length
    return not getattr(task, "loss_per_token", False)


def token_scale(lengths: list[int] | None, batches: int, task) -> float | None:
    """For a per-token loss over length-grouped batches, the mean real tokens per batch. Each batch's loss
    (a mean over its own tokens) is multiplied by its tokens over this mean (`training._token_weighted`),
    so every token weighs the same, as in shuffled batches; unscaled, a batch of short rows would give each
    of its tokens several times the weight of a long row's token."""
    if lengths is None or not batches or not getattr(task, "loss_per_token", False):
        return None
    return sum(lengths) / batches
