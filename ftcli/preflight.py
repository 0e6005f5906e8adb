"""Mistakes the command line can see, found before torch, transformers or datasets load (in well under a
second): names with a "did you mean", and data or model paths that do not exist. Imports nothing heavy."""

from __future__ import annotations

import difflib
from pathlib import Path

from ftcli.errors import UserError

# What marks a DATA or --model argument as a local path rather than a catalogue alias or a Hub name.
MODEL_FLAGS = ("--model", "--prompt-model", "--student", "--teacher", "--tokenizer", "RUN_OR_MODEL")
PATH_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".conll", ".txt", ".gz")


def did_you_mean(name: str, choices) -> str:
    """" (did you mean 'classification'?)" for a name close to one of `choices` ("" when none is)."""
    close = difflib.get_close_matches(str(name), [str(choice) for choice in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or Path(spec).suffix.lower() in PATH_SUFFIXES


def check_paths(options: dict[str, str | Path | None]) -> None:
    """Each `--flag value` that names a local file or folder must exist; the error names the flag, and a file
    of a close name beside it."""
    for flag, spec in options.items():
        if spec is None or not looks_like_path(str(spec)):
            continue
        path = Path(str(spec)).expanduser()
        if path.exists() or ("@" in path.name and Path(str(spec).rpartition("@")[0]).expanduser().is_dir()):
            continue  # FOLDER@split: a split of a datasets folder (ftcli.data.hub_datasets)
        parent = path.parent if path.parent.is_dir() else None
        nearby = [child.name for child in parent.iterdir()] if parent is not None else []
        hint = did_you_mean(path.name, nearby).replace("'", "'" + (f"{parent}/" if str(path.parent) != "." else ""), 1)
        what = "model folder" if flag in MODEL_FLAGS else "data file"
        raise UserError(f"{flag} {spec}: {what} not found{hint}")


def hub_offline_flag() -> str | None:
    """"HF_HUB_OFFLINE=1" (or TRANSFORMERS_OFFLINE) when set: transformers then reads only the local Hub cache."""
    import os

    return next((f"{var}=1" for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
                 if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")), None)


def offline_model_message(name: str, aliases: list[str] | tuple = ()) -> str:
    """Why a Hub id cannot be used here: the machine is offline (HF_HUB_OFFLINE, or no connection) and the id has
    no copy in the local Hugging Face cache."""
    why = hub_offline_flag() or "the Hugging Face Hub cannot be reached"
    choices = f": {', '.join(aliases)}" if aliases else ""
    return (f"unknown model '{name}'{did_you_mean(name, aliases)}: not a catalogue alias or a local folder, and as a Hub "
            f"id it cannot be fetched, because this machine is offline ({why}) and the Hub cache has no copy; use an "
            f"alias (`ftcli models ls`{choices}) or a checkpoint folder")
