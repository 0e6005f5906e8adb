"""ftcli vs transformers' Trainer on NER: MiniLM fine-tuned on the wnut16 split, same settings.

    python benchmarks/ner_vs_trainer.py                    # 3 epochs, lr 5e-5, batch 16, seeds 42 43 44
    python benchmarks/ner_vs_trainer.py --precision both      # also ftcli's auto against the Trainer's bf16

Both tools start from the same MiniLM checkpoint, train on the same rows (ftcli's `wnut16`
alias) with first-sub-token labels (-100 elsewhere), max length 128, linear decay, no warm-up,
and are scored with seqeval (entity level) on the same test sentences, words cut off by
truncation counted as "O". Entity F1 is noisy on this small, hard set, so each tool runs with
several seeds and the means are compared. Prints F1 per seed, the means, throughputs and times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import json
from pathlib import Path

from common import cpu_name, peak_rss_mb, precisions_to_run, run_ftcli_finetune, run_worker

SCRIPT = str(Path(__file__).resolve())


def worker_trainer(args) -> dict:
    from ftcli import assets

    splits = assets.DATASETS["wnut16"].splits()
    return run_trainer(args, assets.resolve_model("minilm"), splits, args.seed)


def run_trainer(args, model_dir: str, splits, seed: int) -> dict:
    import numpy as np
    import torch
    from seqeval.metrics import f1_score
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments)
    from transformers.utils import logging

    logging.set_verbosity_error()
    tags = sorted({t for row in splits["train"]["tags"] for t in row})
    label2id = {t: i for i, t in enumerate(tags)}
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(batch):
        out = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=args.max_length)
        out["labels"] = []
        for row, row_tags in enumerate(batch["tags"]):
            previous, labels = None, []
            for word in out.word_ids(row):
                labels.append(-100 if word is None or word == previous else label2id[row_tags[word]])
                previous = word
            out["labels"].append(labels)
        return out

    train = splits["train"].map(encode, batched=True, remove_columns=["tokens", "tags"])
    test = splits["test"].map(encode, batched=True, remove_columns=["tokens", "tags"])
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=label2id)
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=out_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
                per_device_eval_batch_size=64, learning_rate=args.lr, lr_scheduler_type="linear", warmup_steps=0,
                weight_decay=0.0, max_grad_norm=1.0, seed=seed, eval_strategy="no", save_strategy="no",
                report_to=[], disable_tqdm=True, logging_steps=50, bf16=getattr(args, "trainer_bf16", False),
                use_cpu=not torch.cuda.is_available()),
            train_dataset=train, data_collator=DataCollatorForTokenClassification(tokenizer))
        start = time.perf_counter()
        result = trainer.train()
        prediction = trainer.predict(test)
        wall = time.perf_counter() - start
    predicted_ids = np.asarray(prediction.predictions).argmax(-1)
    predictions, references = [], []
    for row, gold in enumerate(splits["test"]["tags"]):
        words = ["O"] * len(gold)
        for position, label in enumerate(test[row]["labels"]):
            if label != -100:  # the first sub-token of a word: read the prediction there
                word = len([x for x in test[row]["labels"][:position] if x != -100])
                words[word] = tags[predicted_ids[row][position]]
        predictions.append(words)
        references.append(list(gold))
    return {"f1": f1_score(references, predictions),
            "train_samples_per_second": result.metrics["train_samples_per_second"],
            "eval_samples_per_second": prediction.metrics["test_samples_per_second"],
            "peak_memory_mb": peak_rss_mb(), "wall_seconds": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--precision", choices=["float32", "best", "both"], default="float32",
                        help="float32 on both; best: ftcli's auto against the Trainer with bf16=True where the "
                             "hardware runs bf16 fast; both")
    parser.add_argument("--ftcli-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra ftcli settings, e.g. train.group_by_length=true (repeatable)")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=["trainer"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trainer-bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(worker_trainer(args)))
        return 0

    from ftcli import assets

    auto, reason, precisions = precisions_to_run(args.precision)
    splits = assets.DATASETS["wnut16"].splits()
    print(f"CPU: {cpu_name()}; auto precision here: {auto} ({reason})")
    print(f"wnut16: {splits['train'].num_rows} train / {splits['test'].num_rows} test sentences; "
          f"{args.epochs} epochs, lr {args.lr}, batch {args.batch_size}, seeds {args.seeds}"
          f"{', ftcli settings ' + ' '.join(args.ftcli_set) if args.ftcli_set else ''}", flush=True)
    runs = {(precision, tool): [] for precision in precisions for tool in ("ftcli", "trainer")}
    for seed in args.seeds:
        for precision in precisions:
            ours = run_ftcli_finetune("ner", [
                "--model", "minilm", "--train", "wnut16", "--epochs", str(args.epochs), "--lr", str(args.lr),
                "--batch-size", str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(seed),
                "--mixed-precision", "no" if precision == "float32" else "auto",
                *[arg for setting in args.ftcli_set for arg in ("--set", setting)]])
            trainer_bf16 = precision == "best" and auto == "bf16"
            theirs = run_worker(SCRIPT, "trainer", ["--epochs", str(args.epochs), "--lr", str(args.lr), "--batch-size",
                                                    str(args.batch_size), "--max-length", str(args.max_length),
                                                    "--seed", str(seed)] + (["--trainer-bf16"] if trainer_bf16 else []))
            runs[precision, "ftcli"].append({**ours, "f1": ours["last_epoch"]["f1"]})
            runs[precision, "trainer"].append(theirs)
            print(f"[{precision}] seed {seed}: ftcli F1 {ours['last_epoch']['f1']:.4f} (last epoch), "
                  f"{ours['train_samples_per_second']:.1f} ex/s; Trainer F1 {theirs['f1']:.4f}, "
                  f"{theirs['train_samples_per_second']:.1f} ex/s", flush=True)

    print(f"\n{'precision':<10}{'tool':<9}{'mean F1':>9}{'per seed':>24}{'train ex/s':>12}{'eval ex/s':>11}"
          f"{'peak MB':>9}{'wall s':>9}")
    summary = {}
    for (precision, tool), rows in runs.items():
        f1s = [r["f1"] for r in rows]
        summary[precision, tool] = {
            "f1": statistics.mean(f1s), "f1s": f1s,
            "train_samples_per_second": statistics.mean(r["train_samples_per_second"] for r in rows),
            "eval_samples_per_second": statistics.mean(r["eval_samples_per_second"] for r in rows),
            "peak_memory_mb": max(r["peak_memory_mb"] for r in rows),
            "wall_seconds": statistics.mean(r["wall_seconds"] for r in rows)}
        m = summary[precision, tool]
        print(f"{precision:<10}{tool:<9}{m['f1']:>9.4f}{' '.join(f'{f:.4f}' for f in f1s):>24}"
              f"{m['train_samples_per_second']:>12.2f}{m['eval_samples_per_second']:>11.1f}{m['peak_memory_mb']:>9.0f}"
              f"{m['wall_seconds']:>9.1f}")
    comparisons = [(p, p) for p in precisions]
    if "best" in precisions and "float32" in precisions:
        comparisons.append(("best", "float32"))  # each tool's default: ftcli's auto, the Trainer's float32
    for ours_at, theirs_at in comparisons:
        ours, theirs = summary[ours_at, "ftcli"], summary[theirs_at, "trainer"]
        label = "defaults (ftcli auto, Trainer float32)" if ours_at != theirs_at else ours_at
        gap = 100 * (ours["f1"] - theirs["f1"])
        print(f"[{label}] training throughput ftcli/Trainer: "
              f"{ours['train_samples_per_second'] / theirs['train_samples_per_second']:.2f}x (target >= 1.5x); mean "
              f"entity F1 difference {gap:+.2f} points ({'OK' if gap >= -1 else 'BELOW TARGET'}: target >= -1 point); "
              f"peak memory {ours['peak_memory_mb'] / theirs['peak_memory_mb']:.2f}x")
    print("Both tools' scores are the last epoch's (ftcli keeps the last epoch without a validation split).")
    if args.output:
        args.output.write_text(json.dumps({"cpu": cpu_name(), "settings": {k: str(v) for k, v in vars(args).items()},
                                           "results": {f"{p}/{t}": v for (p, t), v in summary.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
