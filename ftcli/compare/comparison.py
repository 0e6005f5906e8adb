"""Running a comparison: the plan cell by cell, each trained or prompted in a worker process of its own
(its peak memory is its own, and a crash loses only that run), each finished cell written at once so a
re-run skips it; then the report.

    OUT/compare.json  compare.md  compare.png
    OUT/cells/STRATEGY-nSIZE-sSEED.json     one finished cell
    OUT/data/train-nSIZE-sSEED.jsonl        the subsample it trained on
    OUT/runs/STRATEGY-nSIZE-sSEED/          the run directory of a trained cell
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ftcli.compare.plan import (FULL, MAX_SHOTS, Cell, CompareSettings, balanced_indices, check_settings, plan,
                                schedule, strategies_for)
from ftcli.compare.report import baselines, markdown_table, summarize
from ftcli.data.labels import REGRESSION
from ftcli.errors import UserError
from ftcli.ownership import keep_settings_record
from ftcli.paths import write_text_atomically
from ftcli.progress import console
from ftcli.strategies import IN_CONTEXT

class Comparison:
    """Runs the plan cell by cell; a cell whose result file exists is not run again."""

    def __init__(self, settings: CompareSettings):
        from ftcli.config import build_config, load_recipe
        from ftcli.recipe_store import recipe_path
        from ftcli.tasks import get_task

        check_settings(settings)
        self.settings = settings
        self.root = settings.output_dir.expanduser()
        self.recipes = {s: load_recipe(recipe_path(f"{settings.task}/{s}")) for s in settings.strategies}
        self.base = build_config(recipe=self.recipes.get(FULL) or next(iter(self.recipes.values())),
                                 sets=settings.sets, flags={"model.name": settings.model, "data.train": settings.train})
        self.task = get_task(settings.task, self.base.options)  # --set options.problem_type=... reaches it
        self.eval_source = settings.eval
        if self.eval_source is None:
            from ftcli import assets

            if settings.train not in assets.DATASETS:
                raise UserError("--test is needed when --train is a file (the alias's test split is used otherwise)")
            self.eval_source = settings.train

    # -- data ------------------------------------------------------------------------------

    @functools.cached_property
    def _splits(self):
        """The training rows the subsamples come from, and the test rows every cell is scored on (the first
        `limit_eval` of them, as training and prompting take them)."""
        from ftcli.data.sources import load_splits

        return load_splits(self.settings.train, self.eval_source, 0.1, 42, limit_eval=self.settings.limit_eval)

    def _labels(self, rows) -> list:
        """Each row's label (None for unlabelled tasks)."""
        from ftcli.data.columns import resolve_columns

        columns = resolve_columns(self.task.fields, {**self.base.data.columns, **self.settings.columns}, self.task.name)
        label_column = columns.get("label")
        return list(rows[label_column]) if label_column in rows.column_names else [None] * rows.num_rows

    @functools.cached_property
    def _training(self) -> tuple[Any, list]:
        """The training rows the subsamples come from, and each row's label (None for unlabelled tasks)."""
        train = self._splits.train
        return train, self._labels(train)

    @functools.cached_property
    def problem_type(self) -> str | None:
        """Classification's problem type, decided once from all the training rows (or options.problem_type)
        and pinned in every cell's run: 16 rows of scores 1-5 could read as class names. None for other tasks."""
        resolve = getattr(self.task, "resolve_problem_type", None)
        if resolve is None:
            return None
        if self.settings.problem_type is not None:  # a worker: the parent decided it
            self.task.options.problem_type = self.settings.problem_type
            return resolve(None)
        return resolve(self._training[1])

    @property
    def metric(self) -> str:
        """The metric every cell is compared on: the task's (and problem type's) selection metric."""
        self.problem_type  # noqa: B018 (decides the task's metric)
        return self.task.best_metric

    def fit_strategies(self) -> list[str]:
        """Keep the strategies that can learn the problem type (see `strategies_for`); returns those left out."""
        kept, left_out = strategies_for(self.settings.strategies, self.problem_type)
        self.settings.strategies = kept
        return left_out

    def say_problem_type(self, left_out: list[str]) -> None:
        if self.problem_type is not None:
            self.task.say_notes()
        if left_out:
            console.print(f"left out: {', '.join(left_out)} (each learns one label per row; this data is "
                          f"{self.problem_type})")

    def subsample(self, size: int, seed: int) -> Path:
        """The class-balanced training subsample of a size and seed, written once."""
        path = self.root / "data" / f"train-n{size}-s{seed}.jsonl"
        if not path.is_file():
            train, labels = self._training
            rows = train.select(balanced_indices(labels, size, seed, by_label=self.problem_type != REGRESSION))
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.tmp")
            rows.to_json(str(partial), lines=True, force_ascii=False)
            partial.replace(path)
        return path

    # -- cells -----------------------------------------------------------------------------

    def cell_file(self, cell: Cell) -> Path:
        return self.root / "cells" / f"{cell.name}.json"

    def result_settings(self) -> dict:
        """Everything that changes a cell's result (the plan, strategies x sizes x seeds, does not): a cell
        saved under other values is not reused."""
        from ftcli.ownership import fingerprint

        s = self.settings
        return {"task": s.task, "model": s.model, "train": fingerprint(s.train), "eval": fingerprint(self.eval_source),
                "limit_eval": s.limit_eval, "max_length": s.max_length, "sets": sorted(s.sets),
                "columns": dict(sorted(s.columns.items())),
                "prompt_model": self.prompt_model() if IN_CONTEXT in s.strategies else None}

    def prompt_model(self) -> str:
        """The in-context cells' model: --prompt-model, else the in-context recipe's."""
        return self.settings.prompt_model or str(self.recipes[IN_CONTEXT].get("model", {}).get("name"))

    def check_same_settings(self) -> None:
        """A folder holds the cells of one set of result settings: recorded at the first run, compared after."""
        keep_settings_record(self.root, self.result_settings(), "compare", "results",
                             ", which would be mixed with these: choose another --output-dir")

    def run(self, worker: list[str]) -> dict:
        """Every cell of the plan; `worker` is the command that runs one cell, given the settings and the cell
        (as JSON) as two more arguments."""
        left_out = self.fit_strategies()  # a refusal comes before the folder is made
        self.settings.problem_type = self.problem_type  # the workers take it from here
        self.root.mkdir(parents=True, exist_ok=True)
        self.check_same_settings()
        self.say_problem_type(left_out)
        cells = plan(self.settings, self._training[0].num_rows)
        done = [c for c in cells if self.cell_file(c).is_file()]
        console.print(f"[bold]compare[/] {self.settings.task} on {self.settings.model}: {len(cells)} runs "
                      f"({', '.join(self.settings.strategies)}; sizes {', '.join(str(s) for s in sorted({c.size for c in cells}))}; "
                      f"{self.settings.seeds} seed(s))" + (f", {len(done)} already done" if done else ""))
        results = []
        for number, cell in enumerate(cells, 1):
            path = self.cell_file(cell)
            if path.is_file():
                results.append(json.loads(path.read_text()))
                continue
            console.print(f"[bold][{number}/{len(cells)}][/] {cell.strategy}, {cell.size} labelled examples, seed {cell.seed}")
            self.subsample(cell.size, cell.seed)  # written here, once, before any worker reads it
            # Each run in its own process: its peak memory is its own, and a crash loses only that run.
            returncode, interrupted = run_worker([*worker, json.dumps(self.settings_dict()), json.dumps(asdict(cell))])
            if interrupted:
                error = UserError(f"stopped by {interrupted}; the finished runs are kept in {self.root}: run the same "
                                  "command again to continue")
                error.exit_code = 128 + getattr(signal, interrupted)
                raise error
            if returncode != 0 or not path.is_file():
                error = UserError(f"the {cell.strategy} run on {cell.size} examples (seed {cell.seed}) stopped (exit status "
                                  f"{returncode}; its message is above); finished runs are kept in {self.root}: "
                                  "run the same command again to continue")
                error.exit_code = returncode if returncode > 0 else 1
                raise error
            results.append(json.loads(path.read_text()))
        return self.write_report(results)

    def settings_dict(self) -> dict:
        return {**asdict(self.settings), "output_dir": str(self.settings.output_dir)}

    def finish_cell(self, cell: Cell) -> None:
        """Run one cell and write its result file (in a worker process)."""
        result = self.run_cell(cell)
        path = self.cell_file(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps(result, indent=2) + "\n")

    def run_cell(self, cell: Cell) -> dict:
        from ftcli.memory import peak_memory_mb, reset_peak_memory

        import torch

        reset_peak_memory()
        start = time.perf_counter()
        if cell.strategy == IN_CONTEXT:
            metrics, trainable, shots = self._prompt(cell), 0, min(cell.size, MAX_SHOTS)
            memory = peak_memory_mb(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        else:
            metrics, shots = self._train(cell), None
            trainable, memory = metrics["trainable_parameters"], metrics["peak_memory_mb"]
        metric = self.metric
        if metric not in metrics:
            raise UserError(f"{cell.strategy} gave no {metric} (it gave {', '.join(metrics)})")
        model = self.prompt_model() if cell.strategy == IN_CONTEXT else self.settings.model
        return {"strategy": cell.strategy, "size": cell.size, "seed": cell.seed, "shots": shots, "metric": metric,
                "model": model,
                "value": metrics[metric], "metrics": metrics, "trainable_parameters": trainable,
                "seconds": round(time.perf_counter() - start, 2), "peak_memory_mb": round(memory, 1)}

    def _prompt(self, cell: Cell) -> dict:
        from ftcli.config import build_config
        from ftcli.prompting.runner import run_prompt

        shots = min(cell.size, MAX_SHOTS)
        config = build_config(recipe=self.recipes[IN_CONTEXT], sets=self.settings.sets,
                              flags={"model.name": self.prompt_model(), "train.seed": cell.seed})
        config.data.columns.update(self.settings.columns)
        demos = str(self.subsample(cell.size, cell.seed)) if shots else None
        return run_prompt(config, self.eval_source, demos, shots, self.settings.limit_eval,
                          config.train.eval_batch_size).metrics

    def _train(self, cell: Cell) -> dict:
        from ftcli.config import build_config
        from ftcli.rundir import RunDirectory, is_run_directory
        from ftcli.runner import run

        recipe = self.recipes[cell.strategy]
        train_settings = recipe.get("train", {})
        batch, epochs = schedule(cell.size, train_settings.get("batch_size", 32), train_settings.get("epochs", 3),
                                 cell.strategy)
        out = self.root / "runs" / cell.name
        if is_run_directory(out) and (out / "metrics.json").is_file():  # finished before the cell file was written
            return json.loads((out / "metrics.json").read_text())
        config = build_config(recipe=recipe, sets=self.settings.sets, flags={
            "model.name": self.settings.model, "data.train": str(self.subsample(cell.size, cell.seed)),
            "data.eval": self.eval_source, "data.limit_eval": self.settings.limit_eval, "train.seed": cell.seed,
            "train.batch_size": batch, "train.epochs": epochs, "model.max_length": self.settings.max_length,
            "output_dir": str(out)})
        config.data.columns.update(self.settings.columns)
        if self.problem_type is not None:
            config.options.problem_type = self.problem_type
        config.train.save_every = 0
        staging = RunDirectory(out).staging
        resume = (staging / "config.yaml").is_file() and (staging / "checkpoints").is_dir()
        return run(config, overwrite=not resume, resume=resume).metrics

    # -- report ----------------------------------------------------------------------------

    def write_report(self, results: list[dict]) -> dict:
        from ftcli.plots import learning_curve

        summary = summarize(results)
        title = f"{self.settings.task} on {self.settings.model}: {self.metric} on {self.eval_source}" + (
            f" (first {self.settings.limit_eval} rows)" if self.settings.limit_eval else "")
        train, train_labels = self._training
        reference = baselines(self.metric, train_labels, self._labels(self._splits.eval))
        report = {"task": self.settings.task, "model": self.settings.model, "train": self.settings.train,
                  "eval": self.eval_source, "limit_eval": self.settings.limit_eval, "metric": self.metric,
                  "baselines": reference, "summary": summary, "cells": results}
        write_text_atomically(self.root / "compare.json", json.dumps(report, indent=2) + "\n")
        write_text_atomically(self.root / "compare.md", markdown_table(summary, title, reference))
        learning_curve(summary, self.root / "compare.png", title, reference, total=train.num_rows)
        return report


def run_worker(command: list[str]) -> tuple[int, str | None]:
    """Run a worker process to its end. Ctrl-C or SIGTERM reach the worker too (it checkpoints and
    stops); here they are only noted, so this process waits for the worker instead of killing it.
    Returns the exit status and the signal's name, if one came."""
    received: list[str] = []

    def note(signum, frame):
        received.append(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = subprocess.Popen(command)
        while True:
            try:
                returncode = worker.wait()
                break
            except InterruptedError:  # pragma: no cover (wait retries by itself since PEP 475)
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return returncode, received[0] if received else None
