"""BIG-bench task files, read from the `bigbench` source distribution on PyPI.

The sdist (342 MB) is the only PyPI package that carries these labelled sets; it is not
installed (its dependencies are heavy), only downloaded once by pip into the ftcli cache, and
the `task.json` members that an alias needs are extracted from it with tarfile (and cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ftcli.errors import UserError
from ftcli.paths import cache_dir

BIGBENCH_VERSION = "1.0.0"
SDIST_NAME = f"bigbench-{BIGBENCH_VERSION}.tar.gz"
TASKS_PREFIX = f"bigbench-{BIGBENCH_VERSION}/bigbench/benchmark_tasks/"


def sdist_cached() -> bool:
    return bool(os.environ.get("FTCLI_BIGBENCH_SDIST")) or (cache_dir() / "downloads" / SDIST_NAME).is_file()


def examples(task: str) -> list[dict[str, Any]]:
    return read_task(task)["examples"]


def sdist_path() -> Path:
    """The downloaded sdist; `FTCLI_BIGBENCH_SDIST` may point at a copy already on disk."""
    if os.environ.get("FTCLI_BIGBENCH_SDIST"):
        given = Path(os.environ["FTCLI_BIGBENCH_SDIST"]).expanduser()
        if not given.is_file():
            raise UserError(f"FTCLI_BIGBENCH_SDIST={given} is not a file")
        return given
    target = cache_dir() / "downloads" / SDIST_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        # pip 26.3 refuses this sdist (its metadata); pip 23.x-26.2 fetch it fine.
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"bigbench=={BIGBENCH_VERSION}", "-d", staging, "-q"]
        print(f"Downloading the BIG-bench sdist ({SDIST_NAME}, 342 MB) once into {target.parent} ...",
              file=sys.stderr)
        done = subprocess.run(command, capture_output=True, text=True)
        downloaded = Path(staging) / SDIST_NAME
        if done.returncode != 0 or not downloaded.is_file():
            reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise UserError(f"could not download {SDIST_NAME} with pip ({reason}); "
                            "download it by hand and set FTCLI_BIGBENCH_SDIST to its path")
        shutil.move(str(downloaded), target)
    return target


def read_task(task: str) -> dict[str, Any]:
    """The parsed `benchmark_tasks/<task>/task.json` (e.g. 'gem/e2e_nlg'), cached after the first read."""
    cached = cache_dir() / "bigbench" / task / "task.json"
    if not cached.is_file():
        member_name = f"{TASKS_PREFIX}{task}/task.json"
        with tarfile.open(sdist_path()) as archive:
            member = next((m for m in archive if m.name == member_name), None)
            if member is None:
                raise UserError(f"BIG-bench {BIGBENCH_VERSION} has no task '{task}'")
            data = archive.extractfile(member).read()
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".json.partial")
        partial.write_bytes(data)
        partial.replace(cached)
    return json.loads(cached.read_text())
