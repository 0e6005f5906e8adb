"""ftcli vs transformers' Trainer: fine-tuning MiniLM on rt-sentiment, same data, same settings.

    python benchmarks/classification_vs_trainer.py                 # full split, 2 epochs
    python benchmarks/classification_vs_trainer.py --limit-train 2000 --epochs 1   # quick look

Both tools train `AutoModelForSequenceClassification`-equivalent models from the same MiniLM
checkpoint on the same rows (ftcli's `rt-sentiment` alias) with max length 128, batch 32,
lr 5e-5, linear decay, no warm-up, no weight decay, and are scored on the same 2,000 test rows.
ftcli runs through its real command line. Prints accuracy, macro-F1, training throughput and
wall time for each, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import run_ftcli_finetune


def run_trainer(args, model_dir: str, splits) -> dict:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              Trainer, TrainingArguments)
    from transformers.utils import logging

    logging.set_verbosity_error()
    labels = sorted(set(splits["train"]["label"]))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(batch):
        out = tokenizer(batch["text"], truncation=True, max_length=args.max_length)
        out["labels"] = [label2id[v] for v in batch["label"]]
        return out

    train = splits["train"].map(encode, batched=True, remove_columns=["text", "label"])
    test = splits["test"].map(encode, batched=True, remove_columns=["text", "label"])
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    with tempfile.TemporaryDirectory() as out_dir:
        training_args = TrainingArguments(
            output_dir=out_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64, learning_rate=args.lr, lr_scheduler_type="linear",
            warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, seed=args.seed, eval_strategy="no",
            save_strategy="no", logging_steps=50, report_to=[], disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=train,
                          data_collator=DataCollatorWithPadding(tokenizer))
        start = time.perf_counter()
        result = trainer.train()
        prediction = trainer.predict(test)
        wall = time.perf_counter() - start
    predictions = np.asarray(prediction.predictions).argmax(-1)
    return {
        "accuracy": accuracy_score(prediction.label_ids, predictions),
        "f1": f1_score(prediction.label_ids, predictions, average="macro"),
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "wall_seconds": wall,
    }


def run_ftcli(args) -> dict:
    arguments = ["--model", "minilm", "--train", "rt-sentiment", "--epochs", str(args.epochs),
                 "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
                 "--seed", str(args.seed)]
    if args.limit_train:
        arguments += ["--limit-train", str(args.limit_train)]
    result = run_ftcli_finetune("classification", arguments)
    # No validation split: ftcli keeps the last epoch and trains on the same rows as the Trainer.
    return {**result["last_epoch"], "train_samples_per_second": result["train_samples_per_second"], "wall_seconds": result["wall_seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit-train", type=int, default=None, help="train on N rows (default: all)")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    from ftcli import assets

    model_dir = assets.resolve_model("minilm")
    splits = assets.DATASETS["rt-sentiment"].splits()
    if args.limit_train:
        # The same rows ftcli's --limit-train picks: a seeded shuffle, then the first N.
        splits["train"] = splits["train"].shuffle(seed=args.seed).select(range(args.limit_train))
    print(f"rt-sentiment: {splits['train'].num_rows} train / {splits['test'].num_rows} test rows; "
          f"{args.epochs} epochs, max length {args.max_length}, batch {args.batch_size}, lr {args.lr}",
          flush=True)

    results = {"ftcli": run_ftcli(args)}
    print("ftcli done", flush=True)
    results["trainer"] = run_trainer(args, model_dir, splits)

    print(f"\n{'tool':<10}{'accuracy':>10}{'macro-F1':>10}{'train ex/s':>12}{'wall s':>9}")
    for name, r in results.items():
        print(f"{name:<10}{r['accuracy']:>10.4f}{r['f1']:>10.4f}{r['train_samples_per_second']:>12.2f}"
              f"{r['wall_seconds']:>9.1f}")
    ours, theirs = results["ftcli"], results["trainer"]
    gap = 100 * (ours["accuracy"] - theirs["accuracy"])
    speed = ours["train_samples_per_second"] / theirs["train_samples_per_second"]
    print("(both rows: the last epoch, trained on the same rows, test split scored once)")
    print(f"\naccuracy difference (ftcli - Trainer): {gap:+.2f} points "
          f"({'OK' if gap >= -0.5 else 'BELOW TARGET'}: target >= -0.5)")
    print(f"training throughput ratio (ftcli / Trainer): {speed:.2f}x")
    print(f"wall time ratio (Trainer / ftcli): {theirs['wall_seconds'] / ours['wall_seconds']:.2f}x")
    if args.output:
        args.output.write_text(json.dumps({"settings": vars(args) | {"output": None}, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
