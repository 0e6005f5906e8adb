"""In-context classification quality: accuracy and macro-F1 with standard errors, calibration off and on.

    python benchmarks/in_context_quality.py                                  # test splits, the recipes' defaults
    python benchmarks/in_context_quality.py --split validation --rows 500    # choose defaults here, not on test
    python benchmarks/in_context_quality.py --set prompt.chat_template=false

For each dataset and shot count, `ftcli prompt`'s own code path (the task's in-context recipe,
SmolLM2 by default) scores the rows once; the three calibrations (none, contextual, pmi) are
applied to the same scores. Prints accuracy and macro-F1 with standard errors beside the
majority-class accuracy and the uniform-random macro-F1, whether each result beats the majority
class by more than 2 standard errors, and the predicted-label counts.

`--split validation` evaluates rows drawn (seeded) from the training split, which the
demonstrations never use, so template and calibration defaults can be chosen without looking at
the test split whose scores are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_name

from ftcli.prompting.calibration import METHODS

TASKS = {"rt-sentiment": "classification", "multiemo": "classification", "vitaminc": "nli"}


def evaluated_rows(alias: str, split: str, rows: int | None, folder: Path) -> str:
    """What --data gets: the alias itself (its test split) or a JSONL of seeded training rows."""
    if split == "test" and rows is None:
        return alias
    from ftcli import assets

    splits = assets.DATASETS[alias].splits()
    source = splits["test" if split == "test" else "train"]
    picked = list(range(source.num_rows))
    if split == "validation":
        random.Random(0).shuffle(picked)
    picked = picked[:rows or source.num_rows]
    path = folder / f"{alias}-{split}.jsonl"
    path.write_text("".join(json.dumps(source[i]) + "\n" for i in picked))
    return str(path)


def run(alias: str, data: str, shots: int, model: str, sets: list[str], batch_size: int):
    from ftcli.config import build_config, load_recipe
    from ftcli.prompting.runner import run_prompt
    from ftcli.recipe_store import recipe_path

    task = TASKS[alias]
    config = build_config(recipe=load_recipe(recipe_path(f"{task}/in-context")), sets=sets,
                          flags={"task": task, "model.name": model, "data.train": alias})
    return run_prompt(config, data, alias if shots else None, shots, None, batch_size, compare_calibrations=METHODS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--shots", type=int, nargs="+", default=None,
                        help="default: 0 1 4 (classification), 0 4 (nli)")
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--rows", type=int, default=None, help="rows per dataset (default: the whole test split)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()

    from ftcli.progress import console

    console.quiet = True  # the table below is the output
    print(f"CPU: {cpu_name()}; model {args.model}; split {args.split}; settings {args.sets or 'the recipes'}")
    print(f"{'data':<13}{'shots':>5} {'calibration':<11}{'accuracy':>16}{'macro-F1':>16}{'majority':>9}"
          f"{'random F1':>10}  {'> maj+2se':<9} predicted labels (gold)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for alias in args.datasets:
            data = evaluated_rows(alias, args.split, args.rows, Path(tmp))
            for shots in args.shots or ([0, 1, 4] if TASKS[alias] == "classification" else [0, 4]):
                start = time.perf_counter()
                result = run(alias, data, shots, args.model, args.sets, args.batch_size)
                seconds = time.perf_counter() - start
                gold = result.settings["distributions"]["gold"]
                for method in METHODS:
                    m, predicted = result.by_calibration[method]["metrics"], result.by_calibration[method]["predicted"]
                    beats = m["accuracy"] - 2 * m["accuracy_stderr"] > m["majority_accuracy"]
                    counts = ", ".join(f"{label} {predicted.get(label, 0)}" for label in gold)
                    print(f"{alias:<13}{shots:>5} {method:<11}{m['accuracy']:>9.4f} ± {m['accuracy_stderr']:.3f}"
                          f"{m['f1']:>9.4f} ± {m['f1_stderr']:.3f}{m['majority_accuracy']:>9.4f}{m['random_f1']:>10.4f}"
                          f"  {'yes' if beats else 'NO':<9} {counts} ({', '.join(map(str, gold.values()))})")
                    results.append({"data": alias, "shots": shots, "calibration": method, "rows": result.metrics["eval_rows"], **m, "predicted": predicted,
                                    "gold": gold, "seconds": seconds, "chat_template": result.settings["chat_template"]})
                sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
