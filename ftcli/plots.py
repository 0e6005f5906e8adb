"""PNG plots: a run's losses (`loss.png`) and a comparison's learning curve (`compare.png`).

Each PNG also carries the numbers it draws, as JSON in its `ftcli:series` text chunk, so a test
(or a user) can read the series back from the image file itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SERIES_KEY = "ftcli:series"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path, series: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(partial, dpi=110, bbox_inches="tight", metadata={SERIES_KEY: json.dumps(series)})
    _pyplot().close(figure)
    partial.replace(path)


def read_series(path: Path) -> dict[str, Any]:
    """The numbers a plot of ftcli's draws (from the PNG's text chunk)."""
    from PIL import Image

    with Image.open(path) as image:
        return json.loads(image.text[SERIES_KEY])


def loss_plot(records: list[dict[str, Any]], headline: str | None, path: Path, title: str) -> bool:
    """Training loss per logging step (or per epoch when no step was logged), evaluation loss and the
    headline metric per evaluation, from log.jsonl records. False when there is nothing to draw."""
    steps = [(r["step"], r["loss"]) for r in records if "loss" in r and "train_loss" not in r]
    epochs = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    train = steps or epochs
    evaluation = [(r["step"], r["validation_loss"]) for r in records if "validation_loss" in r]
    metric = [(r["step"], r[f"validation_{headline}"]) for r in records if headline and f"validation_{headline}" in r]
    if not train and not evaluation:
        return False
    plt = _pyplot()
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    if train:
        loss_axis.plot(*zip(*train), marker="." if len(train) < 30 else None, label="training loss")
    if evaluation:
        loss_axis.plot(*zip(*evaluation), marker="o", label="validation loss")
    loss_axis.set_xlabel("optimizer step")
    loss_axis.set_ylabel("loss")
    handles, labels = loss_axis.get_legend_handles_labels()
    if metric:
        metric_axis = loss_axis.twinx()
        metric_axis.plot(*zip(*metric), marker="s", color="tab:green", label=f"validation {headline}")
        metric_axis.set_ylabel(headline)
        more_handles, more_labels = metric_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    loss_axis.legend(handles, labels, loc="best")
    loss_axis.set_title(title)
    series = {"training_loss": train, "validation_loss": evaluation, f"validation_{headline}": metric}
    _save(figure, path, series)
    return True


def learning_curve(summary: list[dict[str, Any]], path: Path, title: str) -> None:
    """The metric against labelled examples (symmetric-log x, so 0 shows), one line per strategy,
    error bars of one standard deviation over seeds."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list] = {}
    for row in summary:
        series.setdefault(row["strategy"], []).append([row["size"], row["mean"], row["std"]])
    for strategy, points in series.items():
        sizes, means, stds = zip(*sorted(points))
        axis.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label=strategy)
    axis.set_xscale("symlog", linthresh=1)
    axis.set_xlabel("labelled training examples")
    axis.set_ylabel(summary[0]["metric"] if summary else "metric")
    axis.set_title(title, fontsize=10)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="best")
    _save(figure, path, series)
