"""Does a teacher pay, and does a transfer set? A student made of every other layer of a fine-tuned MiniLM
teacher, trained three ways with otherwise identical commands over several seeds:

- alone: the hard labels only (`distill --set distill.alpha=0`, which is plain fine-tuning of that student);
- soft targets on the labelled rows (DistilBERT's loss, alpha 0.5, temperature 2);
- soft targets with a transfer set: unlabelled text the teacher labels (`distill --transfer TEXT`).

    python benchmarks/distillation_transfer.py --seeds 1,2,3                  # full rt-sentiment, rt-reviews text
    python benchmarks/distillation_transfer.py --limit-train 200 --transfer-limit 300 --epochs 1 --seeds 1 \
        --out /tmp/dt                                                         # a smoke run

The teacher is fine-tuned once (`ftcli finetune classification --model minilm`, the same rows), or given
with --teacher. No validation split: the last epoch is kept and the test split scored once. Prints test
accuracy mean ± standard deviation per arm, the teacher's, and the student's measured speed-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import cpu_name, ftcli_in_process as ftcli


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/distillation-transfer"))
    parser.add_argument("--teacher", default=None, help="a fine-tuned run (default: fine-tune minilm here)")
    parser.add_argument("--train", default="rt-sentiment")
    parser.add_argument("--transfer", default="rt-reviews", help="the transfer set's text")
    parser.add_argument("--transfer-limit", type=int, default=None)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", default="1e-4")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    limit = ["--limit-train", args.limit_train] if args.limit_train else []
    common = ["--train", args.train, "--max-length", args.max_length, "--set", "train.save_checkpoint=false", *limit]
    teacher = Path(args.teacher) if args.teacher else out / "teacher"
    if not (teacher / "metrics.json").is_file():
        ftcli("finetune", "classification", "--model", "minilm", "--epochs", 2, "--output-dir", teacher, *common)

    transfer = ["--transfer", args.transfer,
                *(["--set", f"distill.transfer_limit={args.transfer_limit}"] if args.transfer_limit else [])]
    arms = {"alone": ["--set", "distill.alpha=0"], "soft targets": [], "soft targets + transfer": transfer}
    scores: dict[str, list[float]] = {arm: [] for arm in arms}
    seconds: dict[str, list[float]] = {arm: [] for arm in arms}
    speedups = []
    for seed in args.seeds.split(","):  # seeds outermost: a cut-short run still compares every arm
        for arm, extra in arms.items():
            run = out / f"{arm.replace(' ', '-').replace('+', 'and')}-seed{seed}"
            if not (run / "metrics.json").is_file():
                ftcli("distill", "--teacher", teacher, "--init-from-teacher", "every-other-layer", "--task",
                      "classification", "--epochs", args.epochs, "--lr", args.lr, "--seed", seed, "--output-dir", run,
                      *common, *extra)
            metrics = json.loads((run / "metrics.json").read_text())
            scores[arm].append(metrics["accuracy"])
            seconds[arm].append(metrics["train_runtime"])
            speedups.append(metrics["speedup"])
            print(f"RESULT {arm} seed {seed}: accuracy {metrics['accuracy']:.4f}", flush=True)

    teacher_accuracy = json.loads((teacher / "metrics.json").read_text())["accuracy"]
    print(f"\nCPU: {cpu_name()}; {args.train}{f' (first {args.limit_train} rows)' if args.limit_train else ''}, "
          f"{args.epochs} epochs, lr {args.lr}, seeds {args.seeds}; transfer set {args.transfer}")
    print(f"teacher (minilm, 6 layers): accuracy {teacher_accuracy:.4f}")
    for arm, values in scores.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{arm:<26} accuracy {statistics.mean(values):.4f} ± {spread:.4f}  {[round(v, 4) for v in values]}  "
              f"training {statistics.mean(seconds[arm]):.0f} s")
    print(f"student speed-up over the teacher: {statistics.mean(speedups):.2f}x (measured on the test rows)")
    (out / "summary.json").write_text(json.dumps({
        "cpu": cpu_name(), "train": args.train, "transfer": args.transfer, "teacher_accuracy": teacher_accuracy,
        "scores": scores, "train_seconds": seconds, "speedup": statistics.mean(speedups)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
