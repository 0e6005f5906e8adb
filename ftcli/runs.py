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
    try:
        metric = task_or_objective(task).best_metric
    except Exception:  # a task this version does not know
        metric = next((k for k, v in metrics.items() if isinstance(v, float)), "")
    value = metrics.get(metric)
    return RunSummary(path=path, task=task, strategy=config.get("strategy", "?"),
                      model=config.get("model", {}).get("name", "?"), metric=metric,
                      value=value if isinstance(value, (int, float)) else None,
                      created=created(path), bytes=disk_size(path))


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
