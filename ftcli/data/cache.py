"""Tokenized features kept across runs: `cached_map` is `Dataset.map` whose result is stored in the ftcli cache
(`tokenized/` under `ftcli.paths.cache_dir()`), keyed by the rows' fingerprint and a hash of the function with
everything it closes over (tokenizer, max length, labels, task options). A second run on the same data with the
same settings memory-maps the stored features instead of tokenizing again; any change makes a new key.

The cache only saves time: a damaged entry is rebuilt, and a cache disk that is full leaves no partial file
and the rows are tokenized in memory instead."""

from __future__ import annotations

import logging

from datasets import Dataset
from datasets.fingerprint import Hasher

from ftcli.errors import disk_full
from ftcli.paths import cache_dir


def cached_map(dataset: Dataset, function, **map_kwargs) -> Dataset:
    try:
        key = Hasher.hash({"rows": dataset._fingerprint, "function": function, "map": map_kwargs})
    except Exception:  # something the function closes over cannot be hashed: tokenize without the cache
        return dataset.map(function, **map_kwargs)
    folder = cache_dir() / "tokenized"
    folder.mkdir(parents=True, exist_ok=True)
    # datasets logs "Loading cached processed dataset at ..." at INFO: not on the terminal.
    logging.getLogger("datasets.arrow_dataset").setLevel(logging.WARNING)
    cached = folder / f"{key}.arrow"
    before = _temporary_files(folder)
    try:
        return dataset.map(function, cache_file_name=str(cached), load_from_cache_file=True, new_fingerprint=key,
                           **map_kwargs)
    except Exception as err:
        # datasets writes into a temporary file beside the entry and renames it when done: one left by this
        # call (a full disk) is ftcli's own and goes.
        for partial in _temporary_files(folder) - before:
            partial.unlink(missing_ok=True)
        from ftcli.progress import warn

        if disk_full(err) is not None:
            cached.unlink(missing_ok=True)
            warn(f"the disk holding ftcli's cache ({folder}) is full; tokenizing in "
                 "memory, without caching (free space there, or point FTCLI_CACHE elsewhere)")
            return dataset.map(function, keep_in_memory=True, new_fingerprint=key, **map_kwargs)
        if not cached.is_file():
            raise  # the function itself failed: nothing cached to blame
        # A damaged cache file (a copy cut short) would fail every later run: it is ftcli's own derived file,
        # so it goes and the rows are tokenized again.
        warn(f"the tokenized-data cache {cached} was damaged; tokenizing again")
        cached.unlink()
        return dataset.map(function, cache_file_name=str(cached), load_from_cache_file=False, new_fingerprint=key,
                           **map_kwargs)


def _temporary_files(folder):
    return {path for path in folder.glob("tmp*") if path.is_file()}
