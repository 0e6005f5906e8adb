"""`ftcli evaluate RUN_OR_MODEL --data DATA`: metrics of a trained model on labelled data."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ftcli.cli.options import BatchSizeOpt, ColumnOpt, OutputFileOpt, OverwriteOutputOpt, TaskOpt, check_batch_size, parse_columns
from ftcli.cli.output import check_output, print_metrics, write_json


def evaluate(
    run_or_model: Annotated[str, typer.Argument(help="Run directory, checkpoint directory or model alias.")],
    data: Annotated[str, typer.Option("--data", help="Labelled data: file or catalogue alias (its test split).")],
    task: TaskOpt = None,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
    column: ColumnOpt = None,
    batch_size: BatchSizeOpt = 64,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="Longest input in tokens (default: the run's; 512 for a bare checkpoint).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Evaluate only the first N rows.")] = None,
) -> None:
    """Evaluate a fine-tuned model and print the task's metrics."""
    from ftcli.data.sources import load_single
    from ftcli.errors import UserError
    from ftcli.inference import evaluate_dataset, load_trained

    check_batch_size(batch_size)
    check_output(output, overwrite, [run_or_model, data])
    loaded = load_trained(run_or_model, task, parse_columns(column), max_length)
    dataset, where = load_single(data)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        dataset = dataset.select(range(min(limit, dataset.num_rows)))
    metrics = evaluate_dataset(loaded, dataset, where, batch_size)
    print_metrics(metrics, title=f"{loaded.task.name}: {run_or_model} on {where}", output=output)
    write_json(output, {"model": run_or_model, "data": data, "task": loaded.task.name, **metrics})
