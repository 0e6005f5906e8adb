"""A search's result: the trials (trials.json, trials.md), their plot (trials.png), and the best settings' test
scores beside the recipe's (with --baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftcli.paths import write_text_atomically

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "stopped", "WAITING": "waiting"}


def finished(study, complete_only: bool = False) -> int:
    """Trials that count towards --trials: complete and pruned ones (a failed trial does not count)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE,) if complete_only else (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def trial_rows(study) -> list[dict[str, Any]]:
    """One row per trial: its number, state, values, score (a pruned trial's: its last epoch's), seconds and
    [epoch, score] of each epoch it was validated at."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        epochs = [[int(step), value] for step, value in sorted(trial.intermediate_values.items())]
        state = STATES.get(trial.state.name, trial.state.name.lower())
        value = trial.value if state == "complete" else (epochs[-1][1] if epochs and state == "pruned" else None)
        rows.append({"number": trial.number, "state": state, "value": value, "params": dict(trial.params),
                     "seconds": trial.user_attrs.get("seconds"), "epochs": epochs})
    return rows


def best_so_far(rows: list[dict[str, Any]], greater: bool) -> list[list[float]]:
    """[trial number, best complete score up to it] at each complete trial."""
    points, best = [], None
    for row in rows:
        if row["state"] != "complete":
            continue
        value = row["value"]
        best = value if best is None or (value > best if greater else value < best) else best
        points.append([row["number"], best])
    return points


def write_report(tuner, study, splits: dict[str, Any], results: dict[str, Any] | None) -> dict[str, Any]:
    """trials.json, trials.md and trials.png; with `results`, the best run's (and baseline's) test scores too."""
    metric, greater = tuner.objective
    rows = trial_rows(study)
    config = tuner.base
    report = {"task": config.task, "strategy": config.strategy, "model": config.model.name, "metric": metric,
              "greater_is_better": greater, "trials_asked": tuner.settings.trials, "splits": splits,
              "space": [dim.text for dim in tuner.space], "trials": rows}
    if results:
        best = study.best_trial
        report["best"] = {"trial": best.number, "params": best.params, "validation": best.value,
                          "test": _scores(results["best"]["metrics"], metric), "run": str(tuner.root / "best"),
                          "config": str(tuner.root / "best.yaml")}
        if "baseline" in results:
            report["baseline"] = {"test": _scores(results["baseline"]["metrics"], metric),
                                  "validation": results["baseline"]["metrics"].get(f"validation_{metric}"),
                                  "run": str(tuner.root / "baseline")}
    root = tuner.root
    write_text_atomically(root / "trials.json", json.dumps(report, indent=1) + "\n")
    write_text_atomically(root / "trials.md", markdown(report))
    title = f"{config.task} / {config.strategy} on {Path(config.model.name.rstrip('/')).name}: validation {metric}"
    trials_plot(rows, greater, root / "trials.png", title, metric)
    return report


def _scores(metrics: dict[str, Any], metric: str) -> dict[str, Any]:
    """The test scores of a final run (flat names, as metrics.json has them; validation_* and run statistics
    apart), the headline first."""
    skip = ("validation_", "train_", "eval_", "kept_", "selected_", "stopped_", "trainable_", "total_", "peak_",
            "mixed_", "num_", "global_", "feature_", "head", "skipped_")
    scores = {k: v for k, v in metrics.items() if not k.startswith(skip) and isinstance(v, (int, float))}
    return {metric: scores.pop(metric, None), **scores}


def markdown(report: dict[str, Any]) -> str:
    metric, keys = report["metric"], [text.split("=")[0] for text in report["space"]]
    splits = report["splits"]
    lines = [f"# ftcli tune: {report['task']} / {report['strategy']} on {report['model']}", "",
             f"Each trial is scored by validation {metric} ({'higher' if report['greater_is_better'] else 'lower'} is "
             f"better) on {splits['validation_rows']} rows ({splits['validation_source']}); the test split "
             f"({splits['test_source']}, {splits['test_rows']} rows) is scored only by the best settings.", "",
             f"| trial | state | validation {metric} | seconds | " + " | ".join(keys) + " |",
             "|---:|---|---:|---:|" + "---:|" * len(keys)]
    best = report.get("best", {}).get("trial")
    for row in report["trials"]:
        value = "" if row["value"] is None else f"{row['value']:.4f}" + (
            f" (epoch {row['epochs'][-1][0]})" if row["state"] == "pruned" else "")
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        name = f"**{row['number']}**" if row["number"] == best else str(row["number"])
        lines.append(f"| {name} | {row['state']} | {value} | {seconds} | "
                     + " | ".join(_cell(row["params"].get(key)) for key in keys) + " |")
    if "best" in report:
        chosen = report["best"]
        lines += ["", f"Best: trial {chosen['trial']}, validation {metric} {_score(chosen['validation'])}; "
                  f"test {metric} {_score(chosen['test'][metric])} (`{chosen['config']}`, run in `{chosen['run']}`)."]
        if "baseline" in report:
            lines.append(f"The recipe's settings: validation {metric} {_score(report['baseline']['validation'])}, "
                         f"test {metric} {_score(report['baseline']['test'][metric])}.")
    return "\n".join(lines) + "\n"


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trials_plot(rows: list[dict[str, Any]], greater: bool, path: Path, title: str, metric: str) -> None:
    """trials.png: each trial's validation score (complete: dots; pruned: crosses at their last epoch's score)
    and the best complete score so far as a step line; the series are kept in the PNG (`ftcli.plots.read_series`)."""
    from matplotlib.ticker import MaxNLocator

    from ftcli.plots import _pyplot, _save

    series = {"complete": [[r["number"], r["value"]] for r in rows if r["state"] == "complete"],
              "pruned": [[r["number"], r["value"]] for r in rows if r["state"] == "pruned" and r["value"] is not None],
              "best so far": best_so_far(rows, greater)}
    figure, axis = _pyplot().subplots(figsize=(7, 4))
    if series["complete"]:
        axis.plot(*zip(*series["complete"]), "o", color="tab:blue", markersize=6, label="complete", zorder=3)
    if series["pruned"]:
        axis.plot(*zip(*series["pruned"]), "x", color="gray", markersize=7, label="pruned (last epoch's score)",
                  zorder=3)
    best = series["best so far"]
    if best:
        last = max(r["number"] for r in rows)
        xs, ys = zip(*best, (last, best[-1][1]))
        axis.step(xs, ys, where="post", color="tab:orange", linewidth=1.5, label="best so far")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.margins(x=0.05, y=0.12)
    axis.set_xlabel("trial")
    axis.set_ylabel(f"validation {metric}")
    axis.set_title(title, fontsize=10)
    axis.grid(True, alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False, fontsize=9)
    _save(figure, path, series, {"trials": len(rows), "greater_is_better": greater})
