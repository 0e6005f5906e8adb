"""`ftcli finetune / evaluate / predict` end to end on a tiny random BERT and tiny data."""

import json

import pytest
import yaml

from tests.conftest import run_ftcli, sentiment_rows, write_csv

# 6 epochs: at 4, whether the random tiny model has learnt the task depends on the seed (0.5-1.0 accuracy over
# seeds 2, 42 and 1, with or without length-grouped batches); at 6 it reaches 1.0 on each seed tried.
FAST = ["--epochs", "6", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16",
        "--set", "train.logging_steps=2"]


def finetune(cli, model, train, out, *extra):
    return cli("finetune", "classification", "--model", model, "--train", train, "--output-dir", out,
               *FAST, *extra)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_bert, sentiment_csv, sentiment_eval_csv):
    """One real fine-tune shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("runs") / "run"
    run_ftcli("finetune", "classification", "--model", tiny_bert, "--train", sentiment_csv, "--test",
              sentiment_eval_csv, "--output-dir", out, *FAST)
    return out


def test_run_directory_contents(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"model", "config.yaml", "metrics.json", "log.jsonl", "loss.png", "README.md"} <= names
    assert "checkpoints" not in names  # removed once the run finished (train.keep_checkpoints=0)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    for key in ("accuracy", "f1", "train_samples_per_second"):
        assert isinstance(metrics[key], float)
    model_config = json.loads((trained_run / "model" / "config.json").read_text())
    assert model_config["label2id"] == {"negative": 0, "positive": 1}
    assert model_config["id2label"] == {"0": "negative", "1": "positive"}
    assert (trained_run / "model" / "model.safetensors").is_file()
    assert not list((trained_run / "model").glob("*.bin"))
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["optim"]["lr"] == pytest.approx(2e-3) and config["train"]["epochs"] == 6
    # The recipe's mixed_precision auto is stored resolved (the tests pin it to float32).
    assert config["train"]["mixed_precision"] == "no" and metrics["mixed_precision"] == "no"
    log = [json.loads(line) for line in (trained_run / "log.jsonl").read_text().splitlines()]
    # No validation split: a training-loss line per epoch, then one test pass with the last epoch.
    assert any("loss" in r for r in log) and [r["epoch"] for r in log if "train_loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["epoch"] for r in log if "test_accuracy" in r] == [6]
    assert metrics["kept_epoch"] == 6 and metrics["selected_on"] == "last epoch"
    assert (trained_run / ".ftcli-run").is_file() and not (trained_run / ".lock").exists()
    card = (trained_run / "README.md").read_text()
    assert "ftcli finetune classification" in card and "accuracy" in card
    assert not list(trained_run.parent.glob(".*.partial"))


def test_tiny_model_learns_the_task(trained_run):
    # One word decides the label; a working loop gets (near) all of the 60 eval rows right.
    assert json.loads((trained_run / "metrics.json").read_text())["accuracy"] >= 0.9


def test_evaluate_command(cli, trained_run, sentiment_eval_csv, tmp_path):
    result = cli("evaluate", trained_run, "--data", sentiment_eval_csv, "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result.stderr
    written = json.loads((tmp_path / "m.json").read_text())
    stored = json.loads((trained_run / "metrics.json").read_text())
    assert written["accuracy"] == pytest.approx(stored["accuracy"])
    assert written["task"] == "classification" and "f1" in written


def test_predict_command(cli, trained_run, tmp_path):
    result = cli("predict", trained_run, "--input", "the film was good", "--input", "dull acting",
                 "--output", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    predictions = json.loads((tmp_path / "p.json").read_text())
    assert [p["label"] for p in predictions] == ["positive", "negative"]
    assert all(0.5 <= p["score"] <= 1 for p in predictions)


def assert_user_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_run_left(out):
    return not out.exists() and not list(out.parent.glob(f".{out.name}*"))


@pytest.mark.parametrize("case", [
    "missing-file", "extension", "text-column", "label-column", "empty", "unseen-label", "jsonl",
    "model-alias", "model-dir", "set-key", "set-type",
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, cli, tmp_path, tiny_bert, sentiment_csv):
    out = tmp_path / "run"
    model, train, extra, expected = str(tiny_bert), str(sentiment_csv), [], []
    if case == "missing-file":
        train, expected = str(tmp_path / "missing.csv"), ["data file not found"]
    elif case == "extension":
        (tmp_path / "d.xml").write_text("text,label\n")
        train, expected = str(tmp_path / "d.xml"), ["unsupported data file extension '.xml'"]
    elif case == "text-column":
        extra, expected = ["--set", "data.columns.text=review"], ["no 'review' column", "columns: text, label"]
    elif case == "label-column":
        train = str(write_csv(tmp_path / "d.csv", [{"text": "good", "sentiment": "p"}] * 4))
        expected = ["no 'label' column", "columns: text, sentiment"]
    elif case == "empty":
        (tmp_path / "d.csv").write_text("text,label\n")
        train, expected = str(tmp_path / "d.csv"), ["has no rows"]
    elif case == "unseen-label":
        rows = sentiment_rows(6) + [{"text": "the plot", "label": "neutral"}]
        extra = ["--test", str(write_csv(tmp_path / "e.csv", rows))]
        expected = ["never seen in training: 'neutral'"]
    elif case == "jsonl":
        (tmp_path / "d.jsonl").write_text('{"text": "good", "label": "p"}\n{"text": \n')
        train, expected = str(tmp_path / "d.jsonl"), ["line 2 is not valid JSON"]
    elif case == "model-alias":
        model, expected = "no-such-model", ["unknown model 'no-such-model'"]
    elif case == "model-dir":
        (tmp_path / "empty-model").mkdir()
        model, expected = str(tmp_path / "empty-model"), ["has no config.json"]
    elif case == "set-key":
        extra, expected = ["--set", "optim.lrr=1"], ["unknown config key 'optim.lrr'"]
    elif case == "set-type":
        extra, expected = ["--set", "train.epochs=many"], ["train.epochs must be an integer"]
    result = finetune(cli, model, train, out, *extra)
    assert_user_error(result, *expected)
    assert no_run_left(out)


def test_existing_run_is_not_overwritten(cli, trained_run, tiny_bert, sentiment_csv):
    before = (trained_run / "metrics.json").read_text()
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), trained_run)
    assert_user_error(result, "already holds a run", "--overwrite")
    assert (trained_run / "metrics.json").read_text() == before


def test_overwrite_replaces_a_finished_run(cli, tmp_path, tiny_bert, sentiment_csv):
    out = tmp_path / "run"
    assert finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "1").exit_code == 0
    first = json.loads((out / "metrics.json").read_text())
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "1", "--overwrite",
                      "--seed", "7")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["seed"] == 7
    assert json.loads((out / "metrics.json").read_text()) != first
    assert no_run_left(tmp_path / "elsewhere") and not list(tmp_path.glob(".run.*"))


def test_interrupted_run_resumes(cli, tmp_path, tiny_bert, sentiment_csv, monkeypatch):
    import ftcli.training

    out = tmp_path / "run"
    real = ftcli.training.collect_outputs

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    # Interrupted in the final test pass, after both epochs were checkpointed.
    monkeypatch.setattr(ftcli.training, "collect_outputs", interrupt)
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "2")
    assert result.exit_code != 0
    assert not out.exists(), "an unfinished run must not appear as a run directory"
    staging = tmp_path / ".run.partial"
    latest = staging / "checkpoints" / (staging / "checkpoints" / "latest").read_text()
    assert json.loads((latest / "trainer_state.json").read_text())["epoch"] == 2

    assert_user_error(finetune(cli, str(tiny_bert), str(sentiment_csv), out), "--resume")
    monkeypatch.setattr(ftcli.training, "collect_outputs", real)
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--resume")  # FAST says 6 epochs, the run 2
    assert_user_error(result, "train.epochs 6 (the run: 2)")
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "2", "--resume")
    assert result.exit_code == 0, result.stderr
    assert "Resuming from step" in result.stderr
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if "train_loss" in r] == [1, 2]
    assert sum("test_accuracy" in r for r in log) == 1
    assert not staging.exists()


def test_stale_staging_without_a_checkpoint_does_not_block_a_fresh_run(cli, tmp_path, tiny_bert, sentiment_csv):
    from ftcli.rundir import write_marker

    out = tmp_path / "run"
    staging = tmp_path / ".run.partial"
    staging.mkdir()
    write_marker(staging)  # a run killed before its first checkpoint leaves just this
    (staging / "config.yaml").write_text("task: classification\n")
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "1")
    assert result.exit_code == 0, result.stderr
    assert (out / "metrics.json").is_file() and not staging.exists()


def test_overwrite_refuses_a_folder_ftcli_did_not_make(cli, tmp_path, tiny_bert, sentiment_csv):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    (mine / "config.yaml").write_text("looks like a run\n")
    (mine / "model").mkdir()
    for extra in ([], ["--overwrite"]):
        result = finetune(cli, str(tiny_bert), str(sentiment_csv), mine, "--epochs", "1", *extra)
        assert_user_error(result, str(mine), "ftcli did not create")
        assert "--overwrite" not in result.stderr.split("did not create")[1]
    assert (mine / "chapter1.tex").read_text() == "precious"
    assert sorted(p.name for p in mine.iterdir()) == ["chapter1.tex", "config.yaml", "model"]
    assert not list(tmp_path.glob(".thesis*"))


def test_tampered_checkpoint_is_refused_in_one_line(cli, tmp_path, tiny_bert, sentiment_csv, monkeypatch):
    import ftcli.training

    out = tmp_path / "run"
    monkeypatch.setattr(ftcli.training, "collect_outputs", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "1").exit_code != 0
    monkeypatch.undo()
    checkpoint = next((tmp_path / ".run.partial" / "checkpoints").glob("step-*"))
    (checkpoint / "optimizer.bin").write_bytes(b"\x80\x04cos\nsystem\n(S'echo pwned'\ntR.")
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), out, "--epochs", "1", "--resume")
    assert_user_error(result, f"checkpoint {checkpoint} cannot be loaded")
    assert (tmp_path / ".run.partial").is_dir()  # nothing deleted: the user decides


def test_resume_of_a_run_that_wrote_nothing_starts_it_and_of_a_finished_run_is_refused(
        cli, tmp_path, tiny_bert, sentiment_csv):
    # Stopped before its folder was made (loading the model, tokenizing): --resume starts the run, and says so.
    result = finetune(cli, str(tiny_bert), str(sentiment_csv), tmp_path / "run", "--epochs", "1", "--resume")
    assert result.exit_code == 0, result.stderr
    assert f"Nothing of {tmp_path / 'run'} had been written yet: starting the run" in result.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert_user_error(finetune(cli, str(tiny_bert), str(sentiment_csv), tmp_path / "run", "--epochs", "1", "--resume"),
                      "nothing to resume", "is already complete")


def test_recipes_and_models_commands(cli, tmp_path):
    listed = cli("recipes", "ls")
    assert listed.exit_code == 0 and "classification/full" in listed.stdout
    shown = cli("recipes", "show", "classification/full")
    assert "ftcli finetune classification" in shown.stdout
    assert cli("recipes", "cp", "classification/full", tmp_path / "r.yaml").exit_code == 0
    assert_user_error(cli("recipes", "show", "nope/full"), "no recipe 'nope/full'")
    models = cli("models", "ls")
    assert models.exit_code == 0 and "minilm" in models.stdout and "rt-sentiment" in models.stdout


def test_same_seed_gives_the_same_model(cli, tmp_path, tiny_bert, sentiment_csv):
    from safetensors.torch import load_file

    weights = []
    for name in ("a", "b"):
        result = finetune(cli, str(tiny_bert), str(sentiment_csv), tmp_path / name, "--epochs", "1")
        assert result.exit_code == 0, result.stderr
        weights.append(load_file(tmp_path / name / "model" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0])


def test_compile_and_dataloader_workers_leave_the_result_unchanged(cli, tiny_bert, sentiment_csv, tmp_path, monkeypatch):
    """train.compile wraps the model in torch.compile (recorded here, not compiled: that takes minutes on CPU);
    train.dataloader_workers collates in worker processes; the order and the result stay the same."""
    import torch

    plain = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "plain", "--epochs", "1")
    assert plain.exit_code == 0, plain.stderr
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: compiled.append(type(model).__name__) or model)
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "other", "--epochs", "1",
                      "--set", "train.compile=true", "--set", "train.dataloader_workers=1")
    assert result.exit_code == 0, result.stderr
    assert compiled == ["BertForSequenceClassification"]
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("plain", "other")]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"] and metrics[0]["loss"] == pytest.approx(metrics[1]["loss"])


def test_a_config_file_is_the_whole_run_and_a_disagreeing_recipe_is_refused(cli, tmp_path, tiny_bert, sentiment_csv):
    import yaml

    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump({
        "task": "classification", "strategy": "full", "model": {"name": str(tiny_bert), "max_length": 16},
        "data": {"train": str(sentiment_csv)}, "train": {"epochs": 1, "batch_size": 16}, "output_dir": str(tmp_path / "r")}))
    result = cli("finetune", run_file)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "r" / "metrics.json").is_file()
    assert "train_rows" in (tmp_path / "r" / "metrics.json").read_text()

    ner = tmp_path / "ner.yaml"
    ner.write_text(yaml.safe_dump({"task": "ner", "model": {"name": str(tiny_bert)}}))
    assert_user_error(cli("finetune", "classification", "--recipe", ner, "--train", sentiment_csv),
                      f"recipe {ner} is for task ner, but the command says classification")
    assert_user_error(cli("finetune", run_file, "--strategy", "lora", "--recipe", ner), "not both")
    no_task = tmp_path / "no-task.yaml"
    no_task.write_text(yaml.safe_dump({"model": {"name": str(tiny_bert)}}))
    assert_user_error(cli("finetune", no_task), "has no `task:`")
