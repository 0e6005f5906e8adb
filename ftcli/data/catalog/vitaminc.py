"""vitaminc: VitaminC fact verification as NLI (evidence = premise, claim = hypothesis)."""

from __future__ import annotations

from datasets import DatasetDict

from ftcli.data.catalog import bigbench, hub_splits, seeded_split

TEST_ROWS = 2000
CLAIM_MARKER = "\nClaim: "
HUB_LABELS = {"SUPPORTS": "True", "REFUTES": "False", "NOT ENOUGH INFO": "Neither"}
"""tals/vitaminc's labels, named as BIG-bench names them."""


def load(asset):
    """From BIG-bench's copy: inputs read "evidence\\nClaim: claim"; the label is the target with
    score 1 (True / False / Neither); a fixed seeded split holds out 2,000 test pairs. From the Hub
    (tals/vitaminc): its own train and test splits, labels renamed alike."""
    hub = hub_splits(asset)
    if hub is not None:
        return DatasetDict({name: split.map(
            lambda row: {"premise": row["evidence"], "hypothesis": row["claim"], "label": HUB_LABELS[row["label"]]},
            remove_columns=split.column_names) for name, split in hub.items()})
    rows = []
    for example in bigbench.examples(asset.bigbench_tasks[0]):
        evidence, marker, claim = example["input"].rpartition(CLAIM_MARKER)
        scores = example["target_scores"]
        best = max(scores, key=scores.get)
        if not marker or not evidence.strip() or not claim.strip() or scores[best] <= 0:
            continue
        rows.append({"premise": evidence.strip(), "hypothesis": claim.strip(), "label": best})
    return seeded_split(rows, TEST_ROWS)
