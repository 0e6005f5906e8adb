"""`ftcli data check DATA --task TASK`: validate data for a task and summarise it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ftcli.cli.options import DATA, MODEL, ColumnOpt, OutputFileOpt, OverwriteOutputOpt, parse_columns

data_app = typer.Typer(help="Inspect and validate data files.", no_args_is_help=True)


@data_app.command("check")
def check(
    data: Annotated[str, typer.Argument(help="File (csv, tsv, jsonl, json, parquet, conll) or catalogue alias.")],
    task: Annotated[str, typer.Option("--task", help="The task the data is meant for.", rich_help_panel=DATA)],
    column: ColumnOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="A task option: --set options.problem_type=multi_label_classification, options.label_separator=';' (repeatable). Default: inferred from the labels.", rich_help_panel=DATA)] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Count lengths in this model's tokens (a catalogue alias, checkpoint directory or Hub id). Default: lengths in words.", rich_help_panel=MODEL)] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="With --model: the length beyond which rows are truncated. Default: the task's recipe's.", rich_help_panel=MODEL)] = None,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
) -> None:
    """Print rows, label distribution, length percentiles (in words, or with --model in its tokens),
    then every problem (the first 20 of each kind; --output has them all); exit 2 if any problem."""
    from rich.markup import escape

    from ftcli.cli.output import check_output, result_console, write_json
    from ftcli.preflight import check_paths
    from ftcli.tasks import check_task_name

    check_task_name(task)
    check_paths({"DATA": data, "--model": model})
    check_output(output, overwrite, [data])
    from ftcli.config import TaskOptions, with_option_sets
    from ftcli.data_check import check_data, shown_lines

    report = check_data(data, task, parse_columns(column), model=model, max_length=max_length,
                        options=with_option_sets(TaskOptions(), set_))
    out = result_console(output)  # the report: stdout, so it pipes (stderr when --output - takes stdout)
    skipped = f"; {report.skipped_lines} unreadable lines left out" if report.skipped_lines else ""
    columns = escape(", ".join(report.columns))
    out.print(f"[bold]{escape(report.source)}[/]: {report.rows} rows, columns {columns}{skipped}", highlight=False,
              soft_wrap=True)
    _print_tables(out, report)
    if report.model and report.longer_than_max_length == 0:
        out.print(f"Every row fits in max_length {report.max_length} tokens.")
    write_json(output, report.to_dict())
    for found, label in ((report.warnings, "[yellow]warning:[/]"), (report.problems, "[red]problem:[/]")):
        for line, more in shown_lines(found):  # "... and 312 more rows with an empty label": not a problem line
            out.print(f"{' ' * len('problem:') if more else label} {escape(line)}", soft_wrap=True, highlight=False)
    if report.problems:
        counts = "; ".join(f"{kind}: {len(lines)}" for kind, lines in report.problems.items())
        out.print(f"[red]{report.problem_count} problem{'s' * (report.problem_count > 1)}[/] ({counts})",
                  soft_wrap=True, highlight=False)
        raise typer.Exit(2)
    out.print("[green]No problems found.[/]")


def _print_tables(out, report) -> None:
    from rich.markup import escape
    from rich.table import Table

    if report.labels:
        labels = Table(title="Labels", header_style="bold")
        labels.add_column("label")
        labels.add_column("rows", justify="right")
        labels.add_column("share", justify="right")
        total = sum(report.labels.values())
        for name, count in list(report.labels.items())[:30]:
            labels.add_row(escape(name), str(count), f"{count / total:.1%}")
        out.print(labels)
    if report.lengths:
        if report.model:
            title = f"[bold]Lengths in {report.model} tokens[/] (rows without problems)"
        elif report.length_unit in ("words", "tokens"):  # NER's tokens are the words of its `tokens` lists
            title = "[bold]Lengths in words[/] (--model MODEL counts a model's tokens)"
        else:
            title = f"[bold]Lengths in {report.length_unit}[/]"
        out.print(title, highlight=False)  # above the table, so it wraps as text, not in a narrow column
        lengths = Table(header_style="bold")
        lengths.add_column("field")
        keys = list(next(iter(report.lengths.values())))
        for key in keys:
            lengths.add_column(key, justify="right")
        for name, values in report.lengths.items():
            lengths.add_row(escape(name), *[f"{values[k]:g}" for k in keys])
        out.print(lengths)
