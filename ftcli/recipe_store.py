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


def recipe_defaults(strategy: str, tasks: list[str]) -> str:
    """What a command runs when only the task is given, from the shipped recipes: the `--help` epilog of
    finetune and prompt ("classification: minilm on rt-sentiment, 2 epochs, lr 5e-05...")."""
    import yaml

    lines = []
    for task in tasks:
        path = recipes_root() / task / f"{strategy}.yaml"
        if not path.is_file():
            continue
        recipe = yaml.safe_load(path.read_text()) or {}
        model, data, optim, train = (recipe.get(key) or {} for key in ("model", "data", "optim", "train"))
        parts = [f"{model.get('name')} on {data.get('train')}"]
        if strategy != "in-context":
            parts += [f"{train.get('epochs')} epoch{'' if train.get('epochs') == 1 else 's'}", f"lr {optim.get('lr')}", f"batch {train.get('batch_size')}"]
        if task != "image-classification":
            parts.append(f"max length {model.get('max_length')}")
        lines.append(f"{task}: {', '.join(parts)}")
    return (f"Recipe defaults, MODEL on DATA (recipes/TASK/{strategy}.yaml; flags and --set override them):\n\n"
            + "\n".join(f"- {line}" for line in lines))
