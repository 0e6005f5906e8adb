"""Finished runs on disk: find them under a folder and summarise each (for `ftcli runs`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ftcli.errors import UserError
from ftcli.rundir import CONFIG_FILE, MARKER_FILE, is_run_directory

MAX_DEPTH = 4
"""How deep `find_runs` looks (a comparison keeps its runs in OUT/runs/)."""


@dataclass
class RunSummary:
    path: Path
    task: str
    strategy: str
    model: str
    metric: str
    value: float | None
    created: str
    bytes: int


def find_runs(root: Path) -> list[Path]:
    """Finished run directories at or under `root` (not inside another run), sorted by path."""
    if is_run_directory(root):
        return [root]
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        for entry in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if is_run_directory(entry):
                found.append(entry)
            elif depth < MAX_DEPTH:
                walk(entry, depth + 1)

    if root.is_dir():
        walk(root, 1)
    return found


def summarize_run(path: Path) -> RunSummary:
    """One run's line; a damaged config.yaml or metrics.json shows as such instead of failing the list."""
    from ftcli.config import read_yaml_mapping
    from ftcli.objectives import task_or_objective

    try:
        config = read_yaml_mapping(path / CONFIG_FILE, "config")
    except UserError:
        config = {"task": "damaged config.yaml"}
    try:
        metrics = read_metrics(path)
    except UserError:
        metrics = {}
    if not isinstance(config.get("model"), dict):
        config["model"] = {"name": str(config.get("model", "?"))}
    task = config.get("task", "?")
    metric = selected_metric(config, metrics)
    if metric is None:
        try:
            metric = task_or_objective(task).best_metric
        except Exception:  # a task this version does not know
            metric = next((k for k, v in metrics.items() if isinstance(v, float)), "")
    value = metrics.get(metric)
    return RunSummary(path=path, task=task, strategy=config.get("strategy", "?"),
                      model=config.get("model", {}).get("name", "?"), metric=metric,
                      value=value if isinstance(value, (int, float)) else None,
                      created=created(path), bytes=disk_size(path))


def selected_metric(config: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """The metric the run kept its epoch by (metrics.json's "validation loss"), else its `train.select_metric`;
    None: the task's default."""
    selected_on = metrics.get("selected_on")
    if isinstance(selected_on, str) and selected_on.startswith("validation "):
        return selected_on.removeprefix("validation ")
    train = config.get("train")
    chosen = train.get("select_metric") if isinstance(train, dict) else None
    return chosen if isinstance(chosen, str) and chosen else None


def starting_settings(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What a run started from, as its config.yaml spells it: ("recipe TASK/STRATEGY", the shipped recipe
    over the defaults), a distilled student's being its task's full recipe; ("defaults", the defaults)
    for a run whose task and strategy have no recipe."""
    from ftcli.config import RunConfig, build_config, load_recipe
    from ftcli.recipe_store import list_recipes, recipe_path

    strategy = "full" if config.get("strategy") == "distill" else config.get("strategy")
    name = f"{config.get('task')}/{strategy}"
    if name not in list_recipes():
        return "defaults", RunConfig().to_dict()
    try:
        return f"recipe {name}", build_config(recipe=load_recipe(recipe_path(name))).to_dict()
    except UserError:  # a recipe this installation cannot read: compare with the defaults instead
        return "defaults", RunConfig().to_dict()


def flat_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings by dotted key: {"optim": {"lr": 3e-5}} -> {"optim.lr": 3e-5}. Sections are one level deep;
    a mapping inside a section (data.columns, prompt.label_words) is one value."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{name}": inner for name, inner in value.items()})
        else:
            flat[key] = value
    return flat


MISSING = object()
"""The starting value of a setting that the recipe and the defaults lack (a setting of another version)."""


def differing_settings(config: dict[str, Any], start: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, the run's value, the starting value or MISSING) of each setting the run changed, in
    config.yaml's order."""
    base = flat_settings(start)
    return [(key, value, base.get(key, MISSING)) for key, value in flat_settings(config).items()
            if key not in base or base[key] != value]


def shown_value(value: Any) -> str:
    """A setting on one line, as YAML spells it: null, true, 3e-05, {"text": "review"}; a text that spaces
    or line breaks would hide is quoted."""
    plain = isinstance(value, (int, float)) and not isinstance(value, bool) or \
        isinstance(value, str) and value and value == value.strip() and "\n" not in value
    if not plain:
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def read_metrics(path: Path) -> dict[str, Any]:
    """The run's metrics.json ({} when there is none); a damaged one is a UserError."""
    file = path / "metrics.json"
    if not file.is_file():
        return {}
    try:
        metrics = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{file} is damaged ({err}); the run's other files are intact") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{file} is damaged (a {type(metrics).__name__}, not a mapping of metrics)")
    return metrics


def created(path: Path) -> str:
    marker = path / MARKER_FILE
    try:
        stamp = json.loads(marker.read_text())["created"]
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except (OSError, ValueError, KeyError):
        return datetime.fromtimestamp((path / CONFIG_FILE).stat().st_mtime).strftime("%Y-%m-%d %H:%M")


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
