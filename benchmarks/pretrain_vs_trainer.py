"""ftcli pretrain mlm vs transformers' Trainer with `DataCollatorForLanguageModeling` (its run_mlm.py example):
continued masked-LM training of MiniLM on the same english-text documents, same settings, side by side.

    python benchmarks/pretrain_vs_trainer.py                          # 1,000 documents, 1 epoch, float32
    python benchmarks/pretrain_vs_trainer.py --limit-train 200 --precision best     # a quick look, bf16 where fast

Both tools start from MiniLM with a new masked-LM head and train one epoch on the same documents (ftcli's
`--limit-train N`: a seeded shuffle of english-text's training split, then the first N), cut into blocks of
128 tokens with no padding, batch 32, lr 1e-4, linear decay, no warm-up, no weight decay, 15% of the tokens
chosen (80% [MASK], 10% random, 10% kept). ftcli runs through its real command line; the Trainer as run_mlm.py
does (documents tokenized with their special tokens, concatenated, grouped into blocks), so the blocks differ
in where [CLS] and [SEP] fall, not in their number of tokens.

Held-out loss: both saved models are scored by one neutral evaluator (plain transformers
`AutoModelForMaskedLM`, run_mlm.py's blocks of english-text's test split, the same seeded masks for both):
the mean cross-entropy over the masked tokens. Each tool runs in its own process, one after the other.
Prints training blocks/s of each, the ratio, the held-out losses and the peak memory (resident set size).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_name, peak_rss_mb, precisions_to_run, run_worker

SCRIPT = str(Path(__file__).resolve())
CORPUS = "english-text"


def training_documents(args):
    from ftcli import assets

    train = assets.DATASETS[CORPUS].splits()["train"]
    return train.shuffle(seed=args.seed).select(range(min(args.limit_train, train.num_rows)))


def grouped_blocks(documents, tokenizer, block_size: int):
    """run_mlm.py's preprocessing: every document tokenized with its special tokens, all of them end to end,
    cut into blocks of `block_size` (the short remainder dropped)."""
    encoded = documents.map(lambda batch: tokenizer(batch["text"], return_special_tokens_mask=True),
                            batched=True, remove_columns=documents.column_names)

    def group(batch):
        joined = {key: sum(batch[key], []) for key in batch}
        total = len(joined["input_ids"]) // block_size * block_size
        return {key: [values[i:i + block_size] for i in range(0, total, block_size)] for key, values in joined.items()}

    return encoded.map(group, batched=True, batch_size=1000)


def worker_trainer(args) -> dict:
    import torch
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)
    from transformers.utils import logging

    from ftcli import assets

    logging.set_verbosity_error()
    model_dir = assets.resolve_model("minilm")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    blocks = grouped_blocks(training_documents(args), tokenizer, args.max_length)
    model = AutoModelForMaskedLM.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as out_dir:
        training_args = TrainingArguments(
            output_dir=out_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            seed=args.seed, eval_strategy="no", save_strategy="no", logging_steps=20, report_to=[],
            disable_tqdm=True, dataloader_num_workers=0, bf16=args.trainer_bf16, use_cpu=not torch.cuda.is_available())
        trainer = Trainer(model=model, args=training_args, train_dataset=blocks,
                          data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15))
        result = trainer.train()
    model.save_pretrained(args.save_to)
    tokenizer.save_pretrained(args.save_to)
    return {"train_samples_per_second": result.metrics["train_samples_per_second"],
            "train_runtime": result.metrics["train_runtime"], "blocks": blocks.num_rows,
            "peak_memory_mb": peak_rss_mb(), "precision": "bf16" if args.trainer_bf16 else "float32"}


def worker_heldout(args) -> dict:
    """The masked-LM loss of each model in `args.models` on the same held-out blocks under the same masks."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

    from ftcli import assets

    losses = {}
    for model_dir in args.models:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        blocks = grouped_blocks(assets.DATASETS[CORPUS].splits()["test"], tokenizer, args.max_length)
        blocks = blocks.remove_columns([c for c in blocks.column_names if c not in ("input_ids", "special_tokens_mask")])
        model = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
        torch.manual_seed(0)  # the same masks for every model
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, blocks.num_rows, 32):
                batch = collator([blocks[i] for i in range(start, min(start + 32, blocks.num_rows))])
                logits = model(input_ids=batch["input_ids"]).logits
                total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(),
                                                           reduction="sum").item()
                count += int((batch["labels"] != -100).sum())
        losses[model_dir] = {"loss": total / count, "masked_tokens": count, "blocks": blocks.num_rows}
    return losses


WORKERS = {"trainer": worker_trainer, "heldout": worker_heldout}


def run_ftcli(args, precision: str, out_dir: Path) -> dict:
    command = [sys.executable, "-m", "ftcli", "pretrain", "mlm", "--model", "minilm", "--train", CORPUS,
               "--limit-train", str(args.limit_train), "--epochs", str(args.epochs), "--lr", str(args.lr),
               "--batch-size", str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(args.seed),
               "--mixed-precision", "no" if precision == "float32" else "auto", "--limit-test", "1",
               "--set", "optim.warmup_ratio=0", "--set", "optim.weight_decay=0", "--set", "train.save_checkpoint=false",
               "--output-dir", str(out_dir)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    blocks = round(metrics["train_samples_per_second"] * metrics["train_runtime"] / args.epochs)  # train_rows: documents
    return {**{k: metrics[k] for k in ("train_samples_per_second", "train_runtime", "peak_memory_mb")},
            "documents": metrics["train_rows"], "blocks": blocks,
            "precision": "bf16" if metrics["mixed_precision"] == "bf16" else "float32"}


def shared_arguments(args) -> list[str]:
    return ["--epochs", str(args.epochs), "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
            "--lr", str(args.lr), "--seed", str(args.seed), "--limit-train", str(args.limit_train)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-train", type=int, default=1000, help="english-text training documents")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--precision", choices=["float32", "best", "both"], default="float32")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--save-to", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--trainer-bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import datasets

        datasets.disable_progress_bars()
        args.worker_output.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0

    auto, reason, precisions = precisions_to_run(args.precision)
    print(f"CPU: {cpu_name()}; auto precision here: {auto} ({reason})")
    print(f"MiniLM, mlm on {args.limit_train} {CORPUS} documents: {args.epochs} epoch(s), blocks of {args.max_length}, "
          f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}", flush=True)
    runs = Path(tempfile.mkdtemp(prefix="ftcli-bench-pretrain-"))
    results = {}
    try:
        for precision in precisions:
            start = time.perf_counter()
            ours = run_ftcli(args, precision, runs / f"ftcli-{precision}")
            print(f"[{precision}] ftcli done: {ours['train_samples_per_second']:.2f} blocks/s "
                  f"({time.perf_counter() - start:.0f} s in all)", flush=True)
            trainer_bf16 = precision == "best" and auto == "bf16"
            theirs = run_worker(SCRIPT, "trainer", shared_arguments(args) + ["--save-to", str(runs / f"trainer-{precision}")]
                                + (["--trainer-bf16"] if trainer_bf16 else []))
            print(f"[{precision}] Trainer done: {theirs['train_samples_per_second']:.2f} blocks/s", flush=True)
            held = run_worker(SCRIPT, "heldout", ["--max-length", str(args.max_length), "--models",
                                                  str(runs / f"ftcli-{precision}" / "model"),
                                                  str(runs / f"trainer-{precision}")])
            ours["heldout_loss"], theirs["heldout_loss"] = (v["loss"] for v in held.values())
            results[precision] = {"ftcli": ours, "trainer": theirs,
                                  "heldout_masked_tokens": next(iter(held.values()))["masked_tokens"]}
    finally:
        shutil.rmtree(runs, ignore_errors=True)

    print(f"\n{'precision':<10}{'tool':<9}{'blocks':>7}{'blocks/s':>10}{'train s':>9}{'held-out loss':>15}{'peak MB':>9}")
    for precision, pair in results.items():
        for name in ("ftcli", "trainer"):
            r = pair[name]
            print(f"{precision:<10}{name:<9}{r['blocks']:>7}{r['train_samples_per_second']:>10.2f}"
                  f"{r['train_runtime']:>9.1f}{r['heldout_loss']:>15.4f}{r['peak_memory_mb']:>9.0f}")
    for precision, pair in results.items():
        ours, theirs = pair["ftcli"], pair["trainer"]
        speed = ours["train_samples_per_second"] / theirs["train_samples_per_second"]
        print(f"[{precision}] training throughput ftcli/Trainer: {speed:.2f}x (target >= 2.0x); held-out masked-LM "
              f"loss {ours['heldout_loss']:.4f} vs {theirs['heldout_loss']:.4f} ({pair['heldout_masked_tokens']} "
              f"masked tokens); peak memory ftcli/Trainer {ours['peak_memory_mb'] / theirs['peak_memory_mb']:.2f}x")
    if args.output:
        args.output.write_text(json.dumps({"settings": {k: v for k, v in vars(args).items() if k != "output"},
                                           "cpu": cpu_name(), "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
