"""`ftcli evaluate RUN_OR_MODEL --data DATA`: metrics of a trained model on labelled data."""

from __future__ import annotations

from typing import Annotated

import typer

from ftcli.cli.options import (DATA, BatchSizeOpt, ColumnOpt, InferenceMaxLengthOpt, LimitOpt, OutputFileOpt, OverwriteOutputOpt,
                               TaskOpt, check_batch_size, parse_columns)
from ftcli.cli.output import check_output, print_metrics, write_json


def evaluate(
    run_or_model: Annotated[str, typer.Argument(help="Run directory, checkpoint directory or model alias.")],
    data: Annotated[str, typer.Option("--data", help="Labelled data: file or catalogue alias (its test split).", rich_help_panel=DATA)],
    column: ColumnOpt = None,
    limit: LimitOpt = None,
    task: TaskOpt = None,
    max_length: InferenceMaxLengthOpt = None,
    batch_size: BatchSizeOpt = 64,
    output: OutputFileOpt = None,
    overwrite: OverwriteOutputOpt = False,
) -> None:
    """Evaluate a fine-tuned model and print the task's metrics."""
    from ftcli.errors import UserError
    from ftcli.preflight import check_paths

    check_batch_size(batch_size)
    check_paths({"RUN_OR_MODEL": run_or_model, "--data": data})
    if task is not None:
        from ftcli.tasks import check_task_name

        check_task_name(task)
    check_output(output, overwrite, [run_or_model, data])
    from ftcli.data.sources import load_single
    from ftcli.inference import evaluate_dataset, load_trained

    loaded = load_trained(run_or_model, task, parse_columns(column), max_length)
    dataset, where = load_single(data)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be at least 1, got {limit}")
        dataset = dataset.select(range(min(limit, dataset.num_rows)))
    metrics = evaluate_dataset(loaded, dataset, where, batch_size)
    print_metrics(metrics, title=f"{loaded.task.name}: {run_or_model} on {where}", output=output)
    write_json(output, {"model": run_or_model, "data": data, "task": loaded.task.name, **metrics})
