"""`ftcli tune` vs transformers' `Trainer.hyperparameter_search(backend="optuna")`: MiniLM on rt-sentiment, the
same rows, the same search space, the same number of trials.

    python benchmarks/tune_vs_trainer.py --trials 10                  # 2,000 training rows, the whole test split
    python benchmarks/tune_vs_trainer.py --trials 2 --limit-train 200 --limit-test 100 --max-length 32   # smoke

The rows: the first 2,000 of rt-sentiment's training split after a seeded shuffle (ftcli's --limit-train), 10% of
them held out (seeded) as the validation rows every trial is scored on, the rest trained on; the test rows are
rt-sentiment's test split, scored once per tool, by its tuned settings. Both sides take them from
`ftcli.data.sources.load_splits`, so they are the same rows.

The space (ftcli's default for the full recipe, written out for the Trainer under its own names): learning rate
1e-5..1e-4 (log), epochs 1..4, batch size 16 or 32, warm-up ratio 0..0.2, weight decay 0..0.1. Both use Optuna's
TPE sampler seeded with 42 (random for the first half of the trials, at most 10, as ftcli's) and a median pruner
(3 start-up trials), scored by validation accuracy after every epoch; float32 on both sides. The same seed and
space draw the same first settings on both sides. Differences that remain, each the tool's own way:

- ftcli runs each trial in a worker process (checkpointed at epoch ends, so an interrupted search continues; its
  start-up, a few seconds, is counted); the Trainer runs them in one process.
- ftcli scores a trial by its best epoch's validation accuracy, the Trainer by its last evaluation's.
- ftcli's pruner compares trials at the same epoch; the Trainer reports at the global step, which differs between
  batch sizes, so its pruner compares a trial only with those of the same batch size.
- The Trainer casts a searched value to the type of the argument's default: `warmup_steps` (a ratio when below
  1) is therefore given a float default here, or every ratio would become 0 steps.

Then each tool's best settings train once more on the training rows (the best epoch kept by validation accuracy:
`load_best_model_at_end` for the Trainer) and score the test rows. Beside them, the recipe's own settings
(`ftcli finetune`, lr 5e-5, 2 epochs, batch 32) on the same rows. Prints test accuracy, the tuned settings, the
trials' states, and the wall time of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_name, run_worker

SCRIPT = str(Path(__file__).resolve())
SPACE = {"learning_rate": ("optim.lr", "loguniform", 1e-5, 1e-4), "num_train_epochs": ("train.epochs", "int", 1, 4),
         "per_device_train_batch_size": ("train.batch_size", "choice", 16, 32),
         "warmup_steps": ("optim.warmup_ratio", "uniform", 0.0, 0.2),
         "weight_decay": ("optim.weight_decay", "uniform", 0.0, 0.1)}
"""Trainer argument -> (ftcli config key, kind, low or first choice, high or second choice)."""


def ftcli_space() -> list[str]:
    items = []
    for key, kind, a, b in SPACE.values():
        items += ["--space", f"{key}={kind}:{a},{b}" if kind == "choice" else f"{key}={kind}:{a}:{b}"]
    return items


def common_flags(args) -> list[str]:
    return ["--model", "minilm", "--train", "rt-sentiment", "--limit-train", str(args.limit_train),
            "--max-length", str(args.max_length), "--seed", str(args.seed), "--mixed-precision", "no",
            "--set", "data.validation_fraction=0.1", *(["--limit-test", str(args.limit_test)] if args.limit_test else [])]


def run_ftcli_tune(args, out: Path) -> dict:
    command = [sys.executable, "-m", "ftcli", "tune", "classification", *common_flags(args), "--trials",
               str(args.trials), *ftcli_space(), "--output-dir", str(out)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    report = json.loads((out / "trials.json").read_text())
    states = [row["state"] for row in report["trials"]]
    return {"test_accuracy": report["best"]["test"]["accuracy"], "validation_accuracy": report["best"]["validation"],
            "params": report["best"]["params"], "complete": states.count("complete"), "pruned": states.count("pruned"),
            "wall_seconds": wall}


def run_ftcli_recipe(args, out: Path) -> dict:
    command = [sys.executable, "-m", "ftcli", "finetune", "classification", *common_flags(args), "--output-dir", str(out)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"test_accuracy": metrics["accuracy"], "validation_accuracy": metrics["validation_accuracy"],
            "wall_seconds": time.perf_counter() - start}


def load_rows(args):
    """The training, validation and test rows, as ftcli splits them."""
    from ftcli.data.sources import load_splits

    splits = load_splits("rt-sentiment", None, 0.1, args.seed, args.limit_train, args.limit_test, None, 0.1)
    return {"train": splits.train, "validation": splits.validation, "test": splits.eval}


def worker_trainer(args) -> dict:
    """The Trainer's hyper-parameter search (Optuna), then its best settings trained once more and tested."""
    import numpy as np
    import optuna
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer
    from transformers.utils import logging

    from ftcli import assets

    logging.set_verbosity_error()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model_dir = assets.resolve_model("minilm")
    rows = load_rows(args)
    labels = sorted(set(rows["train"]["label"]))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(batch):
        out = tokenizer(batch["text"], truncation=True, max_length=args.max_length)
        out["labels"] = [label2id[v] for v in batch["label"]]
        return out

    data = {name: split.map(encode, batched=True, remove_columns=split.column_names) for name, split in rows.items()}

    def model_init(trial=None):
        return AutoModelForSequenceClassification.from_pretrained(
            model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)

    def accuracy(prediction):
        return {"accuracy": float((np.asarray(prediction.predictions).argmax(-1) == prediction.label_ids).mean())}

    def hp_space(trial):
        values = {}
        for name, (_, kind, a, b) in SPACE.items():
            values[name] = (trial.suggest_categorical(name, [a, b]) if kind == "choice" else
                            trial.suggest_int(name, a, b) if kind == "int" else
                            trial.suggest_float(name, a, b, log=kind == "loguniform"))
        return values

    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(model_init=model_init, args=training_arguments(args, out_dir, final=False),
                          train_dataset=data["train"], eval_dataset=data["validation"], compute_metrics=accuracy,
                          data_collator=DataCollatorWithPadding(tokenizer))
        start = time.perf_counter()
        best = trainer.hyperparameter_search(
            hp_space=hp_space, compute_objective=lambda metrics: metrics["eval_accuracy"], n_trials=args.trials,
            direction="maximize", backend="optuna",
            sampler=optuna.samplers.TPESampler(seed=args.seed, n_startup_trials=max(1, min(10, args.trials // 2))),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3), storage=f"sqlite:///{out_dir}/optuna.db",
            study_name="trainer")
        search_seconds = time.perf_counter() - start
        study = optuna.load_study(study_name="trainer", storage=f"sqlite:///{out_dir}/optuna.db")
        states = [trial.state.name for trial in study.trials]
        final = training_arguments(args, out_dir + "/final", final=True)
        for name, value in best.hyperparameters.items():
            setattr(final, name, type(getattr(final, name))(value))
        retrainer = Trainer(model_init=model_init, args=final, train_dataset=data["train"],
                            eval_dataset=data["validation"], compute_metrics=accuracy,
                            data_collator=DataCollatorWithPadding(tokenizer))
        retrainer.train()
        tested = retrainer.predict(data["test"])
    return {"test_accuracy": tested.metrics["test_accuracy"], "validation_accuracy": best.objective,
            "params": best.hyperparameters, "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
            "search_seconds": search_seconds, "wall_seconds": time.perf_counter() - start}


def training_arguments(args, out_dir: str, final: bool):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=out_dir, eval_strategy="epoch", save_strategy="epoch" if final else "no",
        load_best_model_at_end=final, metric_for_best_model="accuracy", save_total_limit=1 if final else None,
        per_device_eval_batch_size=64, lr_scheduler_type="linear", warmup_steps=0.0, max_grad_norm=1.0,
        seed=args.seed, logging_steps=50, report_to=[], disable_tqdm=True, dataloader_num_workers=0, use_cpu=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--limit-train", type=int, default=2000, help="training rows before validation is held out")
    parser.add_argument("--limit-test", type=int, default=None, help="test rows (default: the whole test split)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=["trainer"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(worker_trainer(args)))
        return 0
    rows = load_rows(args)
    print(f"CPU: {cpu_name()}; MiniLM on rt-sentiment: {rows['train'].num_rows} training, "
          f"{rows['validation'].num_rows} validation, {rows['test'].num_rows} test rows; {args.trials} trials, "
          f"max length {args.max_length}, float32", flush=True)
    with tempfile.TemporaryDirectory(prefix="ftcli-tune-bench-") as tmp:
        results = {"ftcli tune": run_ftcli_tune(args, Path(tmp) / "tune")}
        print(f"ftcli tune done in {results['ftcli tune']['wall_seconds']:.0f} s", flush=True)
        results["Trainer + optuna"] = run_worker(SCRIPT, "trainer", [
            "--trials", str(args.trials), "--limit-train", str(args.limit_train), "--max-length", str(args.max_length),
            "--seed", str(args.seed), *(["--limit-test", str(args.limit_test)] if args.limit_test else [])])
        print(f"Trainer done in {results['Trainer + optuna']['wall_seconds']:.0f} s", flush=True)
        results["recipe (ftcli finetune)"] = run_ftcli_recipe(args, Path(tmp) / "recipe")
    print(f"\n{'':<24}{'test acc':>9}{'valid acc':>10}{'complete':>9}{'pruned':>7}{'wall s':>8}  tuned settings")
    for name, r in results.items():
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.get("params", {}).items())
        print(f"{name:<24}{r['test_accuracy']:>9.4f}{r['validation_accuracy']:>10.4f}{r.get('complete', ''):>9}"
              f"{r.get('pruned', ''):>7}{r['wall_seconds']:>8.0f}  {params or '(the recipe)'}")
    print("(wall: the whole search plus the tuned settings' final run and test pass; the recipe row is one run)")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
