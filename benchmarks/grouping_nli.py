"""Does length grouping cost accuracy? MiniLM fine-tuned on NLI sets whose premises each come with
several hypotheses, with shuffled batches (ftcli's default) and with length-grouped ones
(`--set train.group_by_length=true`), same seeds, side by side.

    python benchmarks/grouping_nli.py --data scenes          # 3 seeds x 2 batch orders (~25 min on 2 CPU cores)
    python benchmarks/grouping_nli.py --data word-mentions

The sets (1,600 training and 400 test pairs each; test premises are generated apart from training ones):
- `scenes` (benchmarks/scenes.py): "Anna carried the red box in the kitchen." with six hypotheses, two
  per label, from four templates per label. As in SNLI, whose annotation artifacts these copy, a row's
  length says something about its label (neutral hypotheses add a clause), so length-sorted batches lean
  towards one label.
- `word-mentions`: rt-sentiment snippets as premises, each with four hypotheses, "The review
  (does not) mention(s) WORD.", labels balanced per premise, so length says little about the label.
Settings as the issue's anchor: 3 epochs, batch 32, lr 5e-5, max length 128, float32.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_name  # noqa: E402
from benchmarks.scenes import nli_rows as scene_rows, two_scene_rows  # noqa: E402
from ftcli import assets  # noqa: E402

WORD = re.compile(r"[a-z]{5,}")


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def nli_rows(split, premises: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    chosen = [i for i in rng.sample(range(split.num_rows), split.num_rows) if len(words(split[i]["text"])) >= 2]
    chosen = chosen[:premises]
    vocabulary = sorted(set().union(*(words(split[i]["text"]) for i in chosen)))
    rows = []
    for index in chosen:
        text = split[index]["text"]
        present = sorted(words(text))
        absent = [w for w in rng.sample(vocabulary, 40) if w not in present][:2]
        has_a, has_b = rng.sample(present, 2)
        mention = "The review mentions {}."
        denial = "The review does not mention {}."
        rows += [{"premise": text, "hypothesis": mention.format(has_a), "label": "entailment"},
                 {"premise": text, "hypothesis": mention.format(absent[0]), "label": "contradiction"},
                 {"premise": text, "hypothesis": denial.format(absent[1]), "label": "entailment"},
                 {"premise": text, "hypothesis": denial.format(has_b), "label": "contradiction"}]
    rng.shuffle(rows)
    return rows


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(folder: Path, train: Path, test: Path, seed: int, grouped: bool, args) -> dict:
    out = folder / f"{'grouped' if grouped else 'shuffled'}-{seed}"
    command = [sys.executable, "-m", "ftcli", "finetune", "nli", "--model", "minilm", "--train", str(train),
               "--test", str(test), "--epochs", str(args.epochs), "--batch-size", "32", "--lr", "5e-5",
               "--max-length", "128", "--seed", str(seed), "--mixed-precision", "no", "--output-dir", str(out),
               "--set", f"train.group_by_length={'true' if grouped else 'false'}", "--set", "train.save_checkpoint=false"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads((out / "metrics.json").read_text())


def summary(values: list[float]) -> str:
    mean = statistics.mean(values)
    error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {error:.4f} ({', '.join(f'{v:.4f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", choices=["scenes", "two-scenes", "word-mentions"], default="scenes")
    args = parser.parse_args()
    if args.data == "scenes":
        train_rows, test_rows = scene_rows(267, seed=10)[:1600], scene_rows(67, seed=11, split="test")[:400]
        title = "scene NLI with 6 hypotheses per premise"
    elif args.data == "two-scenes":
        train_rows, test_rows = two_scene_rows(267, seed=10)[:1600], two_scene_rows(67, seed=11, split="test")[:400]
        title = "two-scene NLI with 6 hypotheses per premise"
    else:
        sentiment = assets.DATASETS["rt-sentiment"].splits()
        train_rows, test_rows = nli_rows(sentiment["train"], 400, seed=10), nli_rows(sentiment["test"], 100, seed=11)
        title = "word-mention NLI with 4 hypotheses per premise"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train, test = write(folder / "train.jsonl", train_rows), write(folder / "test.jsonl", test_rows)
        results = {True: [], False: []}
        speed = {True: [], False: []}
        for seed in args.seeds:
            for grouped in (False, True):
                metrics = run(folder, train, test, seed, grouped, args)
                results[grouped].append(metrics["accuracy"])
                speed[grouped].append(metrics["train_samples_per_second"])
                print(f"seed {seed} {'grouped ' if grouped else 'shuffled'}: accuracy {metrics['accuracy']:.4f}, "
                      f"{metrics['train_samples_per_second']:.1f} training examples/s", flush=True)
    print(f"\nMiniLM, {title} (1,600 train / 400 test pairs), {args.epochs} epochs, "
          f"batch 32, lr 5e-5, max length 128, float32; CPU: {cpu_name()}")
    print("| training batches | test accuracy (mean ± s.e., seeds) | training examples/s |")
    print("|---|---|---|")
    for grouped, name in ((False, "shuffled (default)"), (True, "length-grouped (train.group_by_length=true)")):
        print(f"| {name} | {summary(results[grouped])} | {statistics.mean(speed[grouped]):.1f} |")


if __name__ == "__main__":
    main()
