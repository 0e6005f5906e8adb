"""Printing results: rich tables on the terminal, JSON files on request."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ftcli.errors import UserError
from ftcli.paths import write_text_atomically
from ftcli.progress import console, number


RUN_STATISTICS = {
    "kept_epoch", "selected_on", "stopped_early", "skipped_batches", "train_samples_per_second", "train_runtime",
    "eval_samples_per_second", "feature_seconds", "trainable_parameters", "total_parameters", "peak_memory_mb",
    "mixed_precision", "num_processes", "global_batch_size", "train_rows", "validation_rows", "eval_rows", "seconds",
    "student_parameters", "teacher_parameters", "speedup", "speed_batch_size", "speed_device",
    "student_examples_per_second", "teacher_examples_per_second", "teacher", "distill_method", "head",
}
GRID_COLUMNS = ("precision", "recall", "f1", "number", "exact", "exact_match", "total")
"""Per-type metrics (seqeval's LOC_f1, squad_v2's HasAns_exact...) shown as a grid: type x these."""


def result_console(output: Path | str | None = None) -> Console:
    """Results (metrics, listings, predictions) go to stdout, so `| grep` and `> file` get them; progress and
    messages go to stderr. With `--output -` the JSON takes stdout and the tables go to stderr; processes
    other than the main one print their tables there too."""
    from ftcli.distributed import is_main_process

    to_stderr = str(output) == "-" or not is_main_process()
    stream = sys.stderr if to_stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=to_stderr)
    # Not a terminal: rich would assume 80 columns; tables of runs and metrics read better wider.
    return Console(stderr=to_stderr, width=int(os.environ.get("COLUMNS", "120")), quiet=console.quiet)


def split_metrics(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """(quality metrics, per-type grid {type: {column: value}}, run statistics)."""
    quality, grid, stats = {}, {}, {}
    for key, value in metrics.items():
        prefix, _, column = key.rpartition("_")
        if key in RUN_STATISTICS:
            stats[key] = value
        elif prefix and column in GRID_COLUMNS and prefix.split("_")[0] not in ("validation", "teacher", "test"):
            grid.setdefault(prefix, {})[column] = value
        else:
            quality[key] = value
    if len(grid) == 1 and not any(c in ("precision", "recall") for c in next(iter(grid.values()))):
        quality.update({f"{p}_{c}": v for p, row in grid.items() for c, v in row.items()})  # one row is no grid
        grid = {}
    return quality, grid, stats


def _value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def print_metrics(metrics: dict[str, Any], title: str, output: Path | str | None = None) -> None:
    """Quality metrics, then per-type scores as a grid (NER entity types, QA answerable/unanswerable),
    then the run's statistics (time, memory, sizes) apart. Titles are printed above the tables, so
    they wrap like text, not inside a narrow column."""
    out = result_console(output)
    quality, grid, stats = split_metrics(metrics)
    out.print(f"[bold]{title}[/]")
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in quality.items():
        table.add_row(key, _value(value))
    out.print(table)
    if grid:
        columns = [c for c in GRID_COLUMNS if any(c in row for row in grid.values())]
        by_type = Table(show_header=True, header_style="bold", title="per type", title_justify="left")
        by_type.add_column("type")
        for column in columns:
            by_type.add_column(column, justify="right")
        for name, row in grid.items():
            by_type.add_row(name, *(_value(row.get(column, "")) for column in columns))
        out.print(by_type)
    if stats:
        run = Table(show_header=False, title="run statistics", title_justify="left", box=None, padding=(0, 2))
        run.add_column("statistic", style="dim")
        run.add_column("value", justify="right")
        for key, value in stats.items():
            run.add_row(key, number(value))
        out.print(run)


def check_output(path: Path | None, overwrite: bool, inputs: list[str | Path | None] = ()) -> None:
    """Before any work: `--output` may be written (not an input of the command, nor inside one; an
    existing file only with --overwrite and only when ftcli wrote it)."""
    from ftcli.ownership import check_output_file

    if path is None or str(path) == "-":
        return
    path = path.expanduser()
    if path.is_dir():
        raise UserError(f"--output {path} is a directory; give a file name")
    check_output_file(path, overwrite, [Path(i).expanduser() for i in inputs if i])


def write_json(path: Path | None, payload: Any) -> None:
    """Write `payload` to `path` atomically (a temporary file renamed into place), or to stdout for
    `-`; by the main process only when several run (each holds the same results)."""
    if path is not None:
        _write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def write_records(path: Path | None, records: list[dict[str, Any]]) -> None:
    """Rows of results (predictions) in the format `path`'s extension names: .csv (values that are lists or
    mappings as JSON), .jsonl (one object a line), else a JSON list; `-` writes JSON to stdout."""
    if path is None:
        return
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".jsonl":
        _write_text(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    elif suffix in (".csv", ".tsv"):
        import csv
        import io

        columns = list(dict.fromkeys(key for record in records for key in record))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, delimiter="," if suffix == ".csv" else "\t")
        writer.writeheader()
        for record in records:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in record.items()})
        _write_text(path, buffer.getvalue())
    else:
        write_json(path, records)


def _write_text(path: Path | str, text: str) -> None:
    from ftcli.distributed import is_main_process
    from ftcli.ownership import record_output_file

    if not is_main_process():
        return
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"--output {path} is a directory; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, text)
    record_output_file(path)
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
    result_console().print(table)


def print_defaults(used: dict[str, str | None], note: str) -> None:
    """One stderr line naming the recipe defaults a command runs with because no flag gave them (a user who
    typed only the task sees which model and data that means): `recipe defaults: --model minilm --train
    rt-sentiment (flags choose others)`."""
    from ftcli.progress import console

    shown = " ".join(f"{flag} {value}" for flag, value in used.items() if value is not None)
    if shown:
        console.print(f"recipe defaults: {shown} ({note})", highlight=False, soft_wrap=True, markup=False)
