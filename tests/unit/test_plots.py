"""loss.png and compare.png drawn from synthetic records (no training): whole-step ticks, the kept epoch
marked, few points still visible, a tick at every training size, baselines inside the y range, error
bars that do not cover each other, and what the PNG's text chunks hold."""

import pytest

from ftcli.compare.report import baselines, markdown_table
from ftcli.plots import FRAME_KEY, curve_figure, loss_figure, loss_plot, learning_curve, read_series


def run_log(epochs=3, steps_per_epoch=2, kept=None):
    """log.jsonl records: a line per optimizer step, an epoch line with its validation, the test line."""
    records = []
    for epoch in range(1, epochs + 1):
        for step in range((epoch - 1) * steps_per_epoch + 1, epoch * steps_per_epoch + 1):
            records.append({"step": step, "epoch": step / steps_per_epoch, "loss": 1.0 / step})
        records.append({"step": epoch * steps_per_epoch, "epoch": epoch, "train_loss": 1.0 / epoch,
                        "validation_loss": 0.9 / epoch, "validation_accuracy": 0.5 + 0.1 * epoch})
    if kept is not None:
        records.append({"step": epochs * steps_per_epoch, "epoch": kept, "test_accuracy": 0.6})
    return records


def close(figure):
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_loss_plot_ticks_are_whole_steps_however_few():
    figure, _, frame = loss_figure([{"step": 2, "epoch": 1, "train_loss": 0.7}], "accuracy", "t")
    axis = figure.axes[0]
    left, right = axis.get_xlim()
    ticks = [t for t in axis.get_xticks() if left <= t <= right]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no 0.5 steps
    assert frame["xticks"] == [int(t) for t in ticks]
    assert left <= 0 and right > 2  # the point is inside the frame, not on its edge
    close(figure)


def test_few_points_are_drawn_as_markers_and_a_line():
    figure, series, _ = loss_figure(run_log(epochs=1, steps_per_epoch=3), "accuracy", "t")
    assert len(series["training_loss"]) == 3
    training = next(line for line in figure.axes[0].lines if line.get_label() == "training loss")
    assert training.get_marker() not in (None, "None", "") and len(training.get_xdata()) == 3
    assert training.get_linestyle() != "None"
    close(figure)


@pytest.mark.parametrize("given, from_log", [(2, None), (None, 2), (1, 3)])
def test_the_kept_epoch_is_marked_at_its_last_step(given, from_log):
    figure, _, frame = loss_figure(run_log(kept=from_log), "accuracy", "t", kept_epoch=given)
    kept = given if given is not None else from_log
    assert frame["kept_epoch"] == kept and frame["kept_step"] == kept * 2  # epoch N ends at step 2N
    marks = [line for line in figure.axes[0].lines if list(line.get_xdata()) == [kept * 2, kept * 2]]
    assert len(marks) == 1  # the vertical line
    assert any(text.get_text() == f"kept: epoch {kept}" for text in figure.axes[0].texts)
    close(figure)


def test_no_kept_mark_when_the_kept_epoch_is_unknown():
    figure, _, frame = loss_figure(run_log(), "accuracy", "t")
    assert frame["kept_epoch"] is None and not figure.axes[0].texts
    close(figure)


def test_validation_markers_differ_so_one_does_not_hide_the_other():
    figure, _, _ = loss_figure(run_log(kept=2), "accuracy", "t")
    loss_line = next(line for line in figure.axes[0].lines if line.get_label() == "validation loss")
    metric_line = next(line for line in figure.axes[1].lines if line.get_label() == "validation accuracy")
    assert loss_line.get_marker() != metric_line.get_marker()
    assert metric_line.get_markerfacecolor() == "none" and metric_line.get_markersize() > loss_line.get_markersize()
    close(figure)


def test_loss_png_carries_its_series_and_frame(tmp_path):
    records = run_log(kept=2)
    assert loss_plot(records, "accuracy", tmp_path / "loss.png", "t", kept_epoch=2)
    series = read_series(tmp_path / "loss.png")
    assert series["training_loss"] == [[r["step"], r["loss"]] for r in records if "loss" in r]
    assert series["validation_accuracy"] == [[2, 0.6], [4, 0.7], [6, pytest.approx(0.8)]]
    frame = read_series(tmp_path / "loss.png", FRAME_KEY)
    assert (frame["kept_epoch"], frame["kept_step"]) == (2, 4)
    assert not loss_plot([], "accuracy", tmp_path / "empty.png", "t") and not (tmp_path / "empty.png").exists()


def summary_rows(sizes, strategies=("lora", "full"), means=(0.57, 0.61), std=0.01):
    return [{"strategy": strategy, "size": size, "seeds": 3, "metric": "accuracy", "mean": mean, "std": std,
             "shots": None, "trainable_parameters": 10, "seconds": 1.0, "peak_memory_mb": 1.0}
            for size in sizes for strategy, mean in zip(strategies, means)]


def test_one_training_size_still_has_its_tick_label():
    figure, _, frame = curve_figure(summary_rows([100]), "t")
    axis = figure.axes[0]
    figure.canvas.draw()
    assert list(axis.get_xticks()) == [100] and [t.get_text() for t in axis.get_xticklabels()] == ["100"]
    left, right = axis.get_xlim()
    assert left < 100 < right and frame["xticklabels"] == ["100"]
    close(figure)


def test_every_size_has_a_tick_and_the_whole_training_set_reads_all():
    figure, _, frame = curve_figure(summary_rows([0, 16, 1024, 8530]), "t", total=8530)
    figure.canvas.draw()
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == frame["xticklabels"] == ["0", "16", "1,024", "all (8,530)"]
    close(figure)


def test_the_y_range_holds_the_baselines_and_some_air():
    reference = {"majority class": 0.53, "chance": 0.5}
    figure, _, frame = curve_figure(summary_rows([100]), "t", reference)
    low, high = figure.axes[0].get_ylim()
    assert low < 0.5 and high > 0.61 + 0.01  # the chance line and the top error bar inside, with air
    assert frame["ylim"] == [low, high] and frame["baselines"] == reference
    lines = [line for line in figure.axes[0].lines if line.get_label().startswith(("majority", "chance"))]
    assert sorted(line.get_ydata()[0] for line in lines) == [0.5, 0.53]
    assert {line.get_label() for line in lines} == {"majority class (0.53)", "chance (1/2 = 0.50)"}
    close(figure)


def test_equal_baselines_share_one_line():
    figure, _, _ = curve_figure(summary_rows([100]), "t", {"majority class": 0.5, "chance": 0.5})
    labels = [line.get_label() for line in figure.axes[0].lines if not line.get_label().startswith("_")]
    assert labels == ["majority class = chance (1/2 = 0.50)"]
    close(figure)


def test_error_bars_of_one_size_are_drawn_apart():
    figure, _, _ = curve_figure(summary_rows([100], strategies=("a", "b", "c"), means=(0.6, 0.6, 0.6)), "t")
    figure.canvas.draw()
    axis = figure.axes[0]
    xs = [container.lines[0].get_transform().transform((100, 0.6))[0] for container in axis.containers]
    assert len(xs) == 3 and min(b - a for a, b in zip(sorted(xs), sorted(xs)[1:])) > 3  # pixels apart
    close(figure)


def test_compare_png_keeps_the_strategy_series_and_frames_the_baselines(tmp_path):
    rows = summary_rows([16, 64])
    learning_curve(rows, tmp_path / "compare.png", "t", {"majority class": 0.53, "chance": 0.5}, total=64)
    series = read_series(tmp_path / "compare.png")
    assert series == {"lora": [[16, 0.57, 0.01], [64, 0.57, 0.01]], "full": [[16, 0.61, 0.01], [64, 0.61, 0.01]]}
    frame = read_series(tmp_path / "compare.png", FRAME_KEY)
    assert frame["baselines"] == {"majority class": 0.53, "chance": 0.5}
    assert frame["xticklabels"] == ["16", "all (64)"]


def test_baselines_are_measured_on_the_test_rows_for_accuracy_only():
    train = ["pos", "neg", "neu"] * 10
    test = ["pos"] * 6 + ["neg"] * 3 + ["neu"]
    assert baselines("accuracy", train, test) == {"majority class": 0.6, "chance": pytest.approx(1 / 3)}
    assert baselines("accuracy", [1.0, 0.0], [1, 1, 0, 1]) == {"majority class": 0.75, "chance": 0.5}
    assert baselines("f1", train, test) == {}  # no honest single line for F1
    assert baselines("accuracy", [None] * 3, [None] * 2) == {}  # unlabelled
    table = markdown_table(summary_rows([16]), "t", {"majority class": 0.6, "chance": 0.5})
    assert table.endswith("Baselines on the same test rows: majority class 0.6000, chance 0.5000.\n")
    assert "Baselines" not in markdown_table(summary_rows([16]), "t")
