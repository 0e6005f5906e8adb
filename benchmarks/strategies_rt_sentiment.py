"""Every training strategy on rt-sentiment with MiniLM, side by side, plus the frozen baseline a
user would try first and the feature cache's payoff.

    python benchmarks/strategies_rt_sentiment.py                      # 2,000 training rows
    python benchmarks/strategies_rt_sentiment.py --limit-train 1000   # quick look

1. ftcli finetune classification --strategy S (its recipe: full 2 epochs at 5e-5, feature
   extraction 10 head epochs on cached mean-pooled features; LoRA and prompt tuning 2 epochs)
   on the same training rows, scored on the 2,000 test rows. Prints test accuracy, trainable
   parameters, training wall time and peak memory (process RSS on CPU, allocated memory on GPU).
2. The frozen baseline: MiniLM mean-pooled embeddings into scikit-learn's LogisticRegression,
   on the same rows; ftcli's feature extraction should be at least as accurate.
3. The feature cache: feature extraction with the cache (one encoding pass, then 10 head
   epochs on the cached tensors) against running the frozen body in every epoch; same accuracy,
   and the cached run's 10 head epochs should cost at most half an encoding pass
   (total <= 1.5x one pass).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from common import run_ftcli_finetune

STRATEGIES = {  # strategy -> extra ftcli arguments (the recipe supplies the rest)
    "feature-extraction": [],
    "full": [],
    "lora": ["--epochs", "2"],
    "prompt-tuning": ["--epochs", "2"],
}


def logistic_regression_baseline(limit_train: int, seed: int) -> dict:
    """MiniLM mean pooling (sentence-transformers' recipe for this model) + LogisticRegression."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    from ftcli import assets
    from ftcli.data.sources import load_splits

    start = time.perf_counter()
    splits = load_splits("rt-sentiment", None, 0.1, seed, limit_train, None)
    model_dir = assets.resolve_model("minilm")
    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()

    @torch.no_grad()
    def embed(texts: list[str]) -> np.ndarray:
        pieces = []
        for i in range(0, len(texts), 64):
            batch = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pieces.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
        return np.concatenate(pieces)

    train_x, test_x = embed(splits.train["text"]), embed(splits.eval["text"])
    classifier = LogisticRegression(max_iter=2000).fit(train_x, splits.train["label"])
    accuracy = float((classifier.predict(test_x) == np.asarray(splits.eval["label"])).mean())
    return {"accuracy": accuracy, "wall_seconds": time.perf_counter() - start, "train_rows": splits.train.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit-train", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", help="Write all numbers to this JSON file.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        os.environ["FTCLI_CACHE"] = cache  # a cold feature cache: the encoding pass is measured
        common = ["--model", "minilm", "--train", "rt-sentiment", "--limit-train", str(args.limit_train),
                  "--seed", str(args.seed)]
        results = {}
        for strategy, extra in STRATEGIES.items():
            print(f"[{strategy}] training...", file=sys.stderr, flush=True)
            results[strategy] = run_ftcli_finetune("classification", [*common, "--strategy", strategy, *extra])
            summary = results[strategy]
            print(f"[{strategy}] accuracy {summary['last_epoch']['accuracy']:.4f}, trainable "
                  f"{summary['trainable_parameters']:,}, {summary['wall_seconds']:.0f} s", file=sys.stderr, flush=True)
        os.environ["FTCLI_CACHE"] = os.path.join(cache, "uncached")
        print("[feature-extraction, body every epoch] training...", file=sys.stderr, flush=True)
        uncached = run_ftcli_finetune("classification", [*common, "--strategy", "feature-extraction",
                                                         "--set", "features.cache=false"])
    print("[LogisticRegression baseline]...", file=sys.stderr, flush=True)
    baseline = logistic_regression_baseline(args.limit_train, args.seed)

    rows = results["full"]["train_rows"]
    print(f"\nrt-sentiment, MiniLM, {rows} training rows, {results['full']['eval_rows']} test rows "
          "(accuracy of the last epoch)\n")
    print(f"{'strategy':<22}{'accuracy':>9}{'trainable':>12}{'share':>9}{'train s':>9}{'wall s':>8}{'peak MB':>9}")
    for strategy, metrics in results.items():
        trainable, total = metrics["trainable_parameters"], metrics["total_parameters"]
        train_seconds = metrics["train_runtime"] + metrics.get("feature_seconds", 0.0)
        print(f"{strategy:<22}{metrics['last_epoch']['accuracy']:>9.4f}{trainable:>12,}"
              f"{100 * trainable / total:>8.3f}%{train_seconds:>9.1f}{metrics['wall_seconds']:>8.1f}"
              f"{metrics['peak_memory_mb']:>9.0f}")
    print(f"{'LogisticRegression':<22}{baseline['accuracy']:>9.4f}{'(sklearn)':>12}{'':>9}{'':>9}"
          f"{baseline['wall_seconds']:>8.1f}")

    fe = results["feature-extraction"]
    difference = fe["last_epoch"]["accuracy"] - baseline["accuracy"]
    print(f"\nfeature extraction vs LogisticRegression: {fe['last_epoch']['accuracy']:.4f} vs "
          f"{baseline['accuracy']:.4f} ({100 * difference:+.2f} points)")

    encoding = fe["feature_seconds"]
    head_epochs = fe["train_runtime"]
    ratio = (encoding + head_epochs) / encoding
    print(f"feature cache: encoding the training rows {encoding:.1f} s, 10 head epochs {head_epochs:.1f} s, "
          f"total {ratio:.2f}x one encoding pass (target <= 1.5x)")
    print(f"frozen body every epoch: {uncached['train_runtime']:.1f} s of training "
          f"({uncached['train_runtime'] / (encoding + head_epochs):.1f}x the cached run), accuracy "
          f"{uncached['last_epoch']['accuracy']:.4f} vs cached {fe['last_epoch']['accuracy']:.4f}")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"strategies": results, "uncached_feature_extraction": uncached,
                       "logistic_regression": baseline}, handle, indent=2)


if __name__ == "__main__":
    main()
