"""Datasets as users of the `datasets` library keep them: a folder written by `Dataset.save_to_disk` or
`DatasetDict.save_to_disk` (`PATH@split` picks one split of the latter), and a Hub dataset with its
config and split, `NAME[:CONFIG][@SPLIT]` (`glue:sst2@train`, `imdb@test`), loaded with
`datasets.load_dataset(NAME, CONFIG, split=SPLIT)` when the Hub is reachable or the datasets cache
holds it. The `datasets` library runs no dataset scripts (remote code) at all, so no setting allows them.

Class-label columns come back as their names ("pos", not 1; NER tags "B-LOC", not 3), the way ftcli's
own files and catalogue sets carry labels, so the model's label maps read as the data's names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ftcli.errors import UserError
from ftcli.preflight import did_you_mean, hub_offline_flag

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

DICT_MARKER = "dataset_dict.json"
"""What `DatasetDict.save_to_disk` writes at the top of its folder (one subfolder per split)."""
DATASET_MARKERS = ("state.json", "dataset_info.json")
"""What `Dataset.save_to_disk` writes beside its .arrow shards."""

_SPLIT = re.compile(r"[A-Za-z0-9_.\-]+(\[[^\]@]*\])?")
"""A split name, with the slice syntax of `datasets` for a Hub split (`train[:10%]`)."""
_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?")
_CONFIG = re.compile(r"[A-Za-z0-9_.\-+]+")


def is_saved_dataset(path: Path) -> bool:
    """Whether `path` is a folder written by `save_to_disk` (a Dataset's or a DatasetDict's)."""
    return path.is_dir() and ((path / DICT_MARKER).is_file() or all((path / m).is_file() for m in DATASET_MARKERS))


def with_split(spec: str) -> tuple[str, str | None]:
    """`SPEC@split` -> (SPEC, "split"); a spec without one (or whose "@" is part of a name) -> (spec, None)."""
    base, at, split = spec.rpartition("@")
    if at and base and _SPLIT.fullmatch(split):
        return base, split
    return spec, None


def saved_dataset(spec: str) -> tuple[Path, str | None] | None:
    """(folder, split or None) when `spec` is a save_to_disk folder or `FOLDER@split`; else None."""
    path = Path(spec).expanduser()
    if is_saved_dataset(path):
        return path, None
    base, split = with_split(spec)
    if split is not None and is_saved_dataset(Path(base).expanduser()):
        return Path(base).expanduser(), split
    return None


def load_saved(path: Path, split: str | None, spec: str) -> Dataset | DatasetDict:
    """The folder's Dataset, its DatasetDict, or (`split`) one split of it."""
    from datasets import Dataset, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except Exception as err:  # a folder cut short, a datasets version that cannot read it
        raise UserError(f"{path}: a datasets folder (save_to_disk) that did not load: {first_line(err)}") from None
    if split is None:
        return loaded
    if isinstance(loaded, Dataset):
        raise UserError(f"{spec}: {path} holds one dataset (Dataset.save_to_disk), not named splits; "
                        f"drop '@{split}'")
    if split not in loaded:
        raise UserError(f"{spec}: {path} has no '{split}' split{did_you_mean(split, loaded)} "
                        f"(it has {', '.join(loaded)})")
    return loaded[split]


@dataclass(frozen=True)
class HubName:
    """A Hub dataset as the command line names it: `NAME[:CONFIG][@SPLIT]`."""

    name: str
    config: str | None = None
    split: str | None = None


def parse_hub_name(spec: str) -> HubName | None:
    """`glue:sst2@train` -> HubName("glue", "sst2", "train"); None when `spec` is not of that form."""
    base, split = with_split(spec)
    name, colon, config = base.partition(":")
    if not _HUB_NAME.fullmatch(name) or (colon and not _CONFIG.fullmatch(config)):
        return None
    return HubName(name, config or None, split)


def load_hub_dataset(hub: HubName, spec: str, aliases: list[str]) -> Dataset | DatasetDict:
    """`datasets.load_dataset(NAME, CONFIG, split=SPLIT)`, from the Hub or the datasets cache; one line on
    failure: offline without a cached copy, no such dataset, config or split."""
    import logging

    from datasets import load_dataset

    # huggingface_hub logs each retry of an unreachable Hub; the one line below says it all.
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        loaded = load_dataset(hub.name, hub.config, split=hub.split)
    except Exception as err:
        raise UserError(_hub_failure(hub, spec, err, aliases)) from None
    finally:
        hub_logger.setLevel(level)
    return loaded


def _hub_failure(hub: HubName, spec: str, err: Exception, aliases: list[str]) -> str:
    """Why a Hub dataset did not load, in one line."""
    known = f"{did_you_mean(spec, aliases)}: not a file, a datasets folder, a catalogue alias ({', '.join(aliases)})"
    offline = hub_offline_flag() or _datasets_offline_flag()
    if offline or _unreachable(err):
        why = offline or "the Hugging Face Hub cannot be reached"
        return (f"unknown dataset '{spec}'{known}, and as a Hub dataset it cannot be fetched: this machine is "
                f"offline ({why}) and the datasets cache has no copy of {_called(hub)}")
    if type(err).__name__ in ("DatasetNotFoundError", "RepositoryNotFoundError", "FileNotFoundError"):
        return f"unknown dataset '{spec}'{known}, or a Hub dataset (the Hub has no dataset '{hub.name}')"
    return f"dataset '{spec}': {_called(hub)} did not load from the Hub ({type(err).__name__}: {first_line(err)})"


def _called(hub: HubName) -> str:
    """How a load_dataset call is named in messages: "glue (config sst2, split train)"."""
    parts = [f"config {hub.config}"] * bool(hub.config) + [f"split {hub.split}"] * bool(hub.split)
    return hub.name + (f" ({', '.join(parts)})" if parts else "")


def _datasets_offline_flag() -> str | None:
    import os

    value = os.environ.get("HF_DATASETS_OFFLINE", "").strip().lower()
    return "HF_DATASETS_OFFLINE=1" if value in ("1", "true", "yes", "on") else None


def _unreachable(err: BaseException) -> bool:
    """A connection failure (datasets' "Couldn't reach ... on the Hub", requests' or httpx's), not a missing name."""
    seen = 0
    while err is not None and seen < 10:
        name = type(err).__name__
        if name in ("ConnectionError", "ConnectError", "ConnectTimeout", "OfflineModeIsEnabled",
                    "LocalEntryNotFoundError"):
            return True
        if "couldn't reach" in str(err).lower():
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def label_names(loaded: Dataset) -> Dataset:
    """Class-label columns (and lists of class labels: NER tags) as their names: applied to each split a command
    uses (only those), and a no-op for rows without class labels."""
    from datasets import ClassLabel, List, Sequence, Value

    features = loaded.features.copy()
    labelled = {}
    for column, feature in loaded.features.items():
        inner = getattr(feature, "feature", None) if isinstance(feature, (List, Sequence)) else None
        if isinstance(feature, ClassLabel):
            labelled[column], features[column] = (feature, False), Value("string")
        elif isinstance(inner, ClassLabel):
            labelled[column], features[column] = (inner, True), List(Value("string"))
    if not labelled:
        return loaded
    from ftcli.data.cache import cached_map

    def to_names(batch):  # -1 (a hidden label, as in GLUE's test splits) stays missing
        named = lambda ids, label: [label.int2str(i) if i is not None and i >= 0 else None for i in ids]  # noqa: E731
        return {column: [named(v, label) for v in batch[column]] if many else named(batch[column], label)
                for column, (label, many) in labelled.items()}

    return cached_map(loaded, to_names, batched=True, features=features, desc="Reading class labels")


def first_line(err: BaseException) -> str:
    return ((str(err).strip().splitlines() or [""])[0])[:200]
