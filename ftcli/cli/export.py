"""`ftcli export RUN --output-dir DIR`: the run's model as a standalone folder (LoRA merged)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.options import OUTPUT, output_dir_option, renamed, required


ExportDirOpt = output_dir_option("Folder to write (must not exist or be empty). Required.")

def export(
    run: Annotated[Path, typer.Argument(help="A finished run directory.")],
    format: Annotated[str, typer.Option("--format", help="transformers (a folder transformers' from_pretrained and pipeline load) or onnx (that folder plus model.onnx, checked against PyTorch's outputs).", rich_help_panel=OUTPUT)] = "transformers",
    output_dir: ExportDirOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an export ftcli wrote to --output-dir, unchanged since (never another folder).", rich_help_panel=OUTPUT)] = False,
    to: Annotated[Optional[Path], typer.Option("--to", hidden=True, help="Renamed --output-dir.")] = None,
) -> None:
    """Export a run's model: LoRA adapters are merged into full weights that transformers loads
    without peft; full fine-tuning runs are copied; prompt-tuning and feature-extraction runs
    are copied as adapter / head folders."""
    to = required(renamed(output_dir, to, "--to", "--output-dir"), "--output-dir")
    from ftcli.export import export_run
    from ftcli.progress import console

    how = export_run(run, to, overwrite, format)
    what = {"merged": "LoRA adapter merged into the base weights", "copied": "model folder copied",
            "onnx": "model.onnx beside the transformers files; its outputs match PyTorch's"}[how]
    console.print(f"Exported {run} to [bold]{to}[/] ({what}).")
