"""Does continued pre-training pay? MiniLM continued on a task's own text (TAPT, Gururangan et al. 2020:
`recipes/mlm/tapt.yaml`) or on text of the task's domain (DAPT), then fine-tuned with the identical command
as plain MiniLM, over several seeds; the gain is judged against its paired standard error.

    python benchmarks/continued_pretraining.py --text rt-sentiment --seeds 1,2,3,4,5    # TAPT, rt-sentiment
    python benchmarks/continued_pretraining.py --text rt-reviews --seeds 1,2,3,4,5      # DAPT: review text
    python benchmarks/continued_pretraining.py --task ner --train wnut16 --text wnut16 --seeds 1,2,3
    python benchmarks/continued_pretraining.py --pretrain-epochs 1 --limit-text 300 --limit-finetune 200 \
        --seeds 1,2 --out /tmp/cpt                                                       # a smoke run

Steps, each an ordinary ftcli command run in this process:
1. `ftcli pretrain mlm --recipe mlm/tapt --model minilm --train TEXT --epochs E`: the paper's settings (batch
   256, lr 1e-4, 6% warm-up, Adam (0.9, 0.98), 15% masking) with E epochs instead of 100 (what the CPU
   affords; say E with the result). On a labelled set only its training split's text is read.
2. For each seed, `ftcli finetune TASK --train TRAIN` from minilm and from the continued model, identical
   flags; no validation split (the last epoch is kept), the test split scored once.
Prints each seed's pair, the mean gain, its paired standard error (the spread of the per-seed differences
/ sqrt(seeds)), and whether the gain exceeds two of them.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from common import cpu_name, ftcli_in_process as ftcli

METRIC = {"classification": "accuracy", "nli": "accuracy", "ner": "f1"}


def paired_gain(base: list[float], continued: list[float]) -> tuple[float, float]:
    """(mean of the per-seed differences, their standard error)."""
    differences = [c - b for b, c in zip(base, continued)]
    spread = statistics.stdev(differences) if len(differences) > 1 else float("nan")
    return statistics.mean(differences), spread / math.sqrt(len(differences))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/continued-pretraining"))
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--task", default="classification")
    parser.add_argument("--train", default="rt-sentiment", help="the labelled set fine-tuned on")
    parser.add_argument("--text", default="rt-sentiment", help="the text pre-training continues on")
    parser.add_argument("--text-column", default=None, help="e.g. tokens for an NER set (default: text)")
    parser.add_argument("--limit-text", type=int, default=None, help="texts (smoke runs)")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--finetune-lr", default="5e-5")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--limit-finetune", type=int, default=None, help="training rows fine-tuned on")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    args = parser.parse_args()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    continued = out / f"continued-{Path(args.text).name}"
    column = args.text_column or ("tokens" if args.task == "ner" and args.text == args.train else None)
    if not (continued / "metrics.json").is_file():
        ftcli("pretrain", "mlm", "--recipe", "mlm/tapt", "--model", args.model, "--train", args.text,
              "--epochs", args.pretrain_epochs, "--output-dir", continued,
              *(["--column", f"text={column}"] if column else []),
              *(["--limit-train", args.limit_text] if args.limit_text else []))
    pretrain = json.loads((continued / "metrics.json").read_text())
    print(f"RESULT continued pre-training: {pretrain}", flush=True)

    metric, models = METRIC[args.task], {"plain": args.model, "continued": continued / "model"}
    scores: dict[str, list[float]] = {name: [] for name in models}
    for seed in args.seeds.split(","):  # seeds outermost: a cut-short run still pairs every seed
        for name, model in models.items():
            run = out / "finetune" / f"{name}-seed{seed}"
            if not (run / "metrics.json").is_file():
                ftcli("finetune", args.task, "--model", model, "--train", args.train, "--epochs", args.finetune_epochs,
                      "--lr", args.finetune_lr, "--max-length", args.max_length, "--seed", seed, "--output-dir", run,
                      "--set", "train.save_checkpoint=false",
                      *(["--limit-train", args.limit_finetune] if args.limit_finetune else []))
            scores[name].append(json.loads((run / "metrics.json").read_text())[metric])
            print(f"RESULT {name} seed {seed}: {metric} {scores[name][-1]:.4f}", flush=True)

    gain, error = paired_gain(scores["plain"], scores["continued"])
    print(f"\nCPU: {cpu_name()}; {args.model} continued on {args.text} for {args.pretrain_epochs} epochs "
          f"({pretrain['train_runtime']:.0f} s, held-out masked accuracy {pretrain.get('masked_accuracy', float('nan')):.4f}); "
          f"fine-tuned on {args.train} ({args.task}), {args.finetune_epochs} epochs, seeds {args.seeds}")
    for name, values in scores.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:<10} {metric} {statistics.mean(values):.4f} ± {spread:.4f}  {[round(v, 4) for v in values]}")
    verdict = "holds" if gain > 2 * error else "does not hold"
    print(f"gain {gain:+.4f}, paired standard error {error:.4f}: the claim {verdict} (gain > 2 paired s.e.)")
    (out / "summary.json").write_text(json.dumps({
        "cpu": cpu_name(), "text": args.text, "train": args.train, "task": args.task, "metric": metric,
        "pretrain_epochs": args.pretrain_epochs, "pretrain": pretrain, "scores": scores, "gain": gain,
        "paired_standard_error": error, "holds": gain > 2 * error}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
