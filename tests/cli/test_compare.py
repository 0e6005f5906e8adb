"""`ftcli compare` on a tiny model: 2 strategies x 2 seeds, interrupted after its third run,
then re-run: the finished runs are not recomputed, and the table, JSON and plot agree."""

import json
import os
import subprocess
import sys

import pytest

from ftcli.compare import DEFAULT_STRATEGIES, balanced_indices, plan, CompareSettings, schedule, strategies_for
from ftcli.errors import UserError
from ftcli.plots import read_series
from tests.conftest import sentiment_rows, write_csv, write_jsonl

# Every worker process the comparison starts records its cell as it exits; with FTCLI_TEST_STOP_AFTER=N,
# the N-th worker SIGINTs the comparison (its parent) once its cell is written, as a Ctrl-C would.
SITECUSTOMIZE = '''
import os
if os.environ.get("FTCLI_TEST_CELLS"):
    import atexit, json, signal, sys

    def _record():  # at exit, when sys.argv tells a comparison worker from other processes
        if not (len(sys.argv) == 3 and sys.argv[0].endswith("compare.py")):
            return
        with open(os.environ["FTCLI_TEST_CELLS"], "a") as handle:
            handle.write(sys.argv[2] + "\\n")
        stop_after = int(os.environ.get("FTCLI_TEST_STOP_AFTER", "0"))
        if stop_after and sum(1 for _ in open(os.environ["FTCLI_TEST_CELLS"])) == stop_after:
            os.kill(os.getppid(), signal.SIGINT)

    atexit.register(_record)
'''


def compare(setup, out, **env):
    root, model, train, test = setup
    command = [sys.executable, "-m", "ftcli", "compare", "classification", "--model", str(model), "--train", str(train),
               "--test", str(test), "--strategies", "feature-extraction,full", "--train-sizes", "8", "--seeds", "2",
               "--max-length", "16", "--output-dir", str(out)]
    environment = {**os.environ, "PYTHONPATH": str(root / "site"), "OMP_NUM_THREADS": "1",
                   "FTCLI_TEST_CELLS": str(root / "cells.jsonl"), **env}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("compare")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    train = write_csv(root / "train.csv", sentiment_rows(80))
    test = write_csv(root / "test.csv", sentiment_rows(20, seed=1))
    return root, tiny_bert, train, test


def test_an_interrupted_comparison_resumes_without_recomputing(setup):
    root = setup[0]
    out = root / "out"
    first = compare(setup, out, FTCLI_TEST_STOP_AFTER="3")
    assert first.returncode == 130, first.stderr
    assert "stopped by SIGINT" in first.stderr and "run the same command again" in first.stderr
    done = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert len(done) == 3 and not (out / "compare.json").exists()
    before = {name: (out / "cells" / name).read_text() for name in done}

    second = compare(setup, out)
    assert second.returncode == 0, second.stderr
    assert "3 already done" in second.stderr
    calls = [json.loads(line) for line in (root / "cells.jsonl").read_text().splitlines()]
    names = [f"{c['strategy']}-n{c['size']}-s{c['seed']}.json" for c in calls]
    assert len(names) == 4 and len(set(names)) == 4  # 4 runs in all, none run twice
    assert {name: (out / "cells" / name).read_text() for name in done} == before

    report = json.loads((out / "compare.json").read_text())
    assert len(report["cells"]) == 4 and len(report["summary"]) == 2
    table = (out / "compare.md").read_text()
    for row in report["summary"]:
        values = [c["value"] for c in report["cells"] if (c["strategy"], c["size"]) == (row["strategy"], row["size"])]
        assert row["mean"] == pytest.approx(sum(values) / 2) and row["seeds"] == 2
        assert f"| {row['strategy']} | {row['size']} | {row['mean']:.4f} ± {row['std']:.4f} | 2 |" in table
    # The plot draws those numbers: one line per strategy, a point per size with its error bar.
    series = read_series(out / "compare.png")
    assert set(series) == {"feature-extraction", "full"}
    for strategy, points in series.items():
        expected = [[r["size"], r["mean"], r["std"]] for r in report["summary"] if r["strategy"] == strategy]
        assert [v for point in points for v in point] == pytest.approx([v for point in expected for v in point])
    trained = [c for c in report["cells"] if c["strategy"] == "full"]
    assert all(c["trainable_parameters"] > 0 and c["seconds"] > 0 and c["peak_memory_mb"] > 0 for c in trained)


def test_subsamples_are_class_balanced_and_the_plan_is_fixed_in_advance():
    labels = ["a"] * 90 + ["b"] * 10
    chosen = balanced_indices(labels, 16, seed=1)
    assert len(set(chosen)) == 16 and sum(labels[i] == "b" for i in chosen) == 8
    assert balanced_indices(labels, 16, seed=1) == chosen and balanced_indices(labels, 16, seed=2) != chosen
    assert sum(labels[i] == "b" for i in balanced_indices(labels, 40, seed=1)) == 10  # all of the small class
    settings = CompareSettings(task="classification", model="m", train="t", eval=None, output_dir=".",
                               strategies=["in-context", "full"], sizes=["0", "16", "128", "all"], seeds=2)
    cells = plan(settings, train_rows=500)
    assert {(c.strategy, c.size) for c in cells} == {("in-context", 0), ("in-context", 16), ("full", 16),
                                                     ("full", 128), ("full", 500)}
    assert len(cells) == 9 and [c.seed for c in cells if c.size == 0] == [42]  # zero-shot: nothing drawn
    assert schedule(16, 32, 2) == (4, 25) and schedule(1024, 32, 2) == (32, 4)


def test_in_context_rows_come_from_the_prompt_model(setup, tmp_path):
    """The in-context cells are prompted on --prompt-model (a causal LM), not on --model (an encoder with no
    language-model head), and the table names it."""
    from tests.cli.test_prompt_cli import WORDS
    from tests.unit.test_generation import tiny_causal_lm

    root, model, train, test = setup
    llama = tiny_causal_lm(tmp_path / "llama")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ftcli", "compare", "classification", "--model", str(model), "--prompt-model",
               str(llama), "--train", str(train), "--test", str(test), "--strategies", "in-context,feature-extraction",
               "--train-sizes", "0,8", "--seeds", "1", "--max-length", "16", "--limit-test", "8", *WORDS, "--output-dir", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "compare.json").read_text())
    models = {(c["strategy"], c["model"]) for c in report["cells"]}
    assert models == {("in-context", str(llama)), ("feature-extraction", str(model))}
    assert "| in-context (0-shot, llama) | 0 |" in (out / "compare.md").read_text()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["prompt_model"] == str(llama)


def test_label_sets_and_numbers_keep_the_strategies_that_learn_them():
    assert strategies_for(["in-context", "full"], "single_label_classification") == (["in-context", "full"], [])
    assert strategies_for(list(DEFAULT_STRATEGIES), "regression") == (["lora", "full"],
                                                                       ["in-context", "feature-extraction"])
    with pytest.raises(UserError, match="--strategies contrastive: learns one label per row, and this data is "
                                        "multi_label_classification; choose from prompt-tuning, lora, full"):
        strategies_for(["contrastive", "lora"], "multi_label_classification")
    scores = [float(i % 5) for i in range(100)]  # every number its own "class" would take the smallest first
    drawn = balanced_indices(scores, 20, seed=3, by_label=False)
    assert len(set(drawn)) == 20 and drawn == balanced_indices(scores, 20, seed=3, by_label=False)
    assert len({scores[i] for i in drawn}) > 2


def test_a_regression_comparison_pins_the_problem_type_its_subsamples_would_misread(setup, tmp_path):
    """24 of the 40 scores are fractional: a subsample of 8 rows may hold fewer than half fractions (and read alone
    as class names), so every cell is pinned to the type read from all the training rows, and scored by Pearson."""
    model = setup[1]
    rows = [{"text": row["text"], "label": 3.5 if row["label"] == "positive" else (1.5 if i % 5 == 0 else 1.0)}
            for i, row in enumerate(sentiment_rows(40))]
    train, test = write_jsonl(tmp_path / "train.jsonl", rows), write_jsonl(tmp_path / "test.jsonl", rows[:16])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ftcli", "compare", "classification", "--model", str(model), "--train", str(train),
               "--test", str(test), "--train-sizes", "8", "--seeds", "1", "--max-length", "16", "--output-dir", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    assert "problem type: regression (from the labels:" in said and "left out: in-context, feature-extraction" in said
    report = json.loads((out / "compare.json").read_text())
    assert report["metric"] == "pearson" and {c["strategy"] for c in report["cells"]} == {"lora", "full"}
    assert all(set(c["metrics"]) >= {"pearson", "spearman", "rmse"} for c in report["cells"])
    import yaml

    for run in (out / "runs").iterdir():
        assert yaml.safe_load((run / "config.yaml").read_text())["options"]["problem_type"] == "regression"
    refused = subprocess.run([*command[:-1], str(tmp_path / "refused"), "--strategies", "feature-extraction,full"],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and not (tmp_path / "refused").exists()
    assert "--strategies feature-extraction: learns one label per row, and this data is regression" in refused.stderr


def test_a_worker_takes_the_problem_type_its_parent_decided_without_reading_the_training_rows(tmp_path, monkeypatch):
    from ftcli.compare import Comparison
    import ftcli.data.sources

    train = write_csv(tmp_path / "train.csv", sentiment_rows(20))
    settings = CompareSettings(task="classification", model="minilm", train=str(train), eval=str(train),
                               output_dir=tmp_path / "out", strategies=["full"], problem_type="regression")

    def no_reading(*args, **kwargs):
        raise AssertionError("a worker read the training split again")

    monkeypatch.setattr(ftcli.data.sources, "load_splits", no_reading)
    comparison = Comparison(settings)
    assert comparison.problem_type == "regression" and comparison.metric == "pearson"
    with pytest.raises(AssertionError, match="read the training split"):  # the parent (nothing decided) reads them
        Comparison(CompareSettings(**{**settings.__dict__, "problem_type": None})).problem_type
