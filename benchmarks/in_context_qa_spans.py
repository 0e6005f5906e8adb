"""In-context QA: does cutting each generated answer to its best-matching context span raise EM/F1?

    python benchmarks/in_context_qa_spans.py                       # disfl-qa, 2 shots, 200 rows
    python benchmarks/in_context_qa_spans.py --shots 0 --rows 500

Runs `ftcli prompt qa` once (the recipe's template, SmolLM2) and scores the same generations
twice: parsed as free text (the first line, the no-answer word mapped to "") and then cut to
the context span that matches them best (`prompt.span_from_context`, ftcli's default).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import cpu_name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="disfl-qa")
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--model", default="smollm2")
    args = parser.parse_args()

    from ftcli.config import PromptSettings
    from ftcli.data.sources import load_single
    from ftcli.prompting.formats import format_for

    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "qa.json"
        subprocess.run([sys.executable, "-m", "ftcli", "prompt", "qa", "--model", args.model, "--data", args.data,
                        "--shots", str(args.shots), "--limit", str(args.rows), "--set", "prompt.span_from_context=false",
                        "--output", str(output)], check=True, stdout=subprocess.DEVNULL)
        result = json.loads(output.read_text())
    dataset, _ = load_single(args.data)
    rows = [dataset[i] for i in range(len(result["examples"]))]
    qa = format_for("qa")
    settings = {flag: PromptSettings(**{**result["template"], "span_from_context": flag}) for flag in (False, True)}
    print(f"CPU: {cpu_name()}; {args.model} on {args.data}, {len(rows)} rows, {args.shots} shots")
    print(f"{'answers':<28}{'exact match':>12}{'F1':>8}")
    for flag, label in ((False, "generated text"), (True, "cut to a context span")):
        predictions = [qa.parse(e["generated"], row, settings[flag]) for e, row in zip(result["examples"], rows)]
        metrics = qa.metrics(predictions, rows, settings[flag])
        print(f"{label:<28}{metrics['exact_match']:>12.2f}{metrics['f1']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
