"""Finding the shipped recipes: `recipes/<task>/<strategy>.yaml`."""

from __future__ import annotations

import shutil
from pathlib import Path

from ftcli.errors import UserError


def recipes_root() -> Path:
    """Inside an installed wheel the recipes sit in the package (`ftcli/recipes`); in a source
    checkout or editable install they are at the top of the repository."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "recipes", package.parent / "recipes"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("ftcli's recipes folder is missing from this installation")


def list_recipes() -> list[str]:
    root = recipes_root()
    return sorted(f"{p.parent.name}/{p.stem}" for p in root.glob("*/*.yaml"))


def recipe_path(name: str) -> Path:
    """`TASK/STRATEGY` -> its YAML file."""
    task, sep, strategy = name.partition("/")
    path = recipes_root() / task / f"{strategy}.yaml"
    if not sep or not path.is_file():
        raise UserError(f"no recipe '{name}'; available: {', '.join(list_recipes())}")
    return path


def copy_recipe(name: str, destination: Path) -> Path:
    source = recipe_path(name)
    target = destination / f"{source.parent.name}-{source.name}" if destination.is_dir() else destination
    if target.exists():
        raise UserError(f"{target} already exists; choose another destination")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as err:  # a file in the way of the folder, a read-only folder
        raise UserError(f"cannot copy the recipe to {target}: {err.strerror or err}") from None
    return target
