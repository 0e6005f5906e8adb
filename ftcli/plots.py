"""PNG plots: a run's losses (`loss.png`) and a comparison's learning curve (`compare.png`).

Each PNG also carries what it draws, as JSON in two text chunks, so a test (or a user) can read it
back from the image file itself:

    ftcli:series   the numbers drawn as lines: {name: [[x, y, ...], ...]}
    ftcli:frame    what frames them: tick positions (and labels), axis limits, and the reference
                   marks (the kept epoch in loss.png; the chance and majority-class lines in compare.png)

`loss_figure` and `curve_figure` build the matplotlib Figure without saving it, for tests to inspect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SERIES_KEY = "ftcli:series"
FRAME_KEY = "ftcli:frame"
BASELINE_STYLES = {"majority class": ("tab:red", (0, (6, 3))), "chance": ("dimgray", (0, (2, 2)))}
"""Colour and dash pattern of each baseline line in compare.png."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path, series: dict[str, Any], frame: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.stem}.tmp.png")
    metadata = {SERIES_KEY: json.dumps(series), FRAME_KEY: json.dumps(frame)}
    figure.savefig(partial, dpi=110, bbox_inches="tight", metadata=metadata)
    _pyplot().close(figure)
    partial.replace(path)


def read_series(path: Path, key: str = SERIES_KEY) -> dict[str, Any]:
    """What a plot of ftcli's draws (from the PNG's text chunk): the series, or with FRAME_KEY its frame."""
    from PIL import Image

    with Image.open(path) as image:
        return json.loads(image.text[key])


def _below_legend(axis, handles: list, labels: list[str]) -> None:
    """The legend under the axes, in a row or two: it never covers a point."""
    axis.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(labels), 3),
                frameon=False, fontsize=9)


# -- loss.png ------------------------------------------------------------------------------------

def _loss_series(records: list[dict[str, Any]], headline: str | None) -> dict[str, list]:
    """The lines loss.png draws: training loss per logging step (per epoch when no step was logged),
    validation loss and the headline metric per epoch."""
    steps = [[r["step"], r["loss"]] for r in records if "loss" in r and "train_loss" not in r]
    epochs = [[r["step"], r["train_loss"]] for r in records if "train_loss" in r]
    series = {"training_loss": steps or epochs,
              "validation_loss": [[r["step"], r["validation_loss"]] for r in records if "validation_loss" in r]}
    if headline and headline != "loss":  # a run whose headline is its loss (pre-training) has one loss line
        key = f"validation_{headline}"
        series[key] = [[r["step"], r[key]] for r in records if key in r]
    return series


def kept_mark(records: list[dict[str, Any]], kept_epoch: int | None) -> dict[str, int] | None:
    """The epoch whose weights are model/ and the optimizer step it ended at. Without `kept_epoch`, the
    test pass's record names it (the test pass scores the kept weights)."""
    if kept_epoch is None:
        tested = [r for r in records if any(key.startswith("test_") for key in r)]
        kept_epoch = tested[-1].get("epoch") if tested else None
    ends = [r["step"] for r in records if "train_loss" in r and r.get("epoch") == kept_epoch]
    return {"epoch": int(kept_epoch), "step": ends[-1]} if kept_epoch is not None and ends else None


def loss_figure(records: list[dict[str, Any]], headline: str | None, title: str,
                kept_epoch: int | None = None) -> tuple[Any, dict, dict] | None:
    """loss.png's Figure, series and frame; None when there is nothing to draw."""
    from matplotlib.ticker import MaxNLocator

    series = _loss_series(records, headline)
    train, evaluation, metric = series["training_loss"], series["validation_loss"], [*series.values(), []][2]
    if not train and not evaluation:
        return None
    figure, loss_axis = _pyplot().subplots(figsize=(7, 4))
    if train:  # markers while the points are few enough to tell apart (a 3-point run is 3 dots and a line)
        label = "training loss" + ("" if any("loss" in r for r in records) else " (epoch mean)")
        loss_axis.plot(*zip(*train), marker="o" if len(train) < 30 else None, markersize=3 if len(train) > 5 else 5,
                       color="tab:blue", label=label)
    if evaluation:
        loss_axis.plot(*zip(*evaluation), marker="o", markersize=5, color="tab:orange", label="validation loss")
    handles, labels = loss_axis.get_legend_handles_labels()
    if metric:  # a hollow, larger marker on its own axis: it rings a validation-loss point at the same step
        metric_axis = loss_axis.twinx()
        metric_axis.plot(*zip(*metric), marker="D", markersize=7, markerfacecolor="none", linestyle="--",
                         color="tab:green", label=f"validation {headline}")
        metric_axis.set_ylabel(f"validation {headline}")
        metric_axis.margins(y=0.12)
        more_handles, more_labels = metric_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    last = max(point[0] for point in train + evaluation)
    loss_axis.set_xlim(0, last + max(1, round(last * 0.04)))  # from the start of training; the last point inside
    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axis.margins(y=0.12)
    loss_axis.set_xlabel("optimizer step")
    loss_axis.set_ylabel("loss")
    loss_axis.grid(True, alpha=0.3)
    kept = kept_mark(records, kept_epoch)
    if kept:
        handles.append(loss_axis.axvline(kept["step"], color="black", linestyle=":", linewidth=1.2))
        labels.append(f"kept: epoch {kept['epoch']} (model/)")
        # Above the frame, where no point can be: inside, it would cover the best validation point.
        loss_axis.annotate(f"kept: epoch {kept['epoch']}", xy=(kept["step"], 1), xycoords=("data", "axes fraction"),
                           xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=8)
    _below_legend(loss_axis, handles, labels)
    loss_axis.set_title(title, fontsize=10, pad=16)
    left, right = loss_axis.get_xlim()
    frame = {"xticks": [int(t) for t in loss_axis.get_xticks() if left <= t <= right], "xlim": [left, right],
             "kept_epoch": kept and kept["epoch"], "kept_step": kept and kept["step"]}
    return figure, series, frame


def loss_plot(records: list[dict[str, Any]], headline: str | None, path: Path, title: str,
              kept_epoch: int | None = None) -> bool:
    """loss.png from log.jsonl records, the kept epoch marked; False when there is nothing to draw."""
    built = loss_figure(records, headline, title, kept_epoch)
    if built is None:
        return False
    figure, series, frame = built
    _save(figure, path, series, frame)
    return True


# -- compare.png ---------------------------------------------------------------------------------

def size_label(size: int, total: int | None) -> str:
    """A training-size tick: 1,024; the whole training set reads `all (8,530)`."""
    return f"all ({size:,})" if total is not None and size == total and size > 0 else f"{size:,}"


def _y_limits(summary: list[dict[str, Any]], baselines: dict[str, float]) -> tuple[float, float]:
    """Every error bar and baseline inside, with some air: a 4-point gap is not drawn as the whole height
    when a baseline sits 10 points lower. Never below 0 when nothing is."""
    values = [v for row in summary for v in (row["mean"] - row["std"], row["mean"] + row["std"])]
    values += list(baselines.values())
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.01)
    return (max(0.0, low - pad) if low >= 0 else low - pad), high + pad


def _baseline_lines(axis, baselines: dict[str, float]) -> None:
    """A dashed horizontal line per baseline; baselines of one value (a balanced test set's majority class
    and chance) share one line and its label, rather than one line hiding the other."""
    names_at: dict[float, list[str]] = {}
    for name, value in baselines.items():
        names_at.setdefault(round(value, 6), []).append(name)
    for value, names in names_at.items():
        color, dashes = BASELINE_STYLES.get(names[0], ("gray", "--"))
        text = f"1/{round(1 / value)} = {value:.2f}" if "chance" in names and value > 0 else f"{value:.2f}"
        axis.axhline(value, color=color, linestyle=dashes, linewidth=1.2, label=f"{' = '.join(names)} ({text})")


def curve_figure(summary: list[dict[str, Any]], title: str, baselines: dict[str, float] | None = None,
                 total: int | None = None) -> tuple[Any, dict, dict]:
    """compare.png's Figure, series and frame: the metric against labelled examples (symmetric-log x, so
    0 shows), one line per strategy with error bars of one standard deviation over seeds, each strategy
    shifted a few points sideways so bars at one size do not cover each other; a tick at every size;
    `baselines` ({name: score}) as dashed horizontal lines."""
    from matplotlib.ticker import NullLocator
    from matplotlib.transforms import ScaledTranslation

    baselines = baselines or {}
    figure, axis = _pyplot().subplots(figsize=(7, 4.5))
    series: dict[str, list] = {}
    for row in summary:
        series.setdefault(row["strategy"], []).append([row["size"], row["mean"], row["std"]])
    for index, (strategy, points) in enumerate(series.items()):
        sizes, means, stds = zip(*sorted(points))
        shift = ScaledTranslation((index - (len(series) - 1) / 2) * 5 / 72, 0, figure.dpi_scale_trans)
        axis.errorbar(sizes, means, yerr=stds, marker="o", markersize=5, capsize=4, elinewidth=1.2, alpha=0.85,
                      label=strategy, transform=axis.transData + shift)
    strategy_lines = len(axis.get_legend_handles_labels()[0])
    _baseline_lines(axis, baselines)
    axis.set_xscale("symlog", linthresh=1)
    ticks = sorted({row["size"] for row in summary})
    tick_labels = [size_label(size, total) for size in ticks]
    axis.set_xticks(ticks, labels=tick_labels)
    axis.xaxis.set_minor_locator(NullLocator())
    if ticks:  # some room either side of the outer sizes, also when there is only one
        axis.set_xlim(ticks[0] / 1.6 if ticks[0] > 0 else -0.6, ticks[-1] * 1.6 if ticks[-1] > 0 else 0.6)
        axis.set_ylim(*_y_limits(summary, baselines))
    axis.set_xlabel("labelled training examples")
    axis.set_ylabel(summary[0]["metric"] if summary else "metric")
    axis.set_title(title, fontsize=10)
    axis.grid(True, alpha=0.3)
    handles, labels = axis.get_legend_handles_labels()  # the strategies first, then the baselines
    order = [*range(len(handles) - strategy_lines, len(handles)), *range(len(handles) - strategy_lines)]
    axis.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left", bbox_to_anchor=(1.01, 1),
                frameon=False, fontsize=9)
    frame = {"xticks": ticks, "xticklabels": tick_labels, "ylim": list(axis.get_ylim()), "baselines": baselines}
    return figure, series, frame


def learning_curve(summary: list[dict[str, Any]], path: Path, title: str, baselines: dict[str, float] | None = None,
                   total: int | None = None) -> None:
    """compare.png (see `curve_figure`); `total` is the number of training rows, so that size reads `all (N)`."""
    figure, series, frame = curve_figure(summary, title, baselines, total)
    _save(figure, path, series, frame)
