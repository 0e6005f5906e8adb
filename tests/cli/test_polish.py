"""What a new user runs into: results on stdout, help that lists and groups, one column syntax,
predict --set and pair inputs, evaluate --limit, tables, runs ls/show, plots and trackers, label sets
under --limit-train, model cards that name the base model, progress without a terminal, and every
`ftcli` command the README shows."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ftcli.cli.output import split_metrics
from ftcli.plots import read_series
from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import ner_rows, nli_rows, sentiment_rows, write_csv, write_jsonl

README = Path(__file__).resolve().parents[2] / "README.md"


def ftcli_process(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftcli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_bert):
    """A finished tiny classification run with a validation split and tensorboard logging, trained in
    a real process whose stderr is not a terminal."""
    root = tmp_path_factory.mktemp("polish")
    train = write_csv(root / "train.csv", sentiment_rows(64))
    test = write_csv(root / "test.csv", sentiment_rows(20, seed=1))
    out = root / "runs" / "tiny"
    result = ftcli_process("finetune", "classification", "--model", tiny_bert, "--train", train, "--test", test,
                           "--output-dir", out, "--epochs", "2", "--batch-size", "8", "--max-length", "16",
                           "--set", "data.validation_fraction=0.25", "--set", "train.logging_steps=2",
                           "--report-to", "tensorboard")
    assert result.returncode == 0, result.stderr
    return out, test, result


def test_plain_progress_lines_without_a_terminal(run):
    lines = [line for line in run[2].stderr.splitlines() if re.match(r"Epoch 1/2: \d+/6", line)]
    assert lines and "ex/s" in lines[-1] and "ETA" in lines[-1] and "loss" in lines[-1]


def test_loss_plot_holds_the_logged_losses_and_the_card_shows_it(run):
    out = run[0]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    series = read_series(out / "loss.png")
    assert series["training_loss"] == [[r["step"], r["loss"]] for r in log if "loss" in r]
    assert series["validation_loss"] == [[r["step"], r["validation_loss"]] for r in log if "validation_loss" in r]
    assert len(series["validation_accuracy"]) == 2
    assert "![Training and validation loss](loss.png)" in (out / "README.md").read_text()
    assert not (out / "checkpoints").exists()  # removed after a successful run (train.keep_checkpoints=0)


def test_tensorboard_events_hold_the_logged_values(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = run[0]
    events = EventAccumulator(str(out / "logs"))
    events.Reload()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [(e.step, round(e.value, 6)) for e in events.Scalars("loss")] == \
           [(r["step"], round(r["loss"], 6)) for r in log if "loss" in r]
    assert [e.step for e in events.Scalars("validation_accuracy")] == [6, 12]  # 6 steps an epoch


def test_epoch_training_loss_reaches_the_log_however_few_steps(cli, tmp_path, tiny_bert):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(16))
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", train, "--test", train,
                 "--output-dir", out, "--epochs", "2", "--batch-size", "8", "--set", "train.logging_steps=1000")
    assert result.exit_code == 0, result.stderr
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if "train_loss" in r] == [1, 2]
    # A short run logs every step, whatever logging_steps says, so its plot has a point per step.
    assert [r["step"] for r in log if "loss" in r and "train_loss" not in r] == [1, 2, 3, 4]
    assert read_series(out / "loss.png")["training_loss"] == [[r["step"], r["loss"]] for r in log
                                                              if "loss" in r and "train_loss" not in r]


def test_results_on_stdout_and_evaluate_limit(cli, run):
    out, test, _ = run
    result = cli("evaluate", out, "--data", test, "--limit", "5", "--output", "-")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)  # stdout holds only the JSON; the table went to stderr
    assert metrics["eval_rows"] == 5 and "accuracy" in metrics and "accuracy" in result.stderr
    assert_user_error(cli("evaluate", out, "--data", test, "--limit", "0"), "--limit must be at least 1")


def test_predict_set_and_pair_inputs(cli, run, tmp_path, tiny_bert):
    out = run[0]
    result = cli("predict", out, "--input", "good film", "--set", "options.max_new_tokens=5", "--output", "-")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["label"] in ("positive", "negative")
    assert_user_error(cli("predict", out, "--input", "x", "--set", "train.epochs=3"), "options.KEY=VALUE")
    # NLI takes "PREMISE ||| HYPOTHESIS".
    nli = tmp_path / "nli"
    train = write_jsonl(tmp_path / "nli.jsonl", nli_rows(16))
    assert cli("finetune", "nli", "--model", tiny_bert, "--train", train, "--output-dir", nli, "--epochs", "1",
               "--max-length", "24").exit_code == 0
    result = cli("predict", nli, "--input", "the film was good ||| the film was good", "--output", "-")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)[0]
    assert record["premise"] == "the film was good" and record["label"] in ("entailment", "contradiction")
    assert_user_error(cli("predict", nli, "--input", "only one part"), 'nli takes --input "PREMISE ||| HYPOTHESIS"')


def test_one_column_syntax_for_every_command(cli, tmp_path, tiny_bert):
    rows = [{"review": r["text"], "sentiment": r["label"]} for r in sentiment_rows(16)]
    data = write_jsonl(tmp_path / "reviews.jsonl", rows)
    out = tmp_path / "run"
    columns = ["--column", "text=review", "--column", "label=sentiment"]
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", data, "--test", data, *columns,
                 "--output-dir", out, "--epochs", "1")
    assert result.exit_code == 0, result.stderr
    assert cli("evaluate", out, "--data", data, *columns).exit_code == 0
    assert cli("predict", out, "--data", data, "--column", "text=review").exit_code == 0


def test_help_lists_tasks_groups_options_and_offers_completion(cli):
    text = cli("finetune", "--help").stdout
    for task in ("classification", "nli", "ner", "qa", "generation", "image-classification"):
        assert task in text
    for panel in ("Data", "Model", "Training", "Output", "Launch"):
        assert re.search(rf"─ {panel} ─", text), panel
    assert "<bool>" not in text and "Default: the recipe's" in text
    assert "--install-completion" in cli("--help").stdout
    assert "QUESTION ||| CONTEXT" in cli("predict", "--help").stdout.replace("\n", " ").replace("│", "")


def test_ner_and_qa_metrics_show_as_grids_and_run_statistics_apart():
    quality, grid, stats = split_metrics({"f1": 0.5, "precision": 0.4, "LOC_f1": 0.7, "LOC_precision": 0.6,
                                          "PER_f1": 0.3, "PER_number": 4, "validation_f1": 0.2, "train_runtime": 3.0,
                                          "peak_memory_mb": 100.0})
    assert quality == {"f1": 0.5, "precision": 0.4, "validation_f1": 0.2}
    assert grid == {"LOC": {"f1": 0.7, "precision": 0.6}, "PER": {"f1": 0.3, "number": 4}}
    assert stats == {"train_runtime": 3.0, "peak_memory_mb": 100.0}
    _, grid, _ = split_metrics({"exact_match": 50.0, "f1": 60.0, "HasAns_exact": 40.0, "HasAns_f1": 55.0,
                                "NoAns_exact": 70.0, "NoAns_total": 10})
    assert set(grid) == {"HasAns", "NoAns"}


def test_results_and_listings_pipe_on_stdout(run, tmp_path, cli):
    """`ftcli runs ls DIR | cat`, `evaluate ... | cat`, `predict ... | cat`: the results are on stdout (progress
    and messages on stderr); `predict --output x.csv` writes CSV with the input's other columns."""
    out, test, trained = run
    assert "accuracy" in trained.stdout and "run statistics" in trained.stdout  # finetune's own results
    listed = ftcli_process("runs", "ls", out.parent)
    assert listed.returncode == 0 and "tiny" in listed.stdout and "accuracy" in listed.stdout, listed.stderr
    evaluated = ftcli_process("evaluate", out, "--data", test)
    assert evaluated.returncode == 0 and "accuracy" in evaluated.stdout, evaluated.stderr
    predicted = ftcli_process("predict", out, "--data", test)
    assert predicted.returncode == 0 and "score" in predicted.stdout and "label" in predicted.stdout, predicted.stderr
    assert "Epoch" not in listed.stdout + evaluated.stdout + predicted.stdout  # progress stays on stderr
    import csv

    for name in ("p.csv", "p.jsonl"):  # files, not pipes: in this process
        written = cli("predict", out, "--data", test, "--output", tmp_path / name)
        assert written.exit_code == 0, written.stderr
    with (tmp_path / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    source = list(csv.DictReader(test.open()))
    assert len(rows) == len(source) and {"text", "input_label", "label", "score"} <= set(rows[0])
    assert [(r["text"], r["input_label"]) for r in rows] == [(r["text"], r["label"]) for r in source]
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [line["label"] for line in lines] == [r["label"] for r in rows]


def test_runs_ls_and_show(cli, run):
    out = run[0]
    listed = cli("runs", "ls", out.parent)
    assert listed.exit_code == 0, listed.stderr
    text = listed.stdout + listed.stderr
    assert "1 run(s)" in text and "classification" in text and "accuracy" in text
    shown = cli("runs", "show", out)
    assert shown.exit_code == 0, shown.stderr
    text = shown.stdout + shown.stderr
    assert "strategy: full" in text and "accuracy" in text and str(out / "loss.png") in text.replace("\n", "")
    assert_user_error(cli("runs", "show", out.parent), "not a finished ftcli run")


def test_catalogue_style_label_set_survives_limit_train(cli, tmp_path, tiny_bert):
    """A rare tag outside the --limit-train sample still gets a label id (the label set comes from every
    training row), so evaluation rows that carry it do not fail."""
    from datasets import Dataset

    rows = ner_rows(60)
    rows[37] = {"tokens": ["bob", "visited", "rome"], "tags": ["B-PER", "O", "B-MISC"]}
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    sample = Dataset.from_list(rows).shuffle(seed=42).select(range(8))
    assert not any("B-MISC" in r["tags"] for r in sample)  # the limited sample never sees it
    test = write_jsonl(tmp_path / "test.jsonl", [rows[37]] + ner_rows(5, seed=3))
    out = tmp_path / "run"
    result = cli("finetune", "ner", "--model", tiny_bert, "--train", train, "--test", test, "--limit-train", "8",
                 "--epochs", "1", "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    assert "B-MISC" in json.loads((out / "model" / "config.json").read_text())["label2id"]


def test_model_card_names_a_real_base_model(tmp_path, run):
    from ftcli.assets import base_model_id

    assert base_model_id("minilm") == "sentence-transformers/all-MiniLM-L6-v2"
    assert base_model_id("org/name") == "org/name"
    local = tmp_path / "local"
    local.mkdir()
    (local / "config.json").write_text(json.dumps({"_name_or_path": "google-bert/bert-base-uncased"}))
    assert base_model_id(str(local)) == "google-bert/bert-base-uncased"
    card = (run[0] / "README.md").read_text()
    assert "base_model:" not in card.split("---")[1]  # a random local model has no Hub id to name
    assert base_model_id(str(run[0] / "model")) is None


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            for part in line.split("&&"):
                part = re.sub(r"\s+#.*$", "", part.strip())
                if part.startswith("ftcli "):
                    commands.append(part)
    return commands


def test_every_readme_command_parses(cli):
    """Each `ftcli ...` line of the README names a real command and real options (`--help` after
    them makes the parser check every option before it prints the help)."""
    commands = readme_commands()
    assert len(commands) > 30
    for command in commands:
        args = [a for a in shlex.split(command)[1:] if a != "..."]
        result = cli(*args, "--help")
        assert result.exit_code == 0, f"{command}: {result.stderr or result.stdout}"


@pytest.mark.integration
def test_cheap_readme_commands_run(cli, tmp_path, monkeypatch):
    """The README's commands that need no long training run as written (finetune with tiny limits)."""
    monkeypatch.chdir(tmp_path)
    ran = 0
    for command in readme_commands():
        args = shlex.split(command)[1:]
        if args[:2] in (["recipes", "ls"], ["recipes", "show"], ["models", "ls"]) or args[:1] == ["recipes"] and \
                args[1:2] == ["cp"]:
            result = cli(*args)
        elif command == "ftcli finetune classification --model minilm --train rt-sentiment":
            result = cli(*args, "--limit-train", "16", "--limit-test", "16", "--epochs", "1", "--max-length", "32",
                         "--output-dir", tmp_path / "readme-run")
        else:
            continue
        assert result.exit_code == 0, f"{command}: {result.stderr}"
        ran += 1
    assert ran >= 5


def test_numbers_people_read(capsys):
    from ftcli.cli.output import print_metrics
    from ftcli.progress import number, percent

    assert percent(770, 22_713_986) == "0.0034%" and percent(3, 4) == "75.00%" and percent(0, 9) == "0.00%"
    assert number(22_713_986) == "22,713,986" and number(1369.2) == "1,369.2" and number(0.50064) == "0.501"
    print_metrics({"accuracy": 0.75, "trainable_parameters": 22_713_986, "peak_memory_mb": 1369.2,
                   "mixed_precision": "bf16"}, title="t")
    shown = capsys.readouterr().out
    assert "22,713,986" in shown and "1,369.2" in shown and "1369.2000" not in shown and "0.7500" in shown
