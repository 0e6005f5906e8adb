"""`ftcli runs ls [DIR]` and `ftcli runs show RUN`: the finished runs on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

runs_app = typer.Typer(help="List and inspect finished runs.", no_args_is_help=True)


@runs_app.command("ls")
def list_(folder: Annotated[Path, typer.Argument(help="Folder to search (run directories at any depth up to 4).")] = Path("runs")) -> None:
    """One line per finished run: task, strategy, model, headline test metric, date, size on disk."""
    from rich.table import Table

    from ftcli.cli.output import result_console
    from ftcli.errors import UserError
    from ftcli.runs import find_runs, human_size, summarize_run

    if not folder.exists():
        raise UserError(f"{folder} does not exist; give the folder that holds your runs")
    runs = [summarize_run(path) for path in find_runs(folder)]
    table = Table(title=f"{len(runs)} run(s) under {folder}", header_style="bold")
    for column, justify in (("run", "left"), ("task", "left"), ("strategy", "left"), ("model", "left"),
                            ("test metric", "left"), ("date", "left"), ("size", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for run in runs:
        name = str(run.path.relative_to(folder)) if run.path != folder else run.path.name
        score = f"{run.metric} {run.value:.4f}" if run.value is not None else "-"
        table.add_row(name, run.task, run.strategy, Path(run.model.rstrip("/")).name, score, run.created,
                      human_size(run.bytes))
    result_console().print(table)


@runs_app.command("show")
def show(
    run: Annotated[Path, typer.Argument(help="A finished run directory.")],
    all_: Annotated[bool, typer.Option("--all", help="Print every setting (the whole config.yaml), not only those "
                                                     "that differ from the run's recipe.")] = False,
) -> None:
    """A run's settings that differ from the recipe it started from (--all: every setting), its test metrics
    (quality apart from run statistics) and its files."""
    import yaml

    from ftcli.cli.output import print_metrics, result_console
    from ftcli.config import read_yaml_mapping
    from ftcli.errors import UserError
    from ftcli.rundir import CONFIG_FILE, is_run_directory
    from ftcli.runs import MISSING, differing_settings, human_size, read_metrics, shown_value, starting_settings, \
        summarize_run

    if not is_run_directory(run):
        raise UserError(f"{run} is not a finished ftcli run directory (it needs config.yaml and model/)")
    settings = read_yaml_mapping(run / CONFIG_FILE, "the run's settings")
    metrics = read_metrics(run)
    summary = summarize_run(run)
    out = result_console()
    out.print(f"[bold]{run}[/]: {summary.created}, {human_size(summary.bytes)}", highlight=False)
    out.print(f"task: {summary.task}, strategy: {summary.strategy}, model: {summary.model}", highlight=False)
    if all_:
        out.print(yaml.safe_dump(settings, sort_keys=False).rstrip(), highlight=False, markup=False)
    else:
        start, start_settings = starting_settings(settings)
        changed = differing_settings(settings, start_settings)
        label = "recipe" if start.startswith("recipe") else "default"
        out.print(f"Settings that differ from the {start} ({len(changed)}; --all prints every setting):"
                  if changed else f"Settings: those of the {start} (--all prints them).", highlight=False)
        for key, value, was in changed:
            before = "not in this version's settings" if was is MISSING else f"{label}: {shown_value(was)}"
            out.print(f"  {key}: {shown_value(value)} ({before})", highlight=False, markup=False, soft_wrap=True)
    print_metrics(metrics, title=f"{run.name}: test metrics")
    for name, what in (("loss.png", "loss plot"), ("README.md", "model card"), ("model", "model"),
                       ("log.jsonl", "training log"), ("logs", "tracker logs")):
        if (run / name).exists():
            out.print(f"{what}: {run / name}")
