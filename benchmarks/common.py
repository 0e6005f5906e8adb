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


def run_ftcli_finetune(task: str, arguments: list[str], keep_in: Path | None = None) -> dict:
    """`ftcli finetune TASK ARGUMENTS...` in a subprocess. Returns metrics.json, `last_epoch` (the
    test metrics of the last epoch, which ftcli keeps when there is no validation split, like the
    tools it is compared with) and wall_seconds. With `keep_in` (a new directory) the run stays there."""
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = keep_in or Path(tmp) / "run"
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


def run_worker(script: str, worker: str, arguments: list[str]) -> dict:
    """`python SCRIPT --worker WORKER ARGUMENTS...` in its own process (each tool is measured in a fresh process,
    alternating, so neither inherits the other's caches or allocator state); returns the JSON it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, script, "--worker", worker, "--worker-output", str(out), *arguments],
                       check=True)
        return json.loads(out.read_text())


def peak_rss_mb() -> float:
    """This process's peak resident set size (what ftcli's metrics.json reports on CPU)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def matmul_ceiling_gflops(dtype_name: str = "float32", size: int = 2048, repeats: int = 10) -> float:
    """The machine's measured matrix-multiply rate in `dtype_name` (square products of `size`, best of
    `repeats`): the ceiling that training throughput is compared with."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def non_embedding_parameters(model_dir: str) -> int:
    """Parameters of the checkpoint outside its embedding tables (the ones every token multiplies through)."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(Path(model_dir) / "model.safetensors"), "pt") as weights:
        for name in weights.keys():
            if "embeddings" not in name:
                total += _numel(weights.get_slice(name).get_shape())
    return total


def _numel(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def precisions_to_run(choice: str) -> tuple[str, str, list[str]]:
    """`--precision float32|best|both` -> (what ftcli's `auto` resolves to here, why, the precisions to measure).
    "best" is each tool's fastest: ftcli's auto against the Trainer with bf16=True; without fast bf16 it is
    float32, measured once."""
    from ftcli.precision import resolve_mixed_precision

    auto, reason = resolve_mixed_precision("auto")
    precisions = ["float32", "best"] if choice == "both" else [choice]
    if auto == "no" and "best" in precisions:
        print("No fast bf16 on this machine: each tool's best precision is float32, so 'best' = 'float32'.")
        precisions = ["float32"]
    return auto, reason, precisions


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def ftcli_in_process(*args) -> float:
    """Run one ftcli command in this process (start-up paid once for a whole study); returns its wall time.
    Exits on failure."""
    from ftcli.cli.app import main

    sys.argv = ["ftcli", *map(str, args)]
    start = time.perf_counter()
    try:
        main()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise SystemExit(f"failed ({exit_.code}): ftcli {' '.join(map(str, args))}")
    return time.perf_counter() - start
