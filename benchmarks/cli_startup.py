"""How fast ftcli answers what the command line alone decides: `--help` and the mistakes it can see
(an unknown task, a typo, a missing file, a bad value), against `python -c "import typer"`, the floor of any
typer program. Each command runs in a fresh process, --repeats times; the median wall time is reported.

    .venv/bin/python benchmarks/cli_startup.py [--repeats 7]

Target (issue 28): every line under 1 s; the ratio says how much of that is ftcli's own.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FTCLI = [sys.executable, "-m", "ftcli"]
CASES = [
    ("ftcli --help", [*FTCLI, "--help"], 0),
    ("ftcli finetune --help", [*FTCLI, "finetune", "--help"], 0),
    ("ftcli finetune clasification (typo)", [*FTCLI, "finetune", "clasification"], 2),
    ("ftcli finetune classification --strategy lorra", [*FTCLI, "finetune", "classification", "--strategy", "lorra"], 2),
    ("ftcli finetune classification --train missing.csv", [*FTCLI, "finetune", "classification", "--train", "missing.csv"], 2),
    ("ftcli finetune classification --epochs two", [*FTCLI, "finetune", "classification", "--epochs", "two"], 2),
    ("ftcli evaluate RUN --data missing.csv", [*FTCLI, "evaluate", "runs/none", "--data", "missing.csv"], 2),
    ("ftcli prompt clasification", [*FTCLI, "prompt", "clasification"], 2),
    ("ftcli data check missing.csv --task ner", [*FTCLI, "data", "check", "missing.csv", "--task", "ner"], 2),
]
FLOOR = ('python -c "import typer"', [sys.executable, "-c", "import typer"], 0)


def median_seconds(command: list[str], expected: int, repeats: int, folder: str) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        times.append(time.perf_counter() - start)
        if done.returncode != expected:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}, expected {expected}: {done.stderr[-300:]}")
    return statistics.median(times)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); Python {platform.python_version()}; median of {args.repeats}")
    with tempfile.TemporaryDirectory() as folder:
        floor = median_seconds(FLOOR[1], FLOOR[2], args.repeats, folder)
        print(f"| command | seconds | x `import typer` |\n|---|---:|---:|\n| {FLOOR[0]} | {floor:.2f} | 1.0 |")
        slowest = 0.0
        for name, command, expected in CASES:
            seconds = median_seconds(command, expected, args.repeats, folder)
            slowest = max(slowest, seconds)
            print(f"| {name} | {seconds:.2f} | {seconds / floor:.1f} |", flush=True)
    print(f"slowest: {slowest:.2f} s ({'under' if slowest < 1 else 'OVER'} the 1 s target)")


if __name__ == "__main__":
    main()
