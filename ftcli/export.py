"""`ftcli export RUN --to DIR`: a run's model as a folder other tools load.

- full: the fine-tuned checkpoint as it is (transformers loads it without ftcli);
- lora: the adapter merged into the base weights (`merge_and_unload`), saved as a plain
  transformers checkpoint with the tokenizer: no peft needed to use it;
- prompt-tuning, feature-extraction: nothing to merge (a soft prompt is an input, a feature head
  sits on a frozen body), so the adapter / head folder is copied as it is.

The folder is written beside DIR and renamed into place when complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftcli import assets
from ftcli.config import config_from_yaml
from ftcli.errors import UserError
from ftcli.models.loading import read_config
from ftcli.paths import atomic_directory
from ftcli.rundir import CONFIG_FILE, is_run_directory
from ftcli.strategies import get_strategy
from ftcli.tasks import get_task


def export_run(run: Path, destination: Path, overwrite: bool = False) -> str:
    """Write the export; returns what was written ("merged", "copied")."""
    if not is_run_directory(run):
        raise UserError(f"{run} is not a finished ftcli run directory (it needs config.yaml and model/)")
    if destination.exists() and not destination.is_dir():
        raise UserError(f"cannot export to {destination}: it is a file; choose a folder")
    if destination.exists() and any(destination.iterdir()) and not overwrite:
        raise UserError(f"{destination} already exists and is not empty; choose another folder or pass --overwrite")
    if destination.resolve() == (run / "model").resolve():
        raise UserError("export to a folder other than the run's own model/")
    config = config_from_yaml(run / CONFIG_FILE)
    with atomic_directory(destination) as staging:
        if config.strategy == "lora":
            base_config = read_config(assets.resolve_model(config.model.name), config.model.trust_remote_code)
            task = get_task(config.task, config.options).bind(base_config)
            model = get_strategy("lora").load(run / "model", task, config)
            merged = model.merge_and_unload()
            merged.save_pretrained(staging, safe_serialization=True)
            processor = task.load_processor(str(run / "model"))
            processor.save_pretrained(staging)
            return "merged"
        shutil.copytree(run / "model", staging, dirs_exist_ok=True)
        return "copied"
