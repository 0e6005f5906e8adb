"""`ftcli compare TASK`: every strategy at every training-set size, as a table and a learning curve."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.options import (DATA, MODEL, TRAINING, ColumnOpt, LimitTestOpt, MaxLengthOpt, OldEvalOpt,
                               OldLimitEvalOpt, SetOpt, output_dir_option, parse_columns, test_options)
from ftcli.errors import UserError
from ftcli.cli.worker import run_as_worker

CompareDirOpt = output_dir_option("Where the comparison goes; re-running the same command there skips finished runs. Default: runs/compare-TASK-MODEL.")
WORKER = "ftcli.cli.compare"
"""`python -m ftcli.cli.compare SETTINGS CELL` runs one cell of a comparison (`run_cell`)."""


def compare(
    task: Annotated[str, typer.Argument(help="classification or nli (the subsamples are class-balanced; label sets and regression labels work too); or a config file (compare.yaml) holding task: and any of the options below by name (model, train, test, strategies, train_sizes, seeds, limit_test, max_length, set, column, output_dir).")],
    train: Annotated[Optional[str], typer.Option("--train", help="Training data to subsample: file or catalogue alias. Default: rt-sentiment.", rich_help_panel=DATA)] = None,
    test: Annotated[Optional[str], typer.Option("--test", help="Test data, the same for every run. Default: the alias's test split.", rich_help_panel=DATA)] = None,
    column: ColumnOpt = None,
    limit_test: LimitTestOpt = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Catalogue alias (`ftcli models ls`), checkpoint directory, or Hub id. Default: minilm.", rich_help_panel=MODEL)] = None,
    prompt_model: Annotated[Optional[str], typer.Option("--prompt-model", help="The model of the in-context rows: one that learns in context (a causal LM). Default: the in-context recipe's (smollm2), not --model.", rich_help_panel=MODEL)] = None,
    max_length: MaxLengthOpt = None,
    strategies: Annotated[Optional[str], typer.Option("--strategies", help="Comma-separated: in-context, feature-extraction, prompt-tuning, lora, contrastive, full. Default: in-context,feature-extraction,lora,full.", rich_help_panel=TRAINING)] = None,
    train_sizes: Annotated[Optional[str], typer.Option("--train-sizes", help="Comma-separated labelled-example counts; 'all' is the whole training set. In-context runs at 0 (zero-shot) and as k-shot up to 64. Default: 0,16,64,256,1024,all.", rich_help_panel=TRAINING)] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds (subsample and training) per strategy and size. Default: 3.", rich_help_panel=TRAINING)] = None,
    set_: SetOpt = None,
    output_dir: CompareDirOpt = None,
    eval: OldEvalOpt = None,
    limit_eval: OldLimitEvalOpt = None,
) -> None:
    """Which strategy for how much data: run each strategy at each training-set size on
    class-balanced subsamples with several seeds, then write compare.json, compare.md (mean ± std,
    trainable parameters, wall time, peak memory) and compare.png (the learning curve).
    Interrupted? Run the same command again: finished runs are kept."""
    from ftcli.preflight import check_paths
    from ftcli.tasks import check_task_name

    test, limit_test = test_options(test, eval, limit_test, limit_eval)
    given = dict(task=task, model=model, prompt_model=prompt_model, train=train, test=test, strategies=strategies,
                 train_sizes=train_sizes,
                 seeds=seeds, limit_test=limit_test, max_length=max_length, set=set_, column=column,
                 output_dir=output_dir)
    if task.endswith((".yaml", ".yml")):  # the file's values, under the flags given beside it
        given = {**comparison_file(Path(task)), **{key: value for key, value in given.items()
                                                   if value is not None and key != "task"}}
    task, model, train, test, limit_test, max_length = (given.get(key) for key in (
        "task", "model", "train", "test", "limit_test", "max_length"))
    check_task_name(task)
    check_paths({"--train": train, "--test": test, "--model": model, "--prompt-model": given.get("prompt_model")})
    from ftcli.cli.output import print_summary_table
    from ftcli.compare import CompareSettings, Comparison, parse_list
    from ftcli.compare.plan import DEFAULT_SIZES, DEFAULT_STRATEGIES
    from ftcli.config import ModelConfig, DataConfig
    from ftcli.progress import console

    model = model or ModelConfig().name
    train = train or DataConfig().train
    out = Path(given.get("output_dir") or Path("runs") / f"compare-{task}-{Path(model.rstrip('/')).name}")
    settings = CompareSettings(task=task, model=model, train=train, eval=test, output_dir=out,
                               strategies=parse_list(given.get("strategies") or ",".join(DEFAULT_STRATEGIES), "--strategies"),
                               sizes=parse_list(given.get("train_sizes") or ",".join(DEFAULT_SIZES), "--train-sizes"),
                               seeds=given.get("seeds") or 3, limit_eval=limit_test, max_length=max_length,
                               sets=list(given.get("set") or []), columns=parse_columns(given.get("column")),
                               prompt_model=given.get("prompt_model"))
    report = Comparison(settings).run(worker=[sys.executable, "-m", WORKER])
    print_summary_table(report)
    console.print(f"Wrote [bold]{out}/compare.md[/], compare.json and compare.png")


def comparison_file(path: Path) -> dict:
    """`ftcli compare compare.yaml`: the options by name (`set:` and `column:` as mappings or lists, `strategies:`
    and `train_sizes:` as lists or comma-separated text); an unknown key is refused, naming those that exist."""
    from ftcli.config.recipes import read_yaml_mapping
    from ftcli.preflight import did_you_mean

    known = ("task", "model", "prompt_model", "train", "test", "strategies", "train_sizes", "seeds", "limit_test", "max_length",
             "set", "column", "output_dir")
    values = read_yaml_mapping(path, "comparison file")
    for key in values:
        if key not in known:
            raise UserError(f"{path}: unknown key '{key}'{did_you_mean(key, known)}. Known: {', '.join(known)}")
    if not values.get("task"):
        raise UserError(f"{path} has no `task:`; add one (classification or nli)")
    for key, joiner in (("set", "="), ("column", "=")):
        if isinstance(values.get(key), dict):
            values[key] = [f"{name}{joiner}{value}" for name, value in values[key].items()]
    for key in ("strategies", "train_sizes"):
        if isinstance(values.get(key), list):
            values[key] = ",".join(str(item) for item in values[key])
    return {key: (str(value) if key in ("model", "prompt_model", "train", "test", "output_dir") and value is not None else value)
            for key, value in values.items()}


def run_cell(settings_json: str, cell_json: str) -> None:
    """One cell, in a worker process of its own, as `ftcli compare` starts it."""
    def work() -> None:
        from ftcli.compare import Cell, CompareSettings, Comparison

        values = json.loads(settings_json)
        settings = CompareSettings(**{**values, "output_dir": Path(values["output_dir"])})
        Comparison(settings).finish_cell(Cell(**json.loads(cell_json)))

    run_as_worker(work)


if __name__ == "__main__":
    run_cell(*sys.argv[1:3])
