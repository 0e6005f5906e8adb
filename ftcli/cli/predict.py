"""`ftcli predict RUN_OR_MODEL (--input TEXT | --data DATA)`: predictions of a trained model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ftcli.cli.options import (DATA, MODEL, BatchSizeOpt, ColumnOpt, OutputFileOpt, OverwriteOutputOpt, TaskOpt, check_batch_size,
                               parse_columns, renamed)
from ftcli.errors import UserError


def predict(
    run_or_model: Annotated[str, typer.Argument(help="Run directory, checkpoint directory or model alias.")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="Text to predict for (repeatable). Tasks with two inputs take them joined by |||: NLI \"PREMISE ||| HYPOTHESIS\", QA \"QUESTION ||| CONTEXT\".", rich_help_panel=DATA)] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Data file (or alias) with the input column(s); its other columns are kept in --output.", rich_help_panel=DATA)] = None,
    column: ColumnOpt = None,
    task: TaskOpt = None,
    batch_size: BatchSizeOpt = 64,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a task option: --set options.temperature=0.7, options.max_new_tokens=40, options.top_p=0.9 (repeatable).", rich_help_panel=MODEL)] = None,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
    file: Annotated[Optional[str], typer.Option("--file", "-f", hidden=True, help="Renamed --data.")] = None,
) -> None:
    """Predict with a fine-tuned model; prints a table, and --output writes every row as CSV, TSV, JSONL or JSON by the file's extension (- for JSON on stdout), the input's other columns kept beside the predictions."""
    from ftcli.cli.output import check_output
    from ftcli.preflight import check_paths

    data = renamed(data, file, "--file", "--data")
    if bool(input) == bool(data):
        raise UserError("give either --input TEXT or --data DATA")
    check_batch_size(batch_size)
    check_paths({"RUN_OR_MODEL": run_or_model, "--data": data})
    check_output(output, overwrite, [run_or_model, data])
    from datasets import Dataset
    from rich.table import Table

    from ftcli.cli.output import result_console, write_records
    from ftcli.data.sources import load_single
    from ftcli.inference import load_trained, predict_dataset
    from ftcli.progress import console

    loaded = load_trained(run_or_model, task, parse_columns(column), option_sets=set_)
    if input:
        rows = [loaded.task.input_row(text) for text in input]
        fields = loaded.task.input_fields
        dataset = Dataset.from_dict({loaded.columns[f]: [r[f] for r in rows] for f in fields})
        where = "--input"
    else:
        dataset, where = load_single(data)
    records = predict_dataset(loaded, dataset, where, batch_size)
    shown = [loaded.task.display(record) for record in records[:50]]
    table = Table(show_header=True, header_style="bold")
    for name in shown[0]:
        table.add_column(name, overflow="fold", justify="right" if name == "score" else "left")
    for row in shown:
        table.add_row(*[value[:200] for value in row.values()])
    result_console(output).print(table)
    if len(records) > 50:
        console.print(f"... {len(records) - 50} more rows (use --output FILE for all)")
    if data:  # the input's other columns (an id, a gold label) stay beside the predictions
        inputs = {loaded.columns[f] for f in loaded.task.inputs_for(dataset, loaded.columns)}
        records = [_with_input_columns(row, record, inputs) for row, record in zip(dataset, records)]
    write_records(output, records)


def _with_input_columns(row: dict, record: dict, inputs: set[str]) -> dict:
    """The row's text, number and boolean values, then the prediction; a column named like a field of the
    prediction that is not the model's input (a gold `label`) is kept as `input_NAME`."""
    kept = {}
    for key, value in row.items():
        scalar = (str, int, float, bool)
        if value is not None and not isinstance(value, scalar) and not (
                isinstance(value, list) and all(isinstance(item, scalar) for item in value)):
            continue  # images and other objects are not written out again (a gold label set is kept)
        kept[f"input_{key}" if key in record and key not in inputs else key] = value
    return {**kept, **record}
