"""ftcli vs a run_qa.py-style Trainer: extractive QA, MiniLM fine-tuned on the same questions, same settings, side by side.

    python benchmarks/qa_vs_trainer.py --ftcli-grouped          # both data settings, 2 epochs, lr 1e-4 (~60 min on 2 CPU cores)
    python benchmarks/qa_vs_trainer.py --data answerable --limit-train 600 --epochs 1     # quick look

The questions (`--source`): `scenes` (default, benchmarks/scenes.py), 1,200 training and 400 test questions
generated here: a context of 4-16 real Rotten Tomatoes snippets (training contexts from its train split, test
contexts from its test split) with two facts ("Anna carried the red box in the kitchen.") put between them, and a
who / what / where question about one; or `disfl-qa`, which needs a BIG-bench copy or the Hub (see the README).

Two data settings (`--data`): `answerable`, answerable questions only (the Trainer uses run_qa's SQuAD-v1
post-processing, which never answers "no answer", and ftcli its default `options.null_answers=auto`, which resolves
to no on such training data), and `all`, unanswerable questions included (a third of the scene questions ask about a
fact the context lacks; run_qa's v2 post-processing, `version_2_with_negative=True`, `null_score_diff_threshold=0.0`,
against ftcli's `auto`, which resolves to yes). ftcli reads the rows from JSON Lines files (disfl-qa's `all`: the alias).
`--ftcli-grouped` also runs ftcli with length-grouped training batches (`train.group_by_length=true`; the
default shuffles), to show what grouping costs.

Both tools start from the same MiniLM checkpoint with max length 384, doc stride 128, batch 16, lr 1e-4, 2 epochs,
seed 42, linear decay, no warm-up, no weight decay, max_grad_norm 1, float32 (`--mixed-precision no`; the Trainer's
default), n-best 20, answers of at most 30 tokens, and train on the same questions (`--limit-train N`: the seeded
shuffle then the first N that ftcli's `--limit-train` takes) and score the same test questions (`--limit-eval N`:
the first N). The Trainer side replicates run_qa.py (transformers' examples/pytorch/question-answering):
`prepare_train_features`, `prepare_validation_features` and utils_qa's `postprocess_qa_predictions`, inline. It
pads every window to the max length (run_qa's default `pad_to_max_length=True`) and batches with
`default_data_collator`: what run_qa users get. Both tools' answers are scored by the same metric (ftcli's SQuAD v2
exact match and F1, which equals SQuAD v1's when every question has an answer). Each run is its own process; per
setting ftcli runs first, then the Trainer.

Prints EM, F1, training and evaluation features/s (windows: a long context gives several), peak memory (resident
set size on CPU, allocated GPU memory on CUDA), wall seconds per process, and the ratios. Both evaluation rates time
the model pass only (ftcli's `eval_samples_per_second`, Trainer.predict's `test_samples_per_second`, as run_qa's
QuestionAnsweringTrainer reports it); the Trainer's rate with its post-processing is printed as well.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import cpu_name, peak_rss_mb, run_ftcli_finetune, run_worker
from scenes import qa_rows

SCRIPT = str(Path(__file__).resolve())
SETTINGS = ("answerable", "all")


def load_splits(args, setting: str):
    """The train/test rows of `setting`, limited as ftcli's --limit-train (seeded shuffle, first N) and
    --limit-eval (first N) limit them."""
    from datasets import Dataset, DatasetDict

    from ftcli import assets

    if args.source == "scenes":
        texts = assets.DATASETS["rt-sentiment"].splits()
        share = 0.0 if setting == "answerable" else 1 / 3
        splits = DatasetDict(train=Dataset.from_list(qa_rows(texts["train"]["text"], 1200, seed=20, unanswerable=share)),
                             test=Dataset.from_list(qa_rows(texts["test"]["text"], 400, seed=21, unanswerable=share)))
    else:
        splits = assets.DATASETS["disfl-qa"].splits()
        if setting == "answerable":
            splits = DatasetDict({name: rows.select([i for i, a in enumerate(rows["answers"]) if a["text"]])
                                  for name, rows in splits.items()})
    train, test = splits["train"], splits["test"]
    if args.limit_train:
        train = train.shuffle(seed=args.seed).select(range(min(args.limit_train, train.num_rows)))
    if args.limit_eval:
        test = test.select(range(min(args.limit_eval, test.num_rows)))
    return DatasetDict(train=train, test=test)


# -- run_qa.py, compactly -------------------------------------------------------------------------------------

def tokenize_windows(examples, tokenizer, max_length: int, doc_stride: int):
    """run_qa.py's tokenization, shared by its train and validation features: question and context as a pair,
    the context cut into overlapping windows, each padded to the max length."""
    pad_on_right = tokenizer.padding_side == "right"
    examples["question"] = [q.lstrip() for q in examples["question"]]
    return tokenizer(
        examples["question" if pad_on_right else "context"], examples["context" if pad_on_right else "question"],
        truncation="only_second" if pad_on_right else "only_first", max_length=max_length, stride=doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")


def prepare_train_features(examples, tokenizer, max_length: int, doc_stride: int):
    """run_qa.py's: windows padded to max length, labelled with the answer's tokens or the CLS index."""
    pad_on_right = tokenizer.padding_side == "right"
    tokenized = tokenize_windows(examples, tokenizer, max_length, doc_stride)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    offset_mapping = tokenized.pop("offset_mapping")
    tokenized["start_positions"], tokenized["end_positions"] = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = tokenized["input_ids"][i]
        if tokenizer.cls_token_id in input_ids:
            cls_index = input_ids.index(tokenizer.cls_token_id)
        elif tokenizer.bos_token_id in input_ids:
            cls_index = input_ids.index(tokenizer.bos_token_id)
        else:
            cls_index = 0
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        if len(answers["answer_start"]) == 0:
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        context_id = 1 if pad_on_right else 0
        token_start = 0
        while sequence_ids[token_start] != context_id:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != context_id:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
        else:
            while token_start < len(offsets) and offsets[token_start][0] <= start_char:
                token_start += 1
            tokenized["start_positions"].append(token_start - 1)
            while offsets[token_end][1] >= end_char:
                token_end -= 1
            tokenized["end_positions"].append(token_end + 1)
    return tokenized


def prepare_validation_features(examples, tokenizer, max_length: int, doc_stride: int):
    """run_qa.py's: windows padded to max length, each with its example's id and offsets (None outside the context)."""
    pad_on_right = tokenizer.padding_side == "right"
    tokenized = tokenize_windows(examples, tokenizer, max_length, doc_stride)
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = []
    context_id = 1 if pad_on_right else 0
    for i in range(len(tokenized["input_ids"])):
        sequence_ids = tokenized.sequence_ids(i)
        tokenized["example_id"].append(examples["id"][sample_mapping[i]])
        tokenized["offset_mapping"][i] = [o if sequence_ids[k] == context_id else None
                                          for k, o in enumerate(tokenized["offset_mapping"][i])]
    return tokenized


def postprocess_qa_predictions(examples, features, predictions, version_2_with_negative: bool,
                               n_best_size: int = 20, max_answer_length: int = 30,
                               null_score_diff_threshold: float = 0.0) -> list[str]:
    """utils_qa.py's `postprocess_qa_predictions`: one answer per example, in the examples' order ("" = no answer).
    The n-best lists and probabilities it also builds do not change the answer and are left out."""
    import numpy as np

    all_start_logits, all_end_logits = predictions
    example_id_to_index = {k: i for i, k in enumerate(list(examples["id"]))}
    features_per_example = defaultdict(list)
    for i, example_id in enumerate(list(features["example_id"])):
        features_per_example[example_id_to_index[example_id]].append(i)
    offset_mappings = list(features["offset_mapping"])  # the column read once, not row by row
    answers = []
    for example_index, context in enumerate(list(examples["context"])):
        min_null_prediction, prelim_predictions = None, []
        for feature_index in features_per_example[example_index]:
            start_logits, end_logits = all_start_logits[feature_index], all_end_logits[feature_index]
            offset_mapping = offset_mappings[feature_index]
            feature_null_score = start_logits[0] + end_logits[0]
            if min_null_prediction is None or min_null_prediction["score"] > feature_null_score:
                min_null_prediction = {"offsets": (0, 0), "score": feature_null_score,
                                       "start_logit": start_logits[0], "end_logit": end_logits[0]}
            start_indexes = np.argsort(start_logits)[-1:-n_best_size - 1:-1].tolist()
            end_indexes = np.argsort(end_logits)[-1:-n_best_size - 1:-1].tolist()
            for start_index in start_indexes:
                for end_index in end_indexes:
                    if (start_index >= len(offset_mapping) or end_index >= len(offset_mapping)
                            or offset_mapping[start_index] is None or offset_mapping[end_index] is None):
                        continue
                    if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                        continue
                    prelim_predictions.append({
                        "offsets": (offset_mapping[start_index][0], offset_mapping[end_index][1]),
                        "score": start_logits[start_index] + end_logits[end_index],
                        "start_logit": start_logits[start_index], "end_logit": end_logits[end_index]})
        if version_2_with_negative:
            prelim_predictions.append(min_null_prediction)
            null_score = min_null_prediction["score"]
        best = sorted(prelim_predictions, key=lambda x: x["score"], reverse=True)[:n_best_size]
        if version_2_with_negative and not any(p["offsets"] == (0, 0) for p in best):
            best.append(min_null_prediction)
        for prediction in best:
            prediction["text"] = context[prediction["offsets"][0]:prediction["offsets"][1]]
        if len(best) == 0 or (len(best) == 1 and best[0]["text"] == ""):
            best.insert(0, {"text": "empty", "start_logit": 0.0, "end_logit": 0.0, "score": 0.0})
        if not version_2_with_negative:
            answers.append(best[0]["text"])
            continue
        best_non_null = next(p for p in best if p["text"] != "")
        score_diff = null_score - best_non_null["start_logit"] - best_non_null["end_logit"]
        answers.append("" if score_diff > null_score_diff_threshold else best_non_null["text"])
    return answers


# -- workers ---------------------------------------------------------------------------------------------------

def worker_trainer(args) -> dict:
    """Train and predict as run_qa.py does (`--do_train --do_predict`, pad_to_max_length, default_data_collator)."""
    import torch
    from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, Trainer, TrainingArguments,
                              default_data_collator, set_seed)
    from transformers.utils import logging

    from ftcli import assets
    from ftcli.metrics import load_metric

    logging.set_verbosity_error()
    model_dir = assets.resolve_model("minilm")
    splits = load_splits(args, args.setting)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not tokenizer.is_fast:
        raise SystemExit("run_qa.py needs a fast tokenizer")
    max_length = min(args.max_length, tokenizer.model_max_length)
    shape = {"tokenizer": tokenizer, "max_length": max_length, "doc_stride": args.doc_stride}
    columns = splits["train"].column_names
    train = splits["train"].map(prepare_train_features, fn_kwargs=shape, batched=True, remove_columns=columns)
    test = splits["test"].map(prepare_validation_features, fn_kwargs=shape, batched=True, remove_columns=columns)
    set_seed(args.seed)  # run_qa seeds before loading the model: the new qa_outputs head is drawn from it
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as out_dir:
        training_args = TrainingArguments(
            output_dir=out_dir, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64, learning_rate=args.lr, lr_scheduler_type="linear", warmup_steps=0,
            weight_decay=0.0, max_grad_norm=1.0, seed=args.seed, eval_strategy="no", save_strategy="no",
            logging_steps=50, report_to=[], disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=training_args, train_dataset=train, data_collator=default_data_collator)
        result = trainer.train()
        start = time.perf_counter()
        prediction = trainer.predict(test.remove_columns(["example_id", "offset_mapping"]))
        answers = postprocess_qa_predictions(splits["test"], test, prediction.predictions,
                                             version_2_with_negative=args.setting == "all")
        eval_seconds = time.perf_counter() - start
    references = [list(a["text"]) for a in splits["test"]["answers"]]
    scores = load_metric("squad").compute(predictions=answers, references=references)
    memory = (torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else peak_rss_mb())
    return {
        "exact_match": scores["exact_match"], "f1": scores["f1"],
        "no_answer_predictions": sum(a == "" for a in answers),
        "train_features": train.num_rows, "eval_features": test.num_rows,
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "eval_samples_per_second": prediction.metrics["test_samples_per_second"],
        "eval_with_postprocessing_samples_per_second": test.num_rows / eval_seconds,
        "peak_memory_mb": memory,
    }


WORKERS = {"trainer": worker_trainer}


def run_ftcli(args, setting: str, data_dir: Path, grouped: bool = False) -> dict:
    import yaml

    arguments = ["--model", "minilm", "--epochs", str(args.epochs), "--max-length", str(args.max_length),
                 "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed),
                 "--mixed-precision", "no", "--set", f"options.doc_stride={args.doc_stride}",
                 "--set", "options.n_best=20", "--set", "options.max_answer_length=30",
                 "--set", "options.null_answers=auto", "--set", "options.null_score_threshold=0.0",
                 "--set", "optim.weight_decay=0.0", "--set", "optim.warmup_ratio=0.0",
                 "--set", "optim.max_grad_norm=1.0", "--set", "train.eval_batch_size=64",
                 "--set", f"train.group_by_length={'true' if grouped else 'false'}"]
    if setting == "answerable" or args.source == "scenes":
        # The filtered (and limited) rows as files: ftcli gets no --limit-* here, the rows are already chosen.
        splits = load_splits(args, setting)
        files = {}
        for name, rows in splits.items():
            files[name] = data_dir / f"{args.source}-{setting}-{name}.jsonl"
            with files[name].open("w") as handle:
                for row in rows:
                    handle.write(json.dumps(row) + "\n")
        arguments += ["--train", str(files["train"]), "--test", str(files["test"])]
    else:
        arguments += ["--train", "disfl-qa"]  # its test split is the evaluation data
        if args.limit_train:
            arguments += ["--limit-train", str(args.limit_train)]
        if args.limit_eval:
            arguments += ["--limit-test", str(args.limit_eval)]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_ftcli_finetune("qa", arguments, keep_in=Path(tmp) / "run")
        config = yaml.safe_load((Path(tmp) / "run" / "config.yaml").read_text())
    null_answers = config["options"]["null_answers"]  # what `auto` resolved to on the training data
    if isinstance(null_answers, bool):  # YAML 1.1 reads a bare yes/no as a boolean
        null_answers = "yes" if null_answers else "no"
    last = result["last_epoch"]
    return {"exact_match": last["exact_match"], "f1": last["f1"], "null_answers": null_answers,
            **{k: result[k] for k in ("train_samples_per_second", "eval_samples_per_second", "peak_memory_mb",
                                      "mixed_precision", "wall_seconds", "train_rows", "eval_rows")}}


def shared_arguments(args) -> list[str]:
    values = ["--source", args.source, "--epochs", str(args.epochs), "--max-length", str(args.max_length), "--doc-stride",
              str(args.doc_stride), "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--seed",
              str(args.seed)]
    if args.limit_train:
        values += ["--limit-train", str(args.limit_train)]
    if args.limit_eval:
        values += ["--limit-eval", str(args.limit_eval)]
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["scenes", "disfl-qa"], default="scenes",
                        help="generated scene questions in real text (default) or disfl-qa (needs a BIG-bench copy or the Hub)")
    parser.add_argument("--data", choices=[*SETTINGS, "both"], default="both",
                        help="answerable questions only, all (unanswerable ones too), or both (default)")
    parser.add_argument("--ftcli-grouped", action="store_true",
                        help="also run ftcli with length-grouped batches (train.group_by_length=true)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit-train", type=int, default=None, help="train on N questions (default: all)")
    parser.add_argument("--limit-eval", type=int, default=None, help="score the first N test questions (default: all)")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--setting", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.worker_output.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0

    settings = list(SETTINGS) if args.data == "both" else [args.data]
    print(f"CPU: {cpu_name()}; float32 on both sides (ftcli --mixed-precision no, the Trainer's default)")
    print(f"MiniLM on {args.source}: {args.epochs} epochs, max length {args.max_length}, doc stride {args.doc_stride}, "
          f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for setting in settings:
            splits = load_splits(args, setting)
            print(f"[{setting}] {splits['train'].num_rows} train / {splits['test'].num_rows} test questions",
                  flush=True)
            ours = run_ftcli(args, setting, Path(data_dir))
            print(f"[{setting}] ftcli done: F1 {100 * ours['f1']:.2f}, {ours['train_samples_per_second']:.1f} "
                  f"features/s (null answers: {ours['null_answers']})", flush=True)
            start = time.perf_counter()
            theirs = run_worker(SCRIPT, "trainer", shared_arguments(args) + ["--setting", setting])
            theirs["wall_seconds"] = time.perf_counter() - start
            print(f"[{setting}] Trainer done: F1 {100 * theirs['f1']:.2f}, "
                  f"{theirs['train_samples_per_second']:.1f} features/s", flush=True)
            results[setting] = {"ftcli": ours, "trainer": theirs}
            if args.ftcli_grouped:
                grouped = run_ftcli(args, setting, Path(data_dir), grouped=True)
                print(f"[{setting}] ftcli grouped done: F1 {100 * grouped['f1']:.2f}", flush=True)
                results[setting]["grouped"] = grouped

    print(f"\n{'data':<12}{'tool':<9}{'EM':>7}{'F1':>7}{'train feat/s':>14}{'eval feat/s':>13}{'peak MB':>9}"
          f"{'wall s':>8}")
    for setting, pair in results.items():
        for name, r in pair.items():
            print(f"{setting:<12}{name:<9}{100 * r['exact_match']:>7.2f}{100 * r['f1']:>7.2f}"
                  f"{r['train_samples_per_second']:>14.2f}{r['eval_samples_per_second']:>13.1f}"
                  f"{r['peak_memory_mb']:>9.0f}{r['wall_seconds']:>8.1f}")
    print("(EM/F1 in points, one metric for both; features = windows; both eval rates time the model pass only)")
    for setting, pair in results.items():
        ours, theirs = pair["ftcli"], pair["trainer"]
        if "grouped" in pair:
            print(f"[{setting}] ftcli length-grouped minus shuffled (the default): "
                  f"EM {100 * (pair['grouped']['exact_match'] - ours['exact_match']):+.2f}, "
                  f"F1 {100 * (pair['grouped']['f1'] - ours['f1']):+.2f} points, training "
                  f"{pair['grouped']['train_samples_per_second'] / ours['train_samples_per_second']:.2f}x")
        speed = ours["train_samples_per_second"] / theirs["train_samples_per_second"]
        evaluation = ours["eval_samples_per_second"] / theirs["eval_samples_per_second"]
        em_gap, f1_gap = (100 * (ours[k] - theirs[k]) for k in ("exact_match", "f1"))
        ok = speed >= 1.5 and em_gap >= -1 and f1_gap >= -1
        print(f"[{setting}] ftcli/Trainer: training {speed:.2f}x (target >= 1.5x), evaluation {evaluation:.2f}x "
              f"(Trainer with post-processing: {theirs['eval_with_postprocessing_samples_per_second']:.1f} feat/s); "
              f"EM {em_gap:+.2f}, F1 {f1_gap:+.2f} points (target >= -1); {'OK' if ok else 'BELOW TARGET'}")
        print(f"[{setting}] windows: {theirs['train_features']} training, {theirs['eval_features']} test; "
              f"ftcli null answers: {ours['null_answers']}; Trainer: "
              f"{'v2, null allowed' if setting == 'all' else 'v1, never null'} "
              f"({theirs['no_answer_predictions']} no-answer predictions)")
    if args.output:
        args.output.write_text(json.dumps({"settings": {k: v for k, v in vars(args).items()
                                                        if k not in ("output", "worker", "worker_output", "setting")},
                                           "cpu": cpu_name(), "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
