"""Loaders for the catalogue datasets (`ftcli models ls`), one module per source.

Each loader returns a `datasets.DatasetDict` with 'train' and 'test' splits in the task's
default column names; splits are fixed by a seed so every run sees the same rows.
"""

from __future__ import annotations

import numpy as np
from datasets import Dataset, DatasetDict

SPLIT_SEED = 1234


def seeded_split(rows: list[dict] | Dataset, test_rows: int, seed: int = SPLIT_SEED) -> DatasetDict:
    """A fixed random split with `test_rows` rows held out for testing."""
    dataset = rows if isinstance(rows, Dataset) else Dataset.from_list(rows)
    order = np.random.RandomState(seed).permutation(len(dataset))
    return DatasetDict(train=dataset.select(order[test_rows:]), test=dataset.select(order[:test_rows]))
