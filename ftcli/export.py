"""`ftcli export RUN --output-dir DIR`: a run's model as a folder other tools load.

- full: the fine-tuned checkpoint as it is (transformers loads it without ftcli);
- lora: the adapter merged into the base weights (`merge_and_unload`), saved as a plain
  transformers checkpoint with the tokenizer: no peft needed to use it;
- prompt-tuning, feature-extraction: nothing to merge (a soft prompt is an input, a feature head
  sits on a frozen body), so the adapter / head folder is copied as it is.

The folder is written beside DIR and renamed into place when complete, signed with a manifest of
its files (`.ftcli-export`): `--overwrite` replaces only such a folder, unchanged since.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ftcli.config import config_from_yaml
from ftcli.errors import UserError
from ftcli.ownership import atomic_directory, overlaps, require_replaceable
from ftcli.rundir import CONFIG_FILE, is_run_directory
from ftcli.strategies import get_strategy
from ftcli.objectives import task_or_objective


def export_run(run: Path, destination: Path, overwrite: bool = False, format: str = "transformers") -> str:
    """Write the export; returns what was written ("merged", "copied", "onnx")."""
    if format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not is_run_directory(run):
        raise UserError(f"{run} is not a finished ftcli run directory (it needs config.yaml and model/)")
    if destination.exists() and not destination.is_dir():
        raise UserError(f"cannot export to {destination}: it is a file; choose a folder")
    if overlaps(destination, run):
        raise UserError(f"cannot export {run} to {destination}: the export would hold, replace or sit inside the run "
                        "itself; choose a folder outside it")
    links = [p for p in (run / "model").rglob("*") if p.is_symlink()]
    if links:
        raise UserError(f"{links[0]} is a symbolic link; ftcli exports only the files a run holds itself")
    require_replaceable(destination, MARKER, "an export")
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        raise UserError(f"{destination} holds an earlier export; pass --overwrite to replace it, or choose another folder")
    config = config_from_yaml(run / CONFIG_FILE)
    strategy = get_strategy(config.strategy)
    if format == "onnx" and not strategy.exports_onnx:
        raise UserError(f"--format onnx exports full weights (full fine-tuning, or LoRA merged); a {config.strategy} "
                        "run keeps a soft prompt or a head of ftcli's own beside the weights: export it as transformers")
    with atomic_directory(destination, marker=MARKER, details={"exported_from": str(run.resolve())}) as staging:
        how = strategy.export_model(run / "model", staging, config)
        if format == "onnx":
            to_onnx(staging, task_or_objective(config.task, config.options), config.model.max_length)
            how = "onnx"
        return how


MARKER = ".ftcli-export"
FORMATS = ("transformers", "onnx")
ONNX_FILE = "model.onnx"
ONNX_TOLERANCE = 1e-3


def to_onnx(folder: Path, task, max_length: int) -> float:
    """Add model.onnx (torch.onnx, dynamic batch and sequence axes) to a transformers model folder, then
    check it: onnxruntime's outputs on a sample batch must match PyTorch's within ONNX_TOLERANCE.
    Returns the largest difference."""
    import importlib.util

    import numpy as np
    import torch

    from ftcli.models.loading import load_model, read_config

    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"--format onnx needs {', '.join(missing)}: pip install {' '.join(missing)}")
    import onnxruntime

    task = task.bind(read_config(str(folder)))
    model = load_model(str(folder), task.auto_class_for).eval()
    tokenizer = task.load_processor(str(folder))
    sample = tokenizer(["a short one", "a longer sentence to check the dynamic sequence axis"],
                       padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    inputs = tuple(sample[name] for name in names)
    with torch.no_grad():
        reference = model(**sample, return_dict=True)
    outputs = [key for key, value in reference.items() if isinstance(value, torch.Tensor)]

    class Plain(torch.nn.Module):  # positional inputs in, a tuple of tensors out: what the exporter traces
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            result = self.inner(**dict(zip(names, tensors)), return_dict=True)
            return tuple(result[key] for key in outputs)

    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes.update({name: {0: "batch"} for name in outputs})
    with warnings.catch_warnings():  # the exporter's notes on how it lowers operators are not the user's concern
        warnings.simplefilter("ignore")
        torch.onnx.export(Plain(model), inputs, str(folder / ONNX_FILE), input_names=names, output_names=outputs,
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    got = session.run(outputs, {name: sample[name].numpy() for name in names})
    difference = max(float(np.abs(a - reference[key].numpy()).max()) for a, key in zip(got, outputs))
    if difference > ONNX_TOLERANCE:
        (folder / ONNX_FILE).unlink()
        raise UserError(f"the ONNX export's outputs differ from PyTorch's by {difference:.2g} (more than "
                        f"{ONNX_TOLERANCE}); export --format transformers instead")
    return difference
