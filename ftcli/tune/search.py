"""A search: the settings, the data it is scored on, the Optuna study, the trials, and the best settings' run.

    OUT/settings.json           what the trials' results depend on (a re-run with other values is refused)
    OUT/optuna.db               the Optuna study (SQLite): every trial's values, state and epoch scores
    OUT/data/train.jsonl        the rows every trial trains on
    OUT/data/validation.jsonl   the rows every trial is scored on (and pruned by), never the test rows
    OUT/trials/NNN/             one trial: config.yaml (its whole config), log.jsonl, metrics.json
    OUT/runs/trial-NNN/         the trial's run while it trains (removed once it is recorded)
    OUT/trials.json  trials.md  trials.png  best.yaml  best/  best.json  (baseline/ with --baseline)
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftcli.errors import UserError
from ftcli.ownership import keep_settings_record
from ftcli.paths import write_text_atomically
from ftcli.progress import console
from ftcli.tune.space import Dimension, apply_params, from_recipe, resolve_space

DEFAULT_VALIDATION_FRACTION = 0.1
PRUNER_STARTUP_TRIALS = 3
"""Trials that run to the end before the pruner compares any epoch with theirs."""


@dataclass
class TuneSettings:
    task: str
    output_dir: Path
    model: str | None = None
    strategy: str | None = None
    recipe: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    max_length: int | None = None
    sets: list[str] = field(default_factory=list)
    space: list[str] = field(default_factory=list)
    trials: int = 20
    seed: int | None = None
    mixed_precision: str | None = None
    baseline: bool = False


class Tuner:
    """Built from the settings with light imports only (a bad --space fails before torch loads); `run` searches."""

    def __init__(self, settings: TuneSettings):
        from ftcli.config import TUNE_SECTION, build_config, check_ranges, load_recipe
        from ftcli.recipe_store import recipe_path

        if settings.trials < 1:
            raise UserError(f"--trials must be at least 1, got {settings.trials}")
        self.settings, self.root = settings, Path(settings.output_dir).expanduser()
        recipe_file = Path(settings.recipe) if settings.recipe else recipe_path(
            f"{settings.task}/{settings.strategy or 'full'}")
        self.recipe = load_recipe(recipe_file)
        tune_section = self.recipe.pop(TUNE_SECTION, None)
        self.base = build_config(recipe=self.recipe, sets=settings.sets, flags={
            "task": settings.task, "strategy": settings.strategy, "model.name": settings.model,
            "data.train": settings.train, "data.validation": settings.validation, "data.eval": settings.test,
            "data.limit_train": settings.limit_train, "data.limit_eval": settings.limit_test,
            "model.max_length": settings.max_length, "train.seed": settings.seed,
            "train.mixed_precision": settings.mixed_precision, "output_dir": None})
        data = self.base.data
        self.held_out_note = None
        if data.validation is None and not data.validation_fraction:
            data.validation_fraction = DEFAULT_VALIDATION_FRACTION
            self.held_out_note = (f"validation: {DEFAULT_VALIDATION_FRACTION:.0%} of the training rows, held out "
                                  "(--validation DATA or --set data.validation_fraction=F choose others)")
        check_ranges(self.base)
        self.space: list[Dimension] = resolve_space(settings.space, from_recipe(tune_section, str(recipe_file)),
                                                    self.base)

    # -- what the trials are scored on -----------------------------------------------------------

    @functools.cached_property
    def task(self):
        from ftcli.strategies import get_strategy
        from ftcli.tasks import get_task

        task = get_task(self.base.task, self.base.options)
        get_strategy(self.base.strategy).check_task(task)
        return task

    @functools.cached_property
    def objective(self) -> tuple[str, bool]:
        """(metric, greater is better): `train.select_metric`, else the task's own for the problem type."""
        from ftcli.metrics.selection import selection_for

        self.resolve_problem_type()
        chosen = selection_for(self.task, self.base.train.select_metric)
        return chosen.metric, chosen.greater_is_better

    def resolve_problem_type(self) -> None:
        """Classification's problem type, read from the training rows as every trial will read it (or
        `options.problem_type`): label sets are scored by f1_micro, numbers by pearson, not accuracy."""
        resolve = getattr(self.task, "resolve_problem_type", None)
        if resolve is None or self.task.problem_type != "auto":
            return
        from ftcli.data.columns import resolve_columns
        from ftcli.data.sources import load_splits

        d = self.base.data
        train = load_splits(d.train, d.eval, d.eval_fraction, self.base.train.seed, d.limit_train, d.limit_eval,
                            d.validation, d.validation_fraction).train
        column = resolve_columns(self.task.fields, d.columns, self.task.name)["label"]
        if column in train.column_names:  # a missing column is the first trial's one-line error
            resolve(train[column])

    def write_data(self) -> dict[str, Any]:
        """The training and validation rows, split once as `ftcli finetune` splits them (so best.yaml trains on the
        same rows) and written for the trials; their sizes and where the test rows come from."""
        from ftcli.data.sources import load_splits

        folder = self.root / "data"
        record = folder / "splits.json"
        if record.is_file():
            return json.loads(record.read_text())
        d = self.base.data
        splits = load_splits(d.train, d.eval, d.eval_fraction, self.base.train.seed, d.limit_train, d.limit_eval,
                             d.validation, d.validation_fraction)
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in (("train", splits.train), ("validation", splits.validation)):
            partial = folder / f".{name}.jsonl.tmp"
            rows.to_json(str(partial), lines=True, force_ascii=False)
            partial.replace(folder / f"{name}.jsonl")
        info = {"train_rows": splits.train.num_rows, "validation_rows": splits.validation.num_rows,
                "validation_source": splits.validation_source, "test_source": splits.eval_source,
                "test_rows": splits.eval.num_rows}
        write_text_atomically(record, json.dumps(info, indent=1) + "\n")
        return info

    # -- configs ---------------------------------------------------------------------------------

    def trial_config(self, params: dict[str, Any]):
        """A trial's whole config: the recipe and flags, the trial's values, the written rows; its test pass
        scores the validation rows again (a run always has one), so the test rows are never read."""
        config = copy.deepcopy(self.base)
        apply_params(config, params)
        folder = self.root / "data"
        config.data.train = str(folder / "train.jsonl")
        config.data.validation = config.data.eval = str(folder / "validation.jsonl")
        config.data.limit_train = config.data.limit_eval = None
        config.data.validation_fraction = 0.0
        config.train.save_every = 0  # checkpoints at epoch ends only: a stopped search continues its trial
        return config

    def final_config(self, params: dict[str, Any]):
        """The run of chosen settings on the command's own data (best.yaml): the same training and validation
        rows as the trials, and the test split, scored once."""
        from ftcli.resume import absolute_if_local

        config = copy.deepcopy(self.base)
        apply_params(config, params)
        config.model.name = absolute_if_local(config.model.name)
        for key in ("train", "validation", "eval"):
            setattr(config.data, key, absolute_if_local(getattr(config.data, key)))
        return config

    def result_settings(self) -> dict[str, Any]:
        """Everything that changes a trial's result; --trials and --baseline do not."""
        from ftcli.ownership import fingerprint

        config = self.base.to_dict()
        for key in ("train", "validation", "eval"):
            if config["data"][key] is not None:
                config["data"][key] = fingerprint(config["data"][key])
        return {"config": config, "space": [dim.text for dim in self.space], "objective": list(self.objective)}

    def check_folder(self) -> None:
        """A folder holds one search: its settings are recorded first, into an empty folder, and compared after."""
        keep_settings_record(self.root, self.result_settings(), "tune", "a search",
                             ": run the same command to continue it, or choose another --output-dir", hidden_prefix="config.")

    # -- the search ------------------------------------------------------------------------------

    def study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        metric, greater = self.objective
        study = optuna.create_study(storage=f"sqlite:///{self.root / 'optuna.db'}", study_name="ftcli-tune",
                                    direction="maximize" if greater else "minimize", load_if_exists=True,
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS))
        # Seeded, and by the trials already there, so a continued search does not redraw the first ones.
        startup = max(1, min(10, self.settings.trials // 2))
        study.sampler = optuna.samplers.TPESampler(seed=self.base.train.seed + len(study.trials),
                                                   n_startup_trials=startup)
        return study

    def run(self, worker: list[str]) -> dict[str, Any]:
        """The search, then the best settings' run (and the recipe's, with --baseline); `worker` is the command
        that trains one config: it is given the config file and the run's folder."""
        from ftcli.rundir import RunLock
        from ftcli.tune.report import finished, write_report

        self.check_folder()
        lock = RunLock(self.root)
        lock.acquire(self.root)
        try:
            splits = self.write_data()
            self._announce(splits)
            study = self.study()
            self._search(study, worker)
            write_report(self, study, splits, None)
            if not finished(study, complete_only=True):
                raise UserError(f"no trial finished (all {len(study.trials)} were pruned or failed): see "
                                f"{self.root / 'trials.md'}")
            results = self._final_runs(study, worker)
            if (self.root / "runs").is_dir() and not any((self.root / "runs").iterdir()):
                (self.root / "runs").rmdir()
            return write_report(self, study, splits, results)
        finally:
            lock.release()

    def _announce(self, splits: dict[str, Any]) -> None:
        metric, greater = self.objective
        if hasattr(self.task, "say_notes"):
            self.task.say_notes()  # the problem type, and why
        if self.held_out_note:
            console.print(self.held_out_note, soft_wrap=True, highlight=False)
        console.print(f"[bold]tune[/] {self.base.task} / {self.base.strategy} on {self.base.model.name}: "
                      f"{self.settings.trials} trials, each scored by validation {metric} "
                      f"({'higher' if greater else 'lower'} is better) on {splits['validation_rows']} rows "
                      f"({splits['validation_source']}), trained on {splits['train_rows']}; the test split "
                      f"({splits['test_source']}) is scored once, by the best settings", soft_wrap=True)
        console.print("space: " + "  ".join(dim.text for dim in self.space), soft_wrap=True, highlight=False)

    def _search(self, study, worker: list[str]) -> None:
        from optuna.trial import TrialState

        from ftcli.tune.report import finished

        failures = 0
        for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            console.print(f"Continuing trial {frozen.number} (stopped before it finished).")
            failures = self._trial(study, frozen.number, worker, failures)
        done = finished(study)
        if done:
            console.print(f"{done} trial(s) already done")
        while finished(study) < self.settings.trials:
            trial = study.ask()
            for dim in self.space:
                dim.suggest(trial)
            failures = self._trial(study, trial.number, worker, failures)

    def _trial(self, study, number: int, worker: list[str], failures: int) -> int:
        """Run trial `number` in a worker, pruning it by its epochs' scores; record it. Returns the failures in a row."""
        import optuna
        from optuna.trial import TrialState

        from ftcli.rundir import RunDirectory
        from ftcli.tune.report import finished
        from ftcli.tune.trials import keep_records, read_json, watch

        frozen = study.trials[number]
        trial = optuna.trial.Trial(study, frozen._trial_id)
        record, out = self.root / "trials" / f"{number:03d}", self.root / "runs" / f"trial-{number:03d}"
        if not (record / "config.yaml").is_file():  # written once, before its worker first starts
            record.mkdir(parents=True, exist_ok=True)
            config = self.trial_config(frozen.params).to_dict()
            write_text_atomically(record / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        epochs = int(frozen.params.get("train.epochs", self.base.train.epochs))
        metric, _ = self.objective
        console.print(f"[bold]trial {number}[/] ({finished(study)} of {self.settings.trials} done): "
                      + ", ".join(f"{k} {_shown(v)}" for k, v in frozen.params.items()), highlight=False)

        def on_epoch(epoch: int, value: float) -> bool:
            if epoch not in trial.storage.get_trial(frozen._trial_id).intermediate_values:
                trial.report(value, epoch)
            return epoch < epochs and trial.should_prune()  # the last epoch's pruning would save nothing

        outcome = watch([*worker, str(record / "config.yaml"), str(out)],
                        [RunDirectory(out).staging / "log.jsonl", out / "log.jsonl"], f"validation_{metric}", on_epoch)
        seconds = float(frozen.user_attrs.get("seconds", 0.0)) + outcome.seconds
        trial.set_user_attr("seconds", round(seconds, 2))
        if outcome.interrupted:
            error = UserError(f"stopped by {outcome.interrupted}; finished trials are kept in {self.root}, and "
                              f"trial {number} continues from its checkpoint: run the same command again")
            error.exit_code = 128 + getattr(signal, outcome.interrupted)
            raise error
        keep_records(out, record)
        if outcome.pruned:
            console.print(f"trial {number} pruned after epoch {max(outcome.epochs)}: validation {metric} "
                          f"{outcome.epochs[max(outcome.epochs)]:.4f}")
            study.tell(number, state=TrialState.PRUNED)
            return 0
        metrics = read_json(record / "metrics.json")
        if outcome.returncode != 0 or f"validation_{metric}" not in metrics:
            study.tell(number, state=TrialState.FAIL)
            if failures + 1 >= 2:
                raise UserError(f"two trials in a row stopped (the last with exit status {outcome.returncode}; its "
                                f"message is above); finished trials are kept in {self.root}")
            return failures + 1
        study.tell(number, metrics[f"validation_{metric}"])
        return 0

    def _final_runs(self, study, worker: list[str]) -> dict[str, Any]:
        """The best trial's settings (best.yaml) run once on the command's data, its test split scored; the
        recipe's own settings beside it with --baseline. Each is kept while the best trial stays the same."""
        best, metric = study.best_trial, self.objective[0]
        runs = {"best": (best.number, best.params, f"# The best of {len(study.trials)} trials of `ftcli tune` (trial "
                         f"{best.number}: validation {metric} {best.value:.4f}). Run it with\n#\n#   ftcli finetune "
                         f"{self.root / 'best.yaml'}\n")}
        if self.settings.baseline:
            runs["baseline"] = (-1, {}, "# The recipe's own settings, run beside the best (`ftcli tune --baseline`).\n")
        results = {}
        for name, (number, params, header) in runs.items():
            config_file = self.root / f"{name}.yaml"
            text = yaml.safe_dump(self.final_config(params).to_dict(), sort_keys=False)
            write_text_atomically(config_file, header + text)
            results[name] = self._final_run(name, number, config_file, worker)
        return results

    def _final_run(self, name: str, number: int, config_file: Path, worker: list[str]) -> dict[str, Any]:
        from ftcli.ownership import require_replaceable
        from ftcli.rundir import MARKER_FILE
        from ftcli.tune.trials import read_json, watch

        out, record = self.root / name, self.root / f"{name}.json"
        kept = read_json(record)
        if kept.get("trial") == number and (out / "metrics.json").is_file():
            return kept
        if out.exists():  # the run of another best trial: replaced (it is ftcli's, unchanged)
            require_replaceable(out, MARKER_FILE, "a run")
            shutil.rmtree(out)
        console.print(f"[bold]{name}[/]: training on the training rows, then scoring the test split once")
        outcome = watch([*worker, str(config_file), str(out)], [], "", lambda epoch, value: False)
        if outcome.interrupted:
            error = UserError(f"stopped by {outcome.interrupted}; the trials are kept in {self.root}: run the same "
                              "command again to finish")
            error.exit_code = 128 + getattr(signal, outcome.interrupted)
            raise error
        if outcome.returncode != 0 or not (out / "metrics.json").is_file():
            raise UserError(f"the {name} run stopped (exit status {outcome.returncode}; its message is above)")
        result = {"trial": number, "metrics": json.loads((out / "metrics.json").read_text())}
        write_text_atomically(record, json.dumps(result, indent=1) + "\n")
        return result


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
