"""Shared pieces of the benchmarks: running ftcli through its real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_ftcli_finetune(task: str, arguments: list[str]) -> dict:
    """`ftcli finetune TASK ARGUMENTS...` in a subprocess. Returns metrics.json, `last_epoch` (the
    test metrics of the last epoch, which ftcli keeps when there is no validation split, like the
    tools it is compared with) and wall_seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "run"
        command = [sys.executable, "-m", "ftcli", "finetune", task, *arguments, "--output-dir", str(out_dir),
                   "--set", "train.save_checkpoint=false"]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        metrics = json.loads((out_dir / "metrics.json").read_text())
        tested = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines() if '"test_' in line]
    if metrics["selected_on"] != "last epoch":
        raise SystemExit("benchmarks compare the last epoch: run ftcli without a validation split")
    last = {k.removeprefix("test_"): v for k, v in tested[-1].items() if k.startswith("test_")}
    return {**metrics, "last_epoch": last, "wall_seconds": wall}
