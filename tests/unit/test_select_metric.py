"""`train.select_metric`: the validation metric that keeps an epoch and drives early stopping, with the direction
of every metric ftcli reports; a metric the task does not report is refused before training goes on."""

import json
import math

import pytest

from ftcli.errors import UserError
from ftcli.metrics.selection import Selection, greater_is_better, selection_for
from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import sentiment_rows, write_csv

SETTINGS = ["--epochs", "3", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16",
            "--set", "train.logging_steps=2"]


@pytest.mark.parametrize("name", ["accuracy", "f1", "f1_macro", "f1_micro", "precision", "recall", "exact_match",
                                  "subset_accuracy", "pearson", "spearman", "rougeL", "PER_f1",
                                  "HasAns_exact_match", "masked_accuracy"])
def test_higher_is_better(name):
    assert greater_is_better(name) is True


@pytest.mark.parametrize("name", ["loss", "rmse", "perplexity", "mlm_loss"])
def test_lower_is_better(name):
    assert greater_is_better(name) is False


@pytest.mark.parametrize("name", ["total", "PER_number", "masked_tokens", "replaced_share", "threshold_positive",
                                  "acuracy"])
def test_counts_and_unknown_names_are_no_score(name):
    assert greater_is_better(name) is None


def test_the_default_is_the_task_instance_s_metric():
    from ftcli.tasks import get_task

    task = get_task("ner")
    assert selection_for(task, None) == Selection("f1", True, "ner", False)
    task.best_metric, task.greater_is_better = "loss", False  # read from the instance, as the runner binds it
    assert selection_for(task, None).greater_is_better is False
    generation = get_task("generation")
    assert selection_for(generation, None).greater_is_better is False
    chosen = selection_for(generation, "loss")
    assert (chosen.metric, chosen.greater_is_better, chosen.described) == ("loss", False,
                                                                          "validation loss (lower is better)")


def test_a_name_that_is_no_metric_is_refused_with_a_suggestion():
    from ftcli.tasks import get_task

    with pytest.raises(UserError, match="did you mean 'accuracy'") as error:
        selection_for(get_task("classification"), "acuracy")
    assert "\n" not in str(error.value)


def test_a_metric_the_task_does_not_report_is_refused_naming_what_it_reports():
    from ftcli.tasks import get_task

    with pytest.raises(UserError) as error:
        selection_for(get_task("ner"), "perplexity")
    assert "the ner task reports f1, precision, recall, accuracy, loss" in str(error.value)
    assert selection_for(get_task("ner"), "PER_f1").greater_is_better  # a per-type score: known once validated
    assert selection_for(get_task("qa"), "exact_match").metric == "exact_match"


def test_improved_respects_the_direction_and_nan():
    lower, higher = Selection("loss", False), Selection("accuracy", True)
    assert lower.improved({"loss": 0.2}, {"loss": 0.3}) and not lower.improved({"loss": 0.4}, {"loss": 0.3})
    assert higher.improved({"accuracy": 0.9}, {"accuracy": 0.8}) and not higher.improved({"accuracy": 0.8},
                                                                                         {"accuracy": 0.8})
    assert not lower.improved({"loss": math.nan}, {"loss": 0.3}) and lower.improved({"loss": 0.3}, {"loss": math.nan})


def test_check_reported_names_the_scores_there_are():
    with pytest.raises(UserError) as error:
        Selection("perplexity", False, "classification", True).check_reported(
            {"accuracy": 0.5, "f1": 0.4, "loss": 0.7, "PER_number": 3})
    message = str(error.value)
    assert "train.select_metric=perplexity" in message and "they have accuracy, f1, loss" in message
    assert "PER_number" not in message


# -- end to end: the kept epoch and early stopping follow the setting -------------------------------------------

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("select")
    return {"train": write_csv(root / "train.csv", sentiment_rows(48)),
            "validation": write_csv(root / "validation.csv", sentiment_rows(16, seed=2)),
            "test": write_csv(root / "test.csv", sentiment_rows(16, seed=3))}


@pytest.fixture
def disagreeing(monkeypatch):
    """Validation accuracy best at epoch 2 and loss best (lowest) at epoch 1: the two disagree."""
    import ftcli.training

    real = ftcli.training._score
    scores = iter([(0.5, 0.30), (0.9, 0.60), (0.7, 0.50)])

    def score(model, loader, order, eval_set, accelerator, task, description):
        metrics, seconds = real(model, loader, order, eval_set, accelerator, task, description)
        if description == "Validating":
            accuracy, loss = next(scores)
            metrics = {**metrics, "accuracy": accuracy, "loss": loss}
        return metrics, seconds

    monkeypatch.setattr(ftcli.training, "_score", score)


def finetune(cli, model, out, data, *extra):
    return cli("finetune", "classification", "--model", model, "--train", data["train"], "--validation",
               data["validation"], "--test", data["test"], "--output-dir", out, *SETTINGS, *extra)


def epochs_trained(out):
    return [r["epoch"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "train_loss" in r]


@pytest.mark.parametrize("select, kept", [(None, 2), ("accuracy", 2), ("loss", 1)])
def test_the_kept_epoch_follows_the_selection_metric(cli, tmp_path, tiny_bert, data, disagreeing, select, kept):
    from ftcli.runs import summarize_run

    out = tmp_path / "run"
    result = finetune(cli, str(tiny_bert), out, data, *(["--set", f"train.select_metric={select}"] if select else []))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    metric = select or "accuracy"
    assert metrics["kept_epoch"] == kept and metrics["selected_on"] == f"validation {metric}"
    assert metrics[f"validation_{metric}"] == {"accuracy": 0.9, "loss": 0.3}[metric]
    assert f"epoch {kept}, validation {metric}" in result.stderr + result.stdout
    direction = "lower" if metric == "loss" else "higher"
    assert f"best epoch by validation {metric} ({direction} is better)" in (out / "README.md").read_text()
    assert summarize_run(out).metric == metric


def test_early_stopping_uses_the_selection_metric(cli, tmp_path, tiny_bert, data, disagreeing):
    out = tmp_path / "run"
    result = finetune(cli, str(tiny_bert), out, data, "--set", "train.select_metric=loss",
                      "--set", "train.early_stopping_patience=1")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    # The loss got worse at epoch 2 (accuracy got better): stopped there, epoch 1 kept.
    assert metrics["stopped_early"] is True and metrics["kept_epoch"] == 1 and epochs_trained(out) == [1, 2]
    assert "no better validation loss (lower is better) for 1 epoch(s)" in result.stderr


def test_an_unknown_metric_name_is_refused_before_anything_runs(cli, tmp_path, tiny_bert, data):
    out = tmp_path / "run"
    result = finetune(cli, str(tiny_bert), out, data, "--set", "train.select_metric=acuracy")
    assert_user_error(result, "train.select_metric=acuracy", "did you mean 'accuracy'")
    assert not out.exists() and not list(tmp_path.glob(".*"))


def test_a_metric_the_run_does_not_report_stops_at_the_first_validation(cli, tmp_path, tiny_bert, data, monkeypatch):
    # A task that does not declare its metric names: the first validation tells, and training goes no further.
    from ftcli.tasks.classification import SequenceClassificationTask

    monkeypatch.setattr(SequenceClassificationTask, "metric_names", (), raising=False)
    out = tmp_path / "run"
    result = finetune(cli, str(tiny_bert), out, data, "--set", "train.select_metric=perplexity")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "have no 'perplexity'; they have accuracy, f1, loss" in error[0]
    assert not out.exists()
    logged = [json.loads(line) for line in (tmp_path / ".run.partial" / "log.jsonl").read_text().splitlines()]
    assert logged and max(r["epoch"] for r in logged) <= 1  # the second epoch never started
