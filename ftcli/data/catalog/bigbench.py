"""BIG-bench task files, read from a copy of the `bigbench` 1.0.0 source distribution.

The registry served that sdist (342 MB, the only package that carried these labelled sets) until
December 2026; it no longer does, so nothing is downloaded here. A copy the user still has is
named by `FTCLI_BIGBENCH_SDIST` (the `.tar.gz`, or a folder holding an unpacked copy or a clone of
the BIG-bench repository); the `task.json` members an alias needs are read from it once and
cached in the ftcli cache, where later loads find them without the copy.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

from ftcli.errors import UserError
from ftcli.paths import cache_dir

BIGBENCH_VERSION = "1.0.0"
SDIST_NAME = f"bigbench-{BIGBENCH_VERSION}.tar.gz"
SDIST_VARIABLE = "FTCLI_BIGBENCH_SDIST"
TASKS_FOLDER = "bigbench/benchmark_tasks"


def _cached(task: str) -> Path:
    return cache_dir() / "bigbench" / task / "task.json"


def _given_copy() -> Path | None:
    if not os.environ.get(SDIST_VARIABLE):
        return None
    given = Path(os.environ[SDIST_VARIABLE]).expanduser()
    if not given.exists():
        raise UserError(f"{SDIST_VARIABLE}={given} does not exist; point it at {SDIST_NAME} or an unpacked copy")
    return given


def has_task(task: str) -> bool:
    """Whether `task` can be read here without a network: cached already, or a copy is named."""
    return _cached(task).is_file() or bool(os.environ.get(SDIST_VARIABLE))


def examples(task: str) -> list[dict[str, Any]]:
    return read_task(task)["examples"]


def read_task(task: str) -> dict[str, Any]:
    """The parsed `benchmark_tasks/<task>/task.json` (e.g. 'gem/e2e_nlg'), cached after the first read."""
    cached = _cached(task)
    if not cached.is_file():
        copy = _given_copy()
        if copy is None:
            raise UserError(f"BIG-bench task '{task}' is not here: the bigbench sdist is no longer on PyPI; "
                              f"set {SDIST_VARIABLE} to a copy of {SDIST_NAME}")
        data = _read_member(copy, task)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".json.partial")
        partial.write_bytes(data)
        partial.replace(cached)
    return json.loads(cached.read_text())


def _read_member(copy: Path, task: str) -> bytes:
    """`task.json` of `task` from the sdist, or from a folder: an unpacked sdist or repository clone
    (holding `bigbench/benchmark_tasks/`), its `bigbench/` folder, or `benchmark_tasks/` itself."""
    suffix = f"{TASKS_FOLDER}/{task}/task.json"
    if copy.is_dir():
        found = [path for path in (copy / suffix, copy.parent / suffix, copy / task / "task.json") if path.is_file()]
        if not found:
            raise UserError(f"{SDIST_VARIABLE}={copy} holds no {suffix}")
        return found[0].read_bytes()
    try:
        with tarfile.open(copy) as archive:
            # The sdist's members sit under `bigbench-1.0.0/`; match on the part below it.
            member = next((m for m in archive if m.isfile() and m.name.endswith("/" + suffix)), None)
            if member is None:
                raise UserError(f"{copy} ({SDIST_VARIABLE}) has no {suffix}: is it the bigbench sdist?")
            return archive.extractfile(member).read()
    except tarfile.TarError as err:
        raise UserError(f"{copy} ({SDIST_VARIABLE}) is not a readable .tar.gz ({err})") from None
