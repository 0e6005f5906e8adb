"""Class weights on imbalanced data: rt-sentiment with 1 positive in 10, MiniLM fine-tuned with and without
`train.class_weights=balanced`, macro-F1 over seeds.

    python benchmarks/class_weights_imbalanced.py                       # 2,000 training rows, 3 seeds
    python benchmarks/class_weights_imbalanced.py --train-rows 200 --seeds 1 --limit-test 200   # smoke

The rows: rt-sentiment's training split, shuffled (seed 0), its first 90% negatives and 10% positives until
--train-rows; the test rows the same way from the test split (every negative, and one positive for every nine),
so the test set has the imbalance the model learns from. Each run is the full recipe (lr 5e-5, 2 epochs, batch
32, the last epoch kept: no split is used to choose anything), float32, seeds 42, 43, ...; "balanced" weights each
class by rows / (classes x rows of the class), scikit-learn's rule: 5.0 for positive and 0.56 for negative here.
Prints macro-F1 and accuracy per run and their mean ± std; accuracy alone would reward always saying negative
(0.90).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

from common import cpu_name, run_ftcli_finetune


def imbalanced(rows, size: int | None, positive_share: float, seed: int = 0) -> list[dict]:
    """Rows with `positive_share` positives: as many negatives as fit, in a seeded order."""
    order = list(range(rows.num_rows))
    random.Random(seed).shuffle(order)
    negatives = [i for i in order if rows[i]["label"] == "negative"]
    positives = [i for i in order if rows[i]["label"] == "positive"]
    n_negative = len(negatives) if size is None else round(size * (1 - positive_share))
    n_negative = min(n_negative, len(negatives))
    n_positive = min(round(n_negative * positive_share / (1 - positive_share)), len(positives))
    chosen = sorted(negatives[:n_negative] + positives[:n_positive])
    return [{"text": rows[i]["text"], "label": rows[i]["label"]} for i in chosen]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--limit-test", type=int, default=None, help="test rows at most (default: all that fit)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--positive-share", type=float, default=0.1)
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    from ftcli.data.sources import load_splits

    splits = load_splits("rt-sentiment", None, 0.1, 42, None, None, None, 0.0)
    with tempfile.TemporaryDirectory(prefix="ftcli-class-weights-") as tmp:
        train = write_jsonl(Path(tmp) / "train.jsonl", imbalanced(splits.train, args.train_rows, args.positive_share))
        test_rows = imbalanced(splits.eval, args.limit_test, args.positive_share)
        test = write_jsonl(Path(tmp) / "test.jsonl", test_rows)
        n_train = sum(1 for _ in train.open())
        print(f"CPU: {cpu_name()}; MiniLM, rt-sentiment with {args.positive_share:.0%} positives: {n_train} training "
              f"rows, {len(test_rows)} test rows; {args.seeds} seeds; float32", flush=True)
        results: dict[str, list[dict]] = {"none": [], "balanced": []}
        for seed in range(42, 42 + args.seeds):
            for weights in results:  # alternating, so a shared machine's load falls on both alike
                metrics = run_ftcli_finetune("classification", [
                    "--model", "minilm", "--train", str(train), "--test", str(test), "--seed", str(seed),
                    "--mixed-precision", "no", "--set", f"train.class_weights={weights}"])
                results[weights].append({"seed": seed, "f1": metrics["f1"], "accuracy": metrics["accuracy"],
                                         "wall_seconds": metrics["wall_seconds"]})
                print(f"seed {seed}, class_weights={weights}: macro-F1 {metrics['f1']:.4f}, accuracy "
                      f"{metrics['accuracy']:.4f} ({metrics['wall_seconds']:.0f} s)", flush=True)
    print(f"\n{'class_weights':<15}{'macro-F1 (mean ± std)':>24}{'accuracy (mean ± std)':>24}")
    for weights, runs in results.items():
        cells = []
        for key in ("f1", "accuracy"):
            values = [r[key] for r in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
        print(f"{weights:<15}{cells[0]:>24}{cells[1]:>24}")
    gains = [b["f1"] - n["f1"] for n, b in zip(results["none"], results["balanced"])]
    print(f"macro-F1 gain of balanced weights, seed by seed: {', '.join(f'{g:+.4f}' for g in gains)}")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
