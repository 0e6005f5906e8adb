"""Tensors computed once and kept in ftcli's cache (`FTCLI_CACHE`): a frozen body's features
(feature extraction), a teacher's logits (distillation). A damaged file is ftcli's own, so it is
recomputed; a full disk only costs the saving, never the run."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ftcli.errors import disk_full
from ftcli.progress import console, warn


def cached_tensors(path: Path, compute: Callable[[], dict[str, torch.Tensor]], what: str,
                   writes: bool = True) -> dict[str, torch.Tensor]:
    """The tensors in `path`, or `compute()`'s, saved there (when `writes`: the main process only)."""
    if path.is_file():
        try:
            tensors = load_file(str(path))
            console.print(f"Using cached {what}: {path}")
            return tensors
        except Exception:  # cut short, or the disk filled while writing it
            warn(f"the cached {what} {path} were damaged; computing them again")
            path.unlink(missing_ok=True)
    tensors = compute()
    if writes:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        try:
            save_file(tensors, str(partial))
            partial.replace(path)  # atomic: a reader never sees half a file
        except Exception as err:
            partial.unlink(missing_ok=True)
            if disk_full(err) is None:
                raise
            warn(f"the disk holding ftcli's cache ({path.parent}) is full; the {what} are not cached (free "
                 "space there, or point FTCLI_CACHE elsewhere)")
    return tensors


def cache_key(checkpoint: str, config, settings: dict[str, Any], inputs) -> str:
    """What cached tensors depend on: the checkpoint's identity (its name, its config, its weight files' sizes
    and times), the `settings` that shape the result, and every input tensor (a tokenized dataset)."""
    digest = hashlib.sha256()
    digest.update(str(checkpoint).encode())
    digest.update(config.to_json_string().encode())
    folder = Path(str(checkpoint))
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")):
            stat = weights.stat()
            digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(json.dumps(settings).encode())
    for column in sorted(inputs.column_names):
        digest.update(column.encode())
        for value in inputs.with_format("numpy")[column]:
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:32]
