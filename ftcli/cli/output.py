"""Printing results: rich tables on the terminal, JSON files on request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from ftcli.errors import UserError
from ftcli.progress import console


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def write_json(path: Path | None, payload: Any) -> None:
    """Write `payload` to `path` atomically (a temporary file renamed into place); by the main process
    only when several run (each holds the same results)."""
    from ftcli.distributed import is_main_process

    if path is None or not is_main_process():
        return
    path = path.expanduser()
    if path.is_dir():
        raise UserError(f"--output {path} is a directory; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(path)
    console.print(f"Wrote {path}")


def print_summary_table(report: dict[str, Any]) -> None:
    """`ftcli compare`'s result: one row per strategy and size."""
    table = Table(title=f"{report['task']} on {report['model']}: {report['metric']} (mean ± std over seeds)",
                  header_style="bold")
    for column, justify in (("strategy", "left"), ("examples", "right"), (report["metric"], "right"),
                            ("trainable", "right"), ("seconds", "right"), ("peak MB", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    for row in report["summary"]:
        name = row["strategy"] + (f" ({row['shots']}-shot)" if row["strategy"] == "in-context" else "")
        table.add_row(name, str(row["size"]), f"{row['mean']:.4f} ± {row['std']:.4f}", f"{row['trainable_parameters']:,}",
                      f"{row['seconds']:.1f}", f"{row['peak_memory_mb']:.0f}")
    console.print(table)
