"""ftcli vs transformers' Trainer: fine-tuning MiniLM on rt-sentiment, same data, same settings, side by side.

    python benchmarks/classification_vs_trainer.py                     # full split, 2 epochs, float32 and best
    python benchmarks/classification_vs_trainer.py --limit-train 2000 --epochs 1 --precision float32   # quick look
    python benchmarks/classification_vs_trainer.py --epochs 1 --repeat-train 5     # peak memory at 53,760 rows

Both tools train MiniLM with a new sequence-classification head on the same rows (ftcli's `rt-sentiment` alias)
with max length 128, batch 32, lr 5e-5, linear decay, no warm-up, no weight decay, and score the same 2,000 test
rows. ftcli runs through its real command line; the Trainer uses `DataCollatorWithPadding`, as its examples do.
Each run is its own process and the tools alternate. Precisions: `float32` on both sides, and `best`: ftcli's
`--mixed-precision auto` against the Trainer with `bf16=True` where the hardware runs bf16 fast (float32, its
default, elsewhere). Evaluation: `ftcli evaluate`'s model pass against `Trainer.predict` on the model ftcli
trained (float32), twice each, alternating; the predicted labels must be identical.

Prints accuracy, macro-F1, training and evaluation examples/s, peak memory (resident set size), the fraction of
the machine's measured matrix-multiply ceiling each reaches (6 x non-embedding parameters x real tokens per
example x examples/s), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import (cpu_name, matmul_ceiling_gflops, non_embedding_parameters, peak_rss_mb, run_ftcli_finetune,
                    run_worker)

SCRIPT = str(Path(__file__).resolve())


def load_splits(args):
    from ftcli import assets

    splits = assets.DATASETS["rt-sentiment"].splits()
    if args.limit_train:
        # The same rows ftcli's --limit-train picks: a seeded shuffle, then the first N.
        splits["train"] = splits["train"].shuffle(seed=args.seed).select(range(args.limit_train))
    if args.repeat_train > 1:  # the file ftcli trains on (repeated_training_file) holds these rows
        from datasets import concatenate_datasets

        splits["train"] = concatenate_datasets([splits["train"]] * args.repeat_train)
    return splits


def repeated_training_file(args, folder: Path) -> Path:
    """The training rows, repeated `--repeat-train` times, as a CSV file for ftcli (memory at larger data sizes)."""
    path = folder / "train-repeated.csv"
    load_splits(args)["train"].to_csv(str(path), index=False)
    return path


def encoded(args, model_dir: str, splits, label2id):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(batch):
        out = tokenizer(batch["text"], truncation=True, max_length=args.max_length)
        out["labels"] = [label2id[v] for v in batch["label"]]
        return out

    columns = ["text", "label"]
    return tokenizer, {name: rows.map(encode, batched=True, remove_columns=columns) for name, rows in splits.items()}


def worker_trainer(args) -> dict:
    """Train and predict with the Trainer, as its text-classification example does."""
    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.utils import logging

    from ftcli import assets

    logging.set_verbosity_error()
    model_dir = assets.resolve_model("minilm")
    splits = load_splits(args)
    labels = sorted(set(splits["train"]["label"]))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer, data = encoded(args, model_dir, splits, label2id)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    with tempfile.TemporaryDirectory() as out_dir:
        training_args = TrainingArguments(
            output_dir=out_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64, learning_rate=args.lr, lr_scheduler_type="linear",
            warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, seed=args.seed, eval_strategy="no",
            save_strategy="no", logging_steps=50, report_to=[], disable_tqdm=True,
            dataloader_num_workers=0, bf16=args.trainer_bf16, use_cpu=not torch.cuda.is_available(),
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=data["train"],
                          data_collator=DataCollatorWithPadding(tokenizer))
        result = trainer.train()
        prediction = trainer.predict(data["test"])
    predictions = np.asarray(prediction.predictions).argmax(-1)
    return {
        "accuracy": accuracy_score(prediction.label_ids, predictions),
        "f1": f1_score(prediction.label_ids, predictions, average="macro"),
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "eval_samples_per_second": prediction.metrics["test_samples_per_second"],
        "peak_memory_mb": peak_rss_mb(),
        "precision": "bf16" if args.trainer_bf16 else "float32",
    }


def worker_trainer_predict(args) -> dict:
    """`Trainer.predict` on the model ftcli trained (float32): predicted labels and examples/s."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.utils import logging

    logging.set_verbosity_error()
    model_dir = str(Path(args.run) / "model")
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    splits = load_splits(args)
    tokenizer, data = encoded(args, model_dir, {"test": splits["test"]}, model.config.label2id)
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=out_dir, per_device_eval_batch_size=64,
                                                              report_to=[], disable_tqdm=True, use_cpu=not torch.cuda.is_available()),
                          data_collator=DataCollatorWithPadding(tokenizer))
        prediction = trainer.predict(data["test"])
    ids = np.asarray(prediction.predictions).argmax(-1)
    return {"labels": [model.config.id2label[int(i)] for i in ids],
            "eval_samples_per_second": prediction.metrics["test_samples_per_second"]}


def worker_ftcli_evaluate(args) -> dict:
    """`ftcli evaluate`'s code path on the same rows: its metrics (eval_samples_per_second times the model
    pass, as Trainer.predict's does) and `ftcli predict`'s labels."""
    import os

    os.environ["FTCLI_AUTO_PRECISION"] = "no"  # float32, as Trainer.predict
    from ftcli.inference import evaluate_dataset, load_trained, predict_dataset

    loaded = load_trained(args.run, None)
    test = load_splits(args)["test"]
    metrics = evaluate_dataset(loaded, test, "rt-sentiment test")
    records = predict_dataset(loaded, test, "rt-sentiment test")
    return {"labels": [r["label"] for r in records], "eval_samples_per_second": metrics["eval_samples_per_second"],
            "accuracy": metrics["accuracy"]}


WORKERS = {"trainer": worker_trainer, "trainer-predict": worker_trainer_predict, "ftcli-evaluate": worker_ftcli_evaluate}


def run_ftcli(args, precision: str, keep_in: Path) -> dict:
    arguments = ["--model", "minilm", "--epochs", str(args.epochs),
                 "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
                 "--seed", str(args.seed), "--mixed-precision", "no" if precision == "float32" else "auto"]
    if args.repeat_train > 1:
        arguments += ["--train", str(repeated_training_file(args, keep_in.parent)), "--test", "rt-sentiment@test"]
    else:
        arguments += ["--train", "rt-sentiment"] + (["--limit-train", str(args.limit_train)] if args.limit_train else [])
    result = run_ftcli_finetune("classification", arguments, keep_in=keep_in)
    # No validation split: ftcli keeps the last epoch and trains on the same rows as the Trainer.
    return {**result["last_epoch"], **{k: result[k] for k in (
        "train_samples_per_second", "eval_samples_per_second", "peak_memory_mb", "mixed_precision")},
        "precision": "bf16" if result["mixed_precision"] == "bf16" else "float32"}


def shared_arguments(args) -> list[str]:
    values = ["--epochs", str(args.epochs), "--max-length", str(args.max_length), "--batch-size",
              str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed)]
    return (values + (["--limit-train", str(args.limit_train)] if args.limit_train else [])
            + ["--repeat-train", str(args.repeat_train)])


def real_tokens_per_example(args) -> float:
    from transformers import AutoTokenizer

    from ftcli import assets

    tokenizer = AutoTokenizer.from_pretrained(assets.resolve_model("minilm"))
    texts = load_splits(args)["train"]["text"]
    return statistics.mean(len(ids) for ids in tokenizer(list(texts), truncation=True,
                                                         max_length=args.max_length)["input_ids"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit-train", type=int, default=None, help="train on N rows (default: all)")
    parser.add_argument("--repeat-train", type=int, default=1,
                        help="train on the rows repeated K times (peak memory at larger data sizes: 5 = 53,760 rows)")
    parser.add_argument("--precision", choices=["float32", "best", "both"], default="both")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--trainer-bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0

    from ftcli.precision import resolve_mixed_precision

    auto, reason = resolve_mixed_precision("auto")
    splits = load_splits(args)
    tokens = real_tokens_per_example(args)
    from ftcli import assets

    flops_per_example = 6 * non_embedding_parameters(assets.resolve_model("minilm")) * tokens
    print(f"CPU: {cpu_name()}; auto precision here: {auto} ({reason})")
    print(f"rt-sentiment: {splits['train'].num_rows} train / {splits['test'].num_rows} test rows, "
          f"{tokens:.1f} real tokens per training example; {args.epochs} epochs, max length {args.max_length}, "
          f"batch {args.batch_size}, lr {args.lr}", flush=True)

    precisions = ["float32", "best"] if args.precision == "both" else [args.precision]
    if auto == "no" and "best" in precisions:
        print("No fast bf16 on this machine: each tool's best precision is float32, so 'best' = 'float32'.")
        precisions = ["float32"]
    ceilings = {p: matmul_ceiling_gflops("bfloat16" if p == "bf16" else "float32") for p in ("float32", "bf16")
                if p == "float32" or auto == "bf16"}
    print("matmul ceiling: " + ", ".join(f"{p} {c:.0f} GFLOP/s" for p, c in ceilings.items()), flush=True)

    runs = Path(tempfile.mkdtemp(prefix="ftcli-bench-"))  # the runs' model folders, removed at the end
    try:
        return compare(args, auto, ceilings, flops_per_example, precisions, runs)
    finally:
        shutil.rmtree(runs, ignore_errors=True)


def compare(args, auto: str, ceilings: dict, flops_per_example: float, precisions: list[str], runs: Path) -> int:
    results = {}
    for precision in precisions:
        ours = run_ftcli(args, precision, keep_in=runs / precision)
        print(f"[{precision}] ftcli done: {ours['train_samples_per_second']:.1f} ex/s", flush=True)
        trainer_bf16 = precision == "best" and auto == "bf16"
        theirs = run_worker(SCRIPT, "trainer", shared_arguments(args) + (["--trainer-bf16"] if trainer_bf16 else []))
        print(f"[{precision}] Trainer done: {theirs['train_samples_per_second']:.1f} ex/s", flush=True)
        results[precision] = {"ftcli": ours, "trainer": theirs}

    # Evaluation on the float32 model ftcli trained: two rounds, alternating; the faster of each tool's rounds.
    evals = {"ftcli": [], "trainer": []}
    for _ in range(2):
        evals["ftcli"].append(run_worker(SCRIPT, "ftcli-evaluate", shared_arguments(args) + ["--run", str(runs / "float32")]))
        evals["trainer"].append(run_worker(SCRIPT, "trainer-predict", shared_arguments(args) + ["--run", str(runs / "float32")]))
    identical = evals["ftcli"][0]["labels"] == evals["trainer"][0]["labels"]
    differing = sum(a != b for a, b in zip(evals["ftcli"][0]["labels"], evals["trainer"][0]["labels"]))

    print(f"\n{'precision':<10}{'tool':<9}{'accuracy':>9}{'macro-F1':>9}{'train ex/s':>11}{'of ceiling':>11}"
          f"{'eval ex/s':>10}{'peak MB':>9}")
    for precision, pair in results.items():
        for name, r in pair.items():
            ceiling = ceilings["bf16" if r["precision"] == "bf16" else "float32"]
            fraction = flops_per_example * r["train_samples_per_second"] / (ceiling * 1e9)
            r["fraction_of_ceiling"] = fraction
            print(f"{precision:<10}{name:<9}{r['accuracy']:>9.4f}{r['f1']:>9.4f}{r['train_samples_per_second']:>11.2f}"
                  f"{fraction:>11.1%}{r['eval_samples_per_second']:>10.1f}{r['peak_memory_mb']:>9.0f}")
    print("(training: the last epoch, the same rows, the test split scored once; 'of ceiling': useful FLOPs on "
          "real tokens / measured matmul rate)")
    for precision, pair in results.items():
        ours, theirs = pair["ftcli"], pair["trainer"]
        target = 2.0 if precision == "float32" or auto == "no" else 3.0
        speed = ours["train_samples_per_second"] / theirs["train_samples_per_second"]
        gap = 100 * (ours["accuracy"] - theirs["accuracy"])
        print(f"[{precision}] training throughput ftcli/Trainer: {speed:.2f}x (target >= {target}x); accuracy "
              f"difference {gap:+.2f} points (target >= {-0.5 if precision == 'float32' else -1.0})")
    eval_ours = max(r["eval_samples_per_second"] for r in evals["ftcli"])
    eval_theirs = max(r["eval_samples_per_second"] for r in evals["trainer"])
    print(f"evaluation (float32, same model, {len(evals['ftcli'][0]['labels'])} rows, best of 2 rounds each): ftcli "
          f"{eval_ours:.1f} ex/s, Trainer.predict {eval_theirs:.1f} ex/s: {eval_ours / eval_theirs:.2f}x "
          f"(target >= 2.0x); predictions {'identical' if identical else f'differ on {differing} rows'}")
    if args.output:
        args.output.write_text(json.dumps({"settings": {k: v for k, v in vars(args).items() if k != "output"},
                                           "cpu": cpu_name(), "training": results,
                                           "evaluation": {"ftcli": eval_ours, "trainer": eval_theirs,
                                                          "identical_predictions": identical}},
                                          indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
