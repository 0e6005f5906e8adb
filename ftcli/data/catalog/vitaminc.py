"""vitaminc: BIG-bench's VitaminC fact verification as NLI (evidence = premise, claim = hypothesis)."""

from __future__ import annotations

from ftcli.data import bigbench
from ftcli.data.catalog import seeded_split

TEST_ROWS = 2000
CLAIM_MARKER = "\nClaim: "


def load():
    """Inputs read "evidence\\nClaim: claim"; the label is the target with score 1
    (True / False / Neither). A fixed seeded split holds out 2,000 test pairs."""
    rows = []
    for example in bigbench.examples("vitaminc_fact_verification"):
        evidence, marker, claim = example["input"].rpartition(CLAIM_MARKER)
        scores = example["target_scores"]
        best = max(scores, key=scores.get)
        if not marker or not evidence.strip() or not claim.strip() or scores[best] <= 0:
            continue
        rows.append({"premise": evidence.strip(), "hypothesis": claim.strip(), "label": best})
    return seeded_split(rows, TEST_ROWS)
