"""`ftcli predict RUN --data FILE` vs a plain transformers `pipeline` with batching: same model, same rows.

    python benchmarks/predict_vs_pipeline.py                  # 4,000 rt-sentiment texts, float32 and defaults
    python benchmarks/predict_vs_pipeline.py --rows 500       # a quick look

The model: MiniLM fine-tuned by ftcli on 500 rt-sentiment rows (one epoch, max length 128; its accuracy does
not matter here). The rows: the first N texts of rt-sentiment's training split, written to a CSV file. The
pipeline is what its documentation shows for a file of texts: `pipeline("text-classification", model=DIR)`,
called on the list of texts with `batch_size=64` (ftcli predict's default batch), truncation at the run's
max length, on the CPU.

Two measurements, each tool in its own fresh process, alternating, best of `--rounds`, ftcli with an empty cache
each time (no tokenized rows from an earlier round):
- prediction: the texts already in memory -> one label per row (the model pass and the pre- and post-processing
  around it; what `ftcli predict` spends after start-up);
- end to end: the command from start to the written output file (`ftcli predict ... --output OUT.jsonl` against a
  script that imports transformers, builds the pipeline, reads the CSV and writes the same JSONL).
Precisions: float32 on both (`FTCLI_AUTO_PRECISION=no`), where the labels must be identical; and each tool's
default (ftcli's `auto`: bf16 where the CPU runs it fast; the pipeline's float32), where the labels that differ
are counted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_name, run_ftcli_finetune, run_worker

SCRIPT = str(Path(__file__).resolve())
BATCH = 64
MAX_LENGTH = 128


def read_texts(path: str) -> list[str]:
    with open(path, newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def write_labels(path: str, labels: list[str]) -> None:
    Path(path).write_text("".join(json.dumps({"label": label}) + "\n" for label in labels))


def worker_pipeline(args) -> dict:
    """The pipeline, timed from import to the written file; the prediction alone timed inside."""
    import torch
    from transformers import pipeline
    from transformers.utils import logging

    logging.set_verbosity_error()
    classify = pipeline("text-classification", model=str(Path(args.run) / "model"), device=-1, dtype=torch.float32)
    texts = read_texts(args.data)
    start = time.perf_counter()
    outputs = classify(texts, batch_size=BATCH, truncation=True, max_length=MAX_LENGTH)
    seconds = time.perf_counter() - start
    labels = [output["label"] for output in outputs]
    write_labels(args.out, labels)
    return {"labels": labels, "predict_seconds": seconds}


def worker_ftcli(args) -> dict:
    """ftcli predict's code path on the same file: reading, tokenizing, the model pass, the records."""
    from ftcli.data.sources import load_single
    from ftcli.inference import load_trained, predict_dataset

    loaded = load_trained(args.run, None)
    rows, where = load_single(args.data)
    start = time.perf_counter()
    records = predict_dataset(loaded, rows, where, batch_size=BATCH)
    seconds = time.perf_counter() - start
    return {"labels": [record["label"] for record in records], "predict_seconds": seconds}


WORKERS = {"pipeline": worker_pipeline, "ftcli": worker_ftcli}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0

    from ftcli import assets
    from ftcli.precision import resolve_mixed_precision

    auto, reason = resolve_mixed_precision("auto")
    print(f"CPU: {cpu_name()}; ftcli's auto precision here: {auto} ({reason})")
    work = Path(tempfile.mkdtemp(prefix="ftcli-bench-predict-"))
    try:
        run = work / "run"
        run_ftcli_finetune("classification", ["--model", "minilm", "--train", "rt-sentiment", "--limit-train", "500",
                                              "--epochs", "1", "--max-length", str(MAX_LENGTH)], keep_in=run)
        texts = list(assets.DATASETS["rt-sentiment"].splits()["train"]["text"])[:args.rows]
        data = work / "rows.csv"
        with open(data, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text"])
            writer.writerows([text] for text in texts)
        print(f"{len(texts)} rt-sentiment texts; batch {BATCH}, max length {MAX_LENGTH}; best of {args.rounds} rounds",
              flush=True)
        results = {}
        for setting, pinned in (("float32", "no"), ("defaults", None)):
            if pinned:  # the workers and commands inherit it
                os.environ["FTCLI_AUTO_PRECISION"] = pinned
            else:
                os.environ.pop("FTCLI_AUTO_PRECISION", None)
            results[setting] = measure(args, run, data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'setting':<10}{'tool':<10}{'predict rows/s':>15}{'end-to-end s':>14}{'rows/s':>9}")
    for setting, pair in results.items():
        for name in ("ftcli", "pipeline"):
            r = pair[name]
            print(f"{setting:<10}{name:<10}{args.rows / r['predict_seconds']:>15.1f}{r['wall_seconds']:>14.1f}"
                  f"{args.rows / r['wall_seconds']:>9.1f}")
    for setting, pair in results.items():
        ours, theirs = pair["ftcli"], pair["pipeline"]
        print(f"[{setting}] prediction throughput ftcli/pipeline: {theirs['predict_seconds'] / ours['predict_seconds']:.2f}x "
              f"(target >= 2.0x); end to end: {theirs['wall_seconds'] / ours['wall_seconds']:.2f}x; labels "
              + ("identical" if not differing_labels(pair) else f"differ on {differing_labels(pair)} of {args.rows} rows"))
    if args.output:
        args.output.write_text(json.dumps({"rows": args.rows, "cpu": cpu_name(), "auto": auto, "results": {
            setting: {name: {k: v for k, v in r.items() if k != "labels"} for name, r in pair.items()}
            for setting, pair in results.items()}}, indent=2))
    return 0


def measure(args, run: Path, data: Path, work: Path) -> dict:
    """Each tool's best prediction time and best end-to-end time over the rounds, alternating."""
    best: dict[str, dict] = {"ftcli": {}, "pipeline": {}}
    for _ in range(args.rounds):
        # A new output file each round: ftcli replaces only files its cache (new each round) says it wrote.
        folder = Path(tempfile.mkdtemp(dir=work))
        out = {name: str(folder / f"{name}-predictions.jsonl") for name in best}
        for name in ("ftcli", "pipeline"):
            # A fresh cache for every process: ftcli's tokenization cache would serve a later one from disk.
            os.environ["FTCLI_CACHE"] = tempfile.mkdtemp(dir=work)
            r = run_worker(SCRIPT, name, ["--run", str(run), "--data", str(data), "--out", out[name]])
            os.environ["FTCLI_CACHE"] = tempfile.mkdtemp(dir=work)
            if name == "ftcli":
                wall = timed([sys.executable, "-m", "ftcli", "predict", str(run), "--data", str(data), "--output", out[name]])
            else:
                wall = timed([sys.executable, SCRIPT, "--worker", "pipeline", "--worker-output", str(work / "w.json"),
                              "--run", str(run), "--data", str(data), "--out", out[name]])
            kept = best[name]
            kept["labels"] = r["labels"]
            kept["predict_seconds"] = min(kept.get("predict_seconds", float("inf")), r["predict_seconds"])
            kept["wall_seconds"] = min(kept.get("wall_seconds", float("inf")), wall)
    return best


def differing_labels(pair: dict) -> int:
    return sum(a != b for a, b in zip(pair["ftcli"]["labels"], pair["pipeline"]["labels"]))


if __name__ == "__main__":
    sys.exit(main())
