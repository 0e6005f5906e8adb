"""Run directories that are never half-written.

A run is built in a hidden staging folder beside its destination (`.NAME.partial`) and moved
into place only when it is complete. An interrupted run stays in staging, where `--resume`
picks it up; an existing run is replaced (with `--overwrite`) only once the new one is done.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ftcli.errors import UserError

CONFIG_FILE = "config.yaml"


class RunDirectory:
    def __init__(self, destination: str | Path, overwrite: bool = False, resume: bool = False):
        self.destination = Path(destination).expanduser()
        self.staging = self.destination.parent / f".{self.destination.name}.partial"
        self.overwrite, self.resume = overwrite, resume

    def check(self) -> None:
        """Refuse clashes before anything is created or loaded."""
        if self.overwrite and self.resume:
            raise UserError("--overwrite and --resume contradict each other; pick one")
        if self.destination.exists() and not self.destination.is_dir():
            raise UserError(f"output path {self.destination} is a file, not a directory")
        holds_run = self.destination.is_dir() and any(self.destination.iterdir())
        if self.resume:
            if not (self.staging / CONFIG_FILE).is_file():
                state = "is already complete" if holds_run else "has no interrupted run"
                raise UserError(f"nothing to resume: {self.destination} {state}")
            return
        if holds_run and not self.overwrite:
            raise UserError(
                f"{self.destination} already holds a run; pass --overwrite to replace it, "
                "or choose another --output-dir"
            )
        if self.staging.exists() and not self.overwrite:
            raise UserError(
                f"an interrupted run of {self.destination} is in {self.staging}; "
                "pass --resume to continue it or --overwrite to start again"
            )

    def saved_config(self) -> dict:
        return yaml.safe_load((self.staging / CONFIG_FILE).read_text())

    def create(self, config: dict) -> Path:
        """Start a fresh staging folder (or reuse it when resuming) and write config.yaml."""
        if not self.resume:
            if self.staging.exists():
                shutil.rmtree(self.staging)
            self.staging.mkdir(parents=True)
            (self.staging / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
        return self.staging

    def finalize(self) -> Path:
        """Move the finished run into place; an old run is removed only after that succeeded."""
        trash = self.destination.parent / f".{self.destination.name}.old"
        if trash.exists():
            shutil.rmtree(trash)
        if self.destination.exists():
            self.destination.rename(trash)
        self.staging.rename(self.destination)
        shutil.rmtree(trash, ignore_errors=True)
        return self.destination


def is_run_directory(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and (path / "model").is_dir()
