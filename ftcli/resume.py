"""What `--resume` holds a run to: the settings it started with and the data files it started on (their
sizes and hashes, `inputs.json`), and the command that continues it."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ftcli.config import RunConfig, get_value
from ftcli.distributed import LAUNCHED_COMMAND_ENV
from ftcli.errors import UserError
from ftcli.ownership import describe_change, fingerprint

INPUTS_FILE = "inputs.json"
"""Size and hash of the run's data files when it started: `--resume` refuses data that changed since."""
SETTINGS_FIXED_AT_RUNTIME = {"output_dir"}


def check_same_settings(given: dict[str, Any], saved: RunConfig) -> None:
    """`--resume` with a setting other than the run's (--lr, --model, --set ...) is refused, naming each."""
    differences = []
    for key, value in given.items():
        if key in SETTINGS_FIXED_AT_RUNTIME or (key == "train.mixed_precision" and value == "auto"):
            continue
        theirs = get_value(saved, key)
        if absolute_if_local(value) != absolute_if_local(theirs):
            differences.append(f"{key} {value!r} (the run: {theirs!r})")
    if differences:
        raise UserError(f"--resume continues a run with the settings it started with, and these differ: "
                        f"{'; '.join(differences)}; drop them, or start a new run (another --output-dir, or --overwrite)")


def absolute_if_local(value: Any) -> Any:
    if isinstance(value, str) and value and Path(value).expanduser().exists():
        return str(Path(value).expanduser().resolve())
    return value


def input_fingerprints(config: RunConfig) -> dict[str, Any]:
    return {key: fingerprint(value) for key, value in
            (("data.train", config.data.train), ("data.eval", config.data.eval), ("data.validation", config.data.validation))
            if value}


def check_same_inputs(staging: Path, config: RunConfig) -> None:
    """The data files are those the run started on (runs from before inputs.json are not checked)."""
    file = staging / INPUTS_FILE
    if not file.is_file():
        return
    recorded = json.loads(file.read_text())
    for key, was in recorded.items():
        now = fingerprint(get_value(config, key))
        if now != was:
            raise UserError(f"{key} {get_value(config, key)} changed since this run started ({describe_change(was, now)}); "
                            "--resume would train on other data than the run began with: start a new run instead")


def finished_in(staging: Path) -> bool:
    return all((staging / name).exists() for name in ("model", "metrics.json", "README.md"))


def resume_command(destination: Path) -> str:
    """The command that started this run (finetune, pretrain or distill), pointed at its run directory, with --resume."""
    argv = shlex.split(command_line())
    if "--resume" not in argv:
        argv.append("--resume")
    if "--output-dir" not in argv and "-o" not in argv:
        argv += ["--output-dir", str(destination)]
    return " ".join(shlex.quote(a) for a in argv)


def command_line() -> str:
    """The user's command: under ftcli's launcher, the one that started it (with --num-processes...)."""
    argv = shlex.split(os.environ[LAUNCHED_COMMAND_ENV]) if LAUNCHED_COMMAND_ENV in os.environ else list(sys.argv)
    if argv and argv[0].endswith(("ftcli", "__main__.py")):
        argv[0] = "ftcli"
    return " ".join(shlex.quote(a) for a in argv)
