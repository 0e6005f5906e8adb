"""Does a run's saved model/ give plain transformers the predictions ftcli gives? For runs trained with sharded
parameters (FSDP, DeepSpeed ZeRO), whose save path gathers the shards.

    python benchmarks/gpu/same_predictions.py RUN [--rows 500]

`ftcli predict RUN` on the first N texts of rt-sentiment's test split, against
`AutoModelForSequenceClassification.from_pretrained(RUN/model)` and its tokenizer on the same texts (float32,
one text at a time: no padding to disagree about). Prints the rows whose labels differ; exit 1 when any does.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ftcli import assets

    texts = list(assets.DATASETS["rt-sentiment"].splits()["test"]["text"])[:args.rows]
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "rows.csv", Path(tmp) / "predictions.jsonl"
        with open(data, "w", newline="") as handle:
            csv.writer(handle).writerows([["text"], *([text] for text in texts)])
        subprocess.run([sys.executable, "-m", "ftcli", "predict", str(args.run), "--data", str(data), "--output", str(out)],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "FTCLI_AUTO_PRECISION": "no"})
        ours = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    model_dir = args.run / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
    import yaml

    max_length = yaml.safe_load((args.run / "config.yaml").read_text())["model"]["max_length"]
    theirs = []
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            theirs.append(model.config.id2label[int(model(**inputs).logits.argmax(-1))])
    differing = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    print(f"{args.run}: {len(texts)} rows, ftcli predict and plain transformers "
          + ("agree on every row" if not differing else f"differ on {len(differing)} rows: {differing[:10]}"))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
