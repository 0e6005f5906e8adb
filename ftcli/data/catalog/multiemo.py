"""multiemo: BIG-bench's English MultiEmo review sentences (hotels, medicine, products, schools)
as 4-class sentiment: negative, positive, neutral, ambivalent."""

from __future__ import annotations

from ftcli.data.catalog import bigbench, hub_splits, seeded_split

TEST_ROWS = 2000


def load(asset):
    """The label is the target with score 1. A sentence that occurs more than once is kept once,
    and dropped when its copies disagree. A fixed seeded split holds out 2,000 test sentences."""
    hub_splits(asset)  # no Hub copy is mapped: says what is missing when BIG-bench's is not here
    labels: dict[str, set[str]] = {}
    for example in bigbench.examples(asset.bigbench_tasks[0]):
        text, scores = " ".join(example["input"].split()), example["target_scores"]
        best = max(scores, key=scores.get)
        if text and scores[best] > 0:
            labels.setdefault(text, set()).add(best)
    rows = [{"text": text, "label": next(iter(found))} for text, found in labels.items() if len(found) == 1]
    return seeded_split(rows, TEST_ROWS)
