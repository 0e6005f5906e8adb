"""Reading labelled data into `datasets.Dataset` objects, column mapping and validation.

The names below load on first use, so the catalogue (`ftcli.data.catalog.entries`) can be read without
importing `datasets` (the command line checks its names before the heavy libraries load)."""

import importlib

_WHERE = {"SUPPORTED_EXTENSIONS": "ftcli.data.readers", "read_file": "ftcli.data.readers",
          "DataSplits": "ftcli.data.sources", "load_splits": "ftcli.data.sources", "load_single": "ftcli.data.sources"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'ftcli.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
