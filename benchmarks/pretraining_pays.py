"""Does pre-training pay? A small BERT pre-trained from scratch (mlm+nsp) and an ELECTRA of the same
encoder size (rtd) against the same architectures from random initialisation, each fine-tuned on
rt-sentiment with the identical command over several seeds.

    python benchmarks/pretraining_pays.py                                  # the full measurement (GPU: minutes)
    python benchmarks/pretraining_pays.py --pretrain-epochs 1 --limit-pretrain 200 --limit-finetune 200 \
        --seeds 1 --out /tmp/pays                                          # a smoke run (CPU: minutes)

Steps, each an ordinary ftcli command run in this process (so start-up is paid once):
1. `ftcli tokenizer train wordpiece --train CORPUS` (the corpus' training split; `--corpus`, default
   english-text, or english-text-large: six times the text);
2. `ftcli pretrain mlm+nsp --config bert` and `ftcli pretrain rtd --config electra` on that corpus,
   the held-out curve from a validation share of the training documents (the alias' test split is
   scored once at the end);
3. `ftcli models init` for the random-initialisation baselines (same config, tokenizer and seed);
4. `ftcli finetune classification --train rt-sentiment` with identical flags on all four models
   and each seed; the last epoch is kept (no validation split), the test split scored once.
Prints pre-training time and held-out curves, and test accuracy mean ± std per model.

The compute curve (`--budgets 1,2,4,8`): BERT pre-trained (mlm) from scratch once per budget of epochs, each
its own run with its own full schedule, then fine-tuned as above; each point is its compute (tokens seen,
and 6 x non-embedding parameters x tokens FLOPs) beside its accuracy, with the random-initialisation line.
It says the first budget whose mean is above random init by more than two standard errors of the
difference, or that none is within the budgets tried.

    python benchmarks/pretraining_pays.py --budgets 1,2,4,8 --seeds 1,2,3        # the curve (CPU: hours)
    python benchmarks/pretraining_pays.py --budgets 1,2 --limit-pretrain 200 --limit-finetune 200 \
        --seeds 1 --out /tmp/curve                                                 # a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from common import cpu_name, ftcli_in_process as ftcli, non_embedding_parameters


def curve(run: Path, key: str) -> list[float]:
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [round(r[key], 4) for r in log if key in r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pretraining-pays"))
    parser.add_argument("--corpus", default="english-text", help="the pre-training text (and the tokenizer's)")
    parser.add_argument("--objectives", default="bert,electra", help="bert (mlm+nsp), electra (rtd), or both")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--sizes", default="--hidden-size 256 --layers 4 --heads 4 --intermediate-size 1024")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--pretrain-lr", default="5e-4")
    parser.add_argument("--pretrain-max-length", type=int, default=128)
    parser.add_argument("--pretrain-batch-size", type=int, default=32)
    parser.add_argument("--limit-pretrain", type=int, default=None, help="documents (smoke runs)")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-lr", default="1e-4")
    parser.add_argument("--limit-finetune", type=int, default=None, help="rt-sentiment training rows")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--mixed-precision", default="no")
    parser.add_argument("--budgets", default=None, help="pre-training epochs of each point of the compute curve")
    args = parser.parse_args()
    if args.budgets:
        return compute_curve(args)
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU {torch.backends.cpu.get_cpu_capability()}"
    out, sizes = args.out, args.sizes.split()
    hidden = sizes[sizes.index("--hidden-size") + 1]  # ELECTRA embeds at the hidden size: the same encoder as BERT's
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, limit = wordpiece(args), ["--limit-train", args.limit_pretrain] if args.limit_pretrain else []

    models, seconds = {}, {}
    arms = (("bert", "mlm+nsp", "bert", []), ("electra", "rtd", "electra", ["--embedding-size", hidden]))
    chosen = args.objectives.split(",")
    for name, objective, config, extra in (arm for arm in arms if arm[0] in chosen):
        run = out / f"{name}-pretrained"
        if not (run / "metrics.json").is_file():
            seconds[name] = ftcli("pretrain", objective, "--config", config, "--tokenizer", tokenizer, *sizes, *extra,
                                  "--train", args.corpus, "--epochs", args.pretrain_epochs, "--lr", args.pretrain_lr,
                                  "--batch-size", args.pretrain_batch_size,
                                  "--max-length", args.pretrain_max_length, "--set", "data.validation_fraction=0.05",
                                  "--mixed-precision", args.mixed_precision, "--output-dir", run, *limit)
        print(f"RESULT {name} pre-training: {json.loads((run / 'metrics.json').read_text())}", flush=True)
        models[f"{name} pre-trained ({objective})"] = run / "model"
        random_dir = out / f"{name}-random"
        if not (random_dir / "config.json").is_file():
            ftcli("models", "init", "--config", config, "--tokenizer", tokenizer, *sizes, *extra, "--output-dir", random_dir)
        models[f"{name} random init"] = random_dir

    scores: dict[str, list[float]] = {}
    for seed in args.seeds.split(","):  # seeds outermost: a cut-short run still compares every model
        for label, model in models.items():
            run = out / "finetune" / f"{label.split()[0]}-{'pre' if 'pre-trained' in label else 'random'}-seed{seed}"
            scores.setdefault(label, []).append(fine_tuned_accuracy(args, model, seed, run))
            print(f"RESULT {label} seed {seed}: accuracy {scores[label][-1]:.4f}", flush=True)

    print(f"\nDevice: {device}; pre-training {args.pretrain_epochs} epochs on {args.corpus}; fine-tuning "
          f"{args.finetune_epochs} epochs on rt-sentiment, seeds {args.seeds}")
    for name in chosen:
        run = out / f"{name}-pretrained"
        metrics = json.loads((run / "metrics.json").read_text())
        key = "validation_masked_accuracy" if name == "bert" else "validation_rtd_accuracy"
        print(f"{name}: pre-training {metrics['train_runtime']:.0f} s of training; held-out curve ({key}): "
              f"{curve(run, key)}; test: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                       if k.endswith(("accuracy", "auc")) and not k.startswith("validation")))
    print(f"\n{'model':<34}{'accuracy mean':>14}{'std':>8}  per seed")
    for label, values in scores.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{label:<34}{statistics.mean(values):>14.4f}{std:>8.4f}  {values}")
    (out / "summary.json").write_text(json.dumps({"device": device, "corpus": args.corpus, "scores": scores}, indent=2))
    return 0


def tokens_seen(run: Path, max_length: int) -> int:
    """About how many tokens pre-training trained on: optimizer steps x examples per step x block length."""
    metrics = json.loads((run / "metrics.json").read_text())
    steps = max(r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "step" in r)
    return steps * metrics["global_batch_size"] * max_length


def wordpiece(args) -> Path:
    """The WordPiece tokenizer trained on the corpus (once)."""
    tokenizer = args.out / "wordpiece"
    if not (tokenizer / "tokenizer.json").is_file():
        ftcli("tokenizer", "train", "wordpiece", "--train", args.corpus, "--vocab-size", args.vocab_size,
              "--output-dir", tokenizer, *(["--limit-train", args.limit_pretrain] if args.limit_pretrain else []))
    return tokenizer


def fine_tuned_accuracy(args, model: Path, seed: str, run: Path) -> float:
    """`model` fine-tuned on rt-sentiment with the study's identical flags (once): its test accuracy."""
    if not (run / "metrics.json").is_file():
        ftcli("finetune", "classification", "--model", model, "--train", "rt-sentiment",
              "--epochs", args.finetune_epochs, "--lr", args.finetune_lr, "--batch-size", 32,
              "--max-length", 64, "--seed", seed, "--mixed-precision", args.mixed_precision,
              "--output-dir", run, *(["--limit-train", args.limit_finetune] if args.limit_finetune else []))
    return json.loads((run / "metrics.json").read_text())["accuracy"]


def fine_tune_scores(args, label: str, model: Path, scores: dict[str, list[float]]) -> None:
    for seed in args.seeds.split(","):
        scores.setdefault(label, []).append(fine_tuned_accuracy(args, model, seed,
                                                                args.out / "finetune" / f"{label}-seed{seed}"))
        print(f"RESULT {label} seed {seed}: accuracy {scores[label][-1]:.4f}", flush=True)


def compute_curve(args) -> int:
    """Fine-tuned accuracy of BERT pre-trained from scratch against pre-training compute, and random init."""
    out, sizes = args.out, args.sizes.split()
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, limit = wordpiece(args), ["--limit-train", args.limit_pretrain] if args.limit_pretrain else []
    random_dir = out / "bert-random"
    if not (random_dir / "config.json").is_file():
        ftcli("models", "init", "--config", "bert", "--tokenizer", tokenizer, *sizes, "--output-dir", random_dir)
    scores: dict[str, list[float]] = {}
    fine_tune_scores(args, "random", random_dir, scores)
    points = []
    for budget in map(int, args.budgets.split(",")):
        run = out / f"bert-mlm-{budget}ep"
        if not (run / "metrics.json").is_file():
            ftcli("pretrain", "mlm", "--config", "bert", "--tokenizer", tokenizer, *sizes, "--train", args.corpus,
                  "--epochs", budget, "--lr", args.pretrain_lr, "--batch-size", args.pretrain_batch_size,
                  "--max-length", args.pretrain_max_length, "--mixed-precision", args.mixed_precision,
                  "--output-dir", run, *limit)
        label = f"mlm-{budget}ep"
        fine_tune_scores(args, label, run / "model", scores)
        tokens = tokens_seen(run, args.pretrain_max_length)
        metrics = json.loads((run / "metrics.json").read_text())
        points.append({"epochs": budget, "tokens": tokens, "flops": 6 * non_embedding_parameters(run / "model") * tokens,
                       "seconds": metrics["train_runtime"], "masked_accuracy": metrics.get("masked_accuracy"),
                       "accuracy": scores[label]})

    base = scores["random"]
    print(f"\nCPU: {cpu_name()}; BERT {args.sizes}, mlm on {args.corpus}; fine-tuned {args.finetune_epochs} epochs "
          f"on rt-sentiment, seeds {args.seeds}")
    print(f"random init: accuracy {statistics.mean(base):.4f} ± {_spread(base):.4f}")
    print(f"{'epochs':>6} {'tokens':>12} {'FLOPs':>10} {'seconds':>8} {'masked acc':>10} {'accuracy':>16} {'vs random':>10}")
    crossed = None
    for point in points:
        values = point["accuracy"]
        gain = statistics.mean(values) - statistics.mean(base)
        error = math.sqrt(_spread(values) ** 2 / len(values) + _spread(base) ** 2 / len(base))
        if crossed is None and len(values) > 1 and gain > 2 * error:
            crossed = point
        print(f"{point['epochs']:>6} {point['tokens']:>12,} {point['flops']:>10.2e} {point['seconds']:>8.0f} "
              f"{point['masked_accuracy'] or float('nan'):>10.4f} {statistics.mean(values):>8.4f} ± {_spread(values):.4f} "
              f"{gain:>+10.4f}")
    print(f"crosses random init (by more than 2 s.e.) at {crossed['epochs']} epochs, {crossed['flops']:.2e} FLOPs"
          if crossed else f"does not cross random init within {points[-1]['flops']:.2e} FLOPs "
                          f"({points[-1]['epochs']} epochs) on this machine")
    (out / "curve.json").write_text(json.dumps({"cpu": cpu_name(), "random": base, "points": points,
                                                "crossed_at_epochs": crossed and crossed["epochs"]}, indent=2))
    return 0


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


if __name__ == "__main__":
    sys.exit(main())
