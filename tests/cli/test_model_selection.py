"""Honest model selection: the kept epoch is chosen on validation rows only (or is the last epoch
without a validation split), and the test split is scored once, with the kept model. Also the
numerical-fault policy (a NaN loss stops the run, or skips the batch)."""

import json

import pytest
from safetensors.torch import load_file

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import sentiment_rows, write_csv

SETTINGS = ["--epochs", "3", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16",
            "--set", "train.logging_steps=2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("selection")
    train = write_csv(root / "train.csv", sentiment_rows(96))
    validation = write_csv(root / "validation.csv", sentiment_rows(32, seed=2))
    test_rows = sentiment_rows(32, seed=3)
    test = write_csv(root / "test.csv", test_rows)
    flipped = [{**r, "label": "negative" if r["label"] == "positive" else "positive"} for r in test_rows]
    return {"train": train, "validation": validation, "test": test,
            "flipped": write_csv(root / "flipped.csv", flipped)}


def run(cli, model, out, data, test, *extra):
    result = cli("finetune", "classification", "--model", model, "--train", data["train"], "--test", test,
                 "--output-dir", out, *SETTINGS, *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads((out / "metrics.json").read_text())


def log_of(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_best_epoch_is_chosen_on_validation_rows_only(cli, tmp_path, tiny_bert, data, monkeypatch):
    import ftcli.training

    scored = []
    real = ftcli.training.collect_outputs

    def record(model, loader, accelerator, task, description="Evaluating", order=None):
        scored.append(description)
        return real(model, loader, accelerator, task, description, order)

    monkeypatch.setattr(ftcli.training, "collect_outputs", record)
    # Same training and validation rows; the test rows' labels are flipped in the second run.
    first = run(cli, str(tiny_bert), tmp_path / "a", data, data["test"], "--validation", data["validation"])
    assert scored == ["Validating"] * 3 + ["Testing"]  # the test split: one pass, at the end
    second = run(cli, str(tiny_bert), tmp_path / "b", data, data["flipped"], "--validation", data["validation"])

    # Test rows never influence the choice: same kept epoch, validation scores and weights.
    validation_keys = [k for k in first if k.startswith("validation_")]
    assert validation_keys and all(first[k] == second[k] for k in validation_keys)
    assert first["kept_epoch"] == second["kept_epoch"]
    a, b = (load_file(p / "model" / "model.safetensors") for p in (tmp_path / "a", tmp_path / "b"))
    assert all((a[k] == b[k]).all() for k in a)
    assert first["accuracy"] + second["accuracy"] == pytest.approx(1.0)  # the same predictions, labels flipped

    # The kept epoch is the best one by validation accuracy (the first of equals).
    accuracies = [r["validation_accuracy"] for r in log_of(tmp_path / "a") if "validation_accuracy" in r]
    assert first["kept_epoch"] == accuracies.index(max(accuracies)) + 1
    assert first["selected_on"] == "validation accuracy"

    # The saved model is the kept one, and the reported test metric is its score.
    monkeypatch.setattr(ftcli.training, "collect_outputs", real)
    for split, key in (("validation", "validation_accuracy"), ("test", "accuracy")):
        result = cli("evaluate", tmp_path / "a", "--data", data[split], "--output", tmp_path / f"{split}.json")
        assert result.exit_code == 0, result.stderr
        assert json.loads((tmp_path / f"{split}.json").read_text())["accuracy"] == pytest.approx(first[key])


def test_a_validation_fraction_comes_from_the_training_rows(cli, tmp_path, tiny_bert, data):
    metrics = run(cli, str(tiny_bert), tmp_path / "run", data, data["test"], "--set", "data.validation_fraction=0.25")
    assert metrics["train_rows"] == 72 and metrics["validation_rows"] == 24 and metrics["eval_rows"] == 32


def test_without_validation_the_last_epoch_is_kept(cli, tmp_path, tiny_bert, data):
    out = tmp_path / "run"
    metrics = run(cli, str(tiny_bert), out, data, data["test"], "--set", "train.keep_checkpoints=1")
    assert metrics["kept_epoch"] == 3 and metrics["selected_on"] == "last epoch"
    assert not any(k.startswith("validation_") for k in metrics)
    latest = out / "checkpoints" / (out / "checkpoints" / "latest").read_text()
    final, saved = load_file(latest / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    assert all((final[k] == saved[k]).all() for k in saved)


def test_early_stopping_keeps_the_best_epoch(cli, tmp_path, tiny_bert, data, monkeypatch):
    import ftcli.training

    real = ftcli.training._score
    falling = iter([0.9, 0.8, 0.7])

    def score(model, loader, order, eval_set, accelerator, task, description):
        metrics, seconds = real(model, loader, order, eval_set, accelerator, task, description)
        return ({**metrics, "accuracy": next(falling)} if description == "Validating" else metrics), seconds

    monkeypatch.setattr(ftcli.training, "_score", score)
    metrics = run(cli, str(tiny_bert), tmp_path / "run", data, data["test"], "--validation", data["validation"],
                  "--set", "train.early_stopping_patience=1")
    assert metrics["stopped_early"] is True and metrics["kept_epoch"] == 1
    assert [r["epoch"] for r in log_of(tmp_path / "run") if "train_loss" in r] == [1, 2]


def test_early_stopping_needs_a_validation_split(cli, tmp_path, tiny_bert, data):
    result = cli("finetune", "classification", "--model", str(tiny_bert), "--train", data["train"],
                 "--output-dir", tmp_path / "run", *SETTINGS, "--set", "train.early_stopping_patience=2")
    assert_user_error(result, "needs a validation split")


@pytest.fixture
def nan_at_third_step(monkeypatch):
    import ftcli.models.bert as ours

    real = ours.BertForSequenceClassification.forward
    calls = {"n": 0}

    def forward(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if self.training and calls["n"] == 3:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(ours.BertForSequenceClassification, "forward", forward)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(cli, tmp_path, tiny_bert, data, nan_at_third_step):
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", str(tiny_bert), "--train", data["train"],
                 "--test", data["test"], "--output-dir", out, *SETTINGS, "--set", "train.save_every=2")
    # A fault found while training: progress lines came first, then the one error line. Losses are read at
    # logging steps (every 2 here), so the NaN of step 3 is seen at step 4, before step 4's checkpoint.
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0])
    for fragment in ("loss became nan by step 4", "step-00000002", "nan_policy=skip"):
        assert fragment in errors[0]
    assert not out.exists()
    assert (tmp_path / ".run.partial" / "checkpoints" / "latest").read_text() == "step-00000002"


def test_nan_policy_skip_skips_the_batch(cli, tmp_path, tiny_bert, data, nan_at_third_step):
    metrics = run(cli, str(tiny_bert), tmp_path / "run", data, data["test"], "--set", "train.nan_policy=skip")
    assert metrics["skipped_batches"] == 1
    weights = load_file(tmp_path / "run" / "model" / "model.safetensors")
    assert all(v.isfinite().all() for v in weights.values())
