"""`ftcli data check DATA --task TASK`: validate data for a task and summarise it."""

from __future__ import annotations

from typing import Annotated

import typer

from ftcli.cli.options import ColumnOpt, OutputFileOpt, OverwriteOutputOpt, parse_columns

data_app = typer.Typer(help="Inspect and validate data files.", no_args_is_help=True)


@data_app.command("check")
def check(
    data: Annotated[str, typer.Argument(help="File (csv, tsv, jsonl, json, parquet, conll) or catalogue alias.")],
    task: Annotated[str, typer.Option("--task", help="The task the data is meant for.")],
    column: ColumnOpt = None,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
) -> None:
    """Print rows, label distribution, length percentiles and problems; exit 2 if any problem."""
    from rich.table import Table

    from ftcli.cli.output import check_output, result_console, write_json
    from ftcli.data_check import check_data
    check_output(output, overwrite, [data])
    report = check_data(data, task, parse_columns(column))
    out = result_console(output)  # the report: stdout, so it pipes (stderr when --output - takes stdout)
    out.print(f"[bold]{report.source}[/]: {report.rows} rows, columns {', '.join(report.columns)}")
    if report.labels:
        labels = Table(title="Labels", header_style="bold")
        labels.add_column("label")
        labels.add_column("rows", justify="right")
        labels.add_column("share", justify="right")
        total = sum(report.labels.values())
        for name, count in list(report.labels.items())[:30]:
            labels.add_row(name, str(count), f"{count / total:.1%}")
        out.print(labels)
    if report.lengths:
        lengths = Table(title=f"Lengths ({report.length_unit})", header_style="bold")
        lengths.add_column("field")
        keys = list(next(iter(report.lengths.values())))
        for key in keys:
            lengths.add_column(key, justify="right")
        for name, values in report.lengths.items():
            lengths.add_row(name, *[f"{values[k]:g}" for k in keys])
        out.print(lengths)
    write_json(output, report.to_dict())
    if report.problems:
        for problem in report.problems:
            out.print(f"[red]problem:[/] {problem}", soft_wrap=True)
        raise typer.Exit(2)
    out.print("[green]No problems found.[/]")
