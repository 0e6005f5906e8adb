"""`ftcli distill` end to end on tiny random BERTs: a teacher fine-tuned by `ftcli finetune`, students
made from it (every other layer) or given (narrower), both methods; the run directory is a normal
one (plain transformers, evaluate, predict), and bad input is one line, exit 2, no run directory."""

import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import yaml  # noqa: E402

from tests.cli.test_finetune_cli import assert_user_error, no_run_left  # noqa: E402
from tests.conftest import ner_rows, sentiment_rows, write_csv, write_jsonl  # noqa: E402

FAST = ["--epochs", "4", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16",
        "--set", "train.logging_steps=2"]


@pytest.fixture(scope="module", autouse=True)
def distill_command():
    """Until app.py wires `distill` in, add it here (a no-op once it is there)."""
    from ftcli.cli.app import app
    from ftcli.cli.distill import distill

    names = {info.name or getattr(info.callback, "__name__", None) for info in app.registered_commands}
    if "distill" not in names:
        app.command()(distill)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Students made from test teachers go to a cache of their own, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("ftcli-cache")
        patch.setenv("FTCLI_CACHE", str(cache))
        yield cache


def call(*args) -> int:
    from ftcli.cli.app import main

    saved, sys.argv = sys.argv, ["ftcli", *map(str, args)]
    try:
        main()
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv = saved


def bert_checkpoint(directory, tokenizer_dir, hidden, layers, heads):
    import torch
    from transformers import AutoTokenizer

    import ftcli.models.bert as ours

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = ours.BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                             num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64)
    ours.BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill-data")
    return {"train": write_csv(root / "train.csv", sentiment_rows(160)),
            "eval": write_csv(root / "eval.csv", sentiment_rows(60, seed=1))}


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory, tiny_bert, data):
    """A 4-layer, 32-wide BERT fine-tuned by `ftcli finetune`."""
    root = tmp_path_factory.mktemp("teacher")
    body = bert_checkpoint(root / "body", tiny_bert, hidden=32, layers=4, heads=4)
    out = root / "run"
    assert call("finetune", "classification", "--model", body, "--train", data["train"], "--test", data["eval"],
                "--output-dir", out, *FAST) == 0
    return out


@pytest.fixture(scope="module")
def soft_run(tmp_path_factory, teacher_run, data):
    out = tmp_path_factory.mktemp("soft") / "run"
    code = call("distill", "--teacher", teacher_run, "--init-from-teacher", "every-other-layer", "--task",
                "classification", "--train", data["train"], "--test", data["eval"], "--output-dir", out, *FAST)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def tinybert_run(tmp_path_factory, tiny_bert, teacher_run, data):
    """A narrower student (16 wide, 2 layers, 2 heads): the hidden states go through a projection."""
    root = tmp_path_factory.mktemp("tinybert")
    student = bert_checkpoint(root / "student", tiny_bert, hidden=16, layers=2, heads=2)
    out = root / "run"
    code = call("distill", "--teacher", teacher_run / "model", "--student", student, "--task", "classification",
                "--method", "tinybert", "--train", data["train"], "--test", data["eval"], "--output-dir", out,
                "--set", "distill.cosine_weight=1.0", *FAST)
    assert code == 0
    return out


def log_lines(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_soft_targets_run_is_a_normal_run_directory(soft_run, teacher_run, private_cache):
    from transformers import AutoModelForSequenceClassification

    assert {"model", "config.yaml", "metrics.json", "log.jsonl", "README.md"} <= {p.name for p in soft_run.iterdir()}
    model = AutoModelForSequenceClassification.from_pretrained(soft_run / "model")  # plain transformers
    assert model.config.num_hidden_layers == 2
    assert model.config.id2label == {0: "negative", 1: "positive"}
    config = yaml.safe_load((soft_run / "config.yaml").read_text())
    assert config["strategy"] == "distill" and config["distill"]["teacher"] == str(teacher_run)
    assert config["distill"]["method"] == "soft-targets"
    # The every-other-layer student was written once, under the ftcli cache, as a checkpoint.
    assert config["model"]["name"].startswith(str(private_cache / "students"))
    parts = [line for line in log_lines(soft_run) if "loss" in line]
    assert parts and all("soft_loss" in line and "hard_loss" in line for line in parts)
    assert not any("hidden_loss" in line for line in parts)


def test_metrics_have_the_teacher_and_the_speed_up(soft_run, teacher_run):
    metrics = json.loads((soft_run / "metrics.json").read_text())
    teacher_metrics = json.loads((teacher_run / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9  # one word decides the label; the tiny student learns it
    # The teacher scored on the same test rows gives the teacher run's own test metrics.
    assert metrics["teacher_accuracy"] == pytest.approx(teacher_metrics["accuracy"])
    assert metrics["teacher_f1"] == pytest.approx(teacher_metrics["f1"])
    assert metrics["teacher"] == str(teacher_run) and metrics["distill_method"] == "soft-targets"
    assert metrics["student_examples_per_second"] > 0 and metrics["teacher_examples_per_second"] > 0
    assert metrics["speedup"] == pytest.approx(
        metrics["student_examples_per_second"] / metrics["teacher_examples_per_second"], rel=0.01)
    assert metrics["student_parameters"] < metrics["teacher_parameters"]
    assert "Distillation" in (soft_run / "README.md").read_text()


def test_evaluate_and_predict_load_the_student(cli, soft_run, data, tmp_path):
    result = cli("evaluate", soft_run, "--data", data["eval"], "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result.stderr
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["accuracy"] == pytest.approx(json.loads((soft_run / "metrics.json").read_text())["accuracy"])
    result = cli("predict", soft_run, "--input", "the film was good", "--output", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "p.json").read_text())[0]["label"] in {"negative", "positive"}


def test_tinybert_logs_hidden_and_attention_losses(tinybert_run):
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification

    parts = [line for line in log_lines(tinybert_run) if "loss" in line]
    for key in ("soft_loss", "hard_loss", "hidden_loss", "attention_loss", "cosine_loss"):
        assert all(key in line for line in parts), key
    # The projection trained with the student but is not part of the saved model.
    with safe_open(str(tinybert_run / "model" / "model.safetensors"), framework="pt") as weights:
        assert not any("projection" in key for key in weights.keys())
    model = AutoModelForSequenceClassification.from_pretrained(tinybert_run / "model")
    assert model.config.hidden_size == 16
    metrics = json.loads((tinybert_run / "metrics.json").read_text())
    assert metrics["distill_method"] == "tinybert" and "teacher_accuracy" in metrics and "speedup" in metrics


def test_ner_student(tmp_path, tiny_bert, private_cache):
    train = write_jsonl(tmp_path / "train.jsonl", ner_rows(48))
    eval_ = write_jsonl(tmp_path / "eval.jsonl", ner_rows(12, seed=1))
    teacher, out = tmp_path / "teacher", tmp_path / "student"
    assert call("finetune", "ner", "--model", tiny_bert, "--train", train, "--test", eval_, "--output-dir", teacher,
                *FAST) == 0
    assert call("distill", "--teacher", teacher, "--init-from-teacher", "every-other-layer", "--train", train,
                "--test", eval_, "--output-dir", out, *FAST) == 0  # the task comes from the teacher run
    metrics = json.loads((out / "metrics.json").read_text())
    assert "f1" in metrics and "teacher_f1" in metrics
    assert all("soft_loss" in line for line in log_lines(out) if "loss" in line)


@pytest.mark.parametrize("case", ["missing-teacher", "labels", "both", "neither", "task", "method", "teacher-task",
                                  "transfer-is-test", "transfer-columns", "transfer-without-soft-targets"])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, cli, tmp_path, teacher_run, tiny_bert, data):
    out = tmp_path / "run"
    train, student = data["train"], ["--student", str(tiny_bert)]
    task, extra, expected = ["--task", "classification"], [], []
    if case == "missing-teacher":
        teacher, expected = tmp_path / "nope", ["teacher", "not found"]
    else:
        teacher = teacher_run
    if case == "labels":
        rows = [{**row, "label": {"positive": "good", "negative": "bad"}[row["label"]]} for row in sentiment_rows(40)]
        train = write_csv(tmp_path / "other.csv", rows)
        expected = [f"teacher {teacher_run} was trained on labels ['negative', 'positive']", "has ['bad', 'good']"]
    elif case == "both":
        extra, expected = ["--init-from-teacher", "every-other-layer"], ["not both"]
    elif case == "neither":
        student, expected = [], ["--student M", "--init-from-teacher"]
    elif case == "task":
        task, expected = ["--task", "qa"], ["classification, nli and ner", "not qa"]
    elif case == "method":
        extra, expected = ["--method", "nope"], ["unknown --method 'nope'"]
    elif case == "teacher-task":
        task, expected = ["--task", "nli"], ["classification run", "nli teacher"]
        train = write_csv(tmp_path / "nli.csv", [{"premise": "a good film", "hypothesis": "it was good",
                                                  "label": "entailment"},
                                                 {"premise": "a dull film", "hypothesis": "it was fun",
                                                  "label": "contradiction"}] * 10)
    elif case == "transfer-is-test":
        extra, expected = ["--test", str(data["eval"]), "--transfer", str(data["eval"])], ["is the test data"]
    elif case == "transfer-columns":
        other = write_csv(tmp_path / "notes.csv", [{"note": "good film"}] * 4)
        extra, expected = ["--transfer", str(other)], [f"transfer set {other} has no 'text' column", "(columns: note)"]
    elif case == "transfer-without-soft-targets":
        extra, expected = ["--transfer", str(train), "--alpha", "0"], ["distill.alpha=0 turns off"]
    result = cli("distill", "--teacher", teacher, *student, *task, "--train", train, "--output-dir", out,
                 *extra, *FAST)
    assert_user_error(result, *expected)
    assert no_run_left(out)


def test_interrupted_tinybert_run_resumes_to_the_same_student(tmp_path, tiny_bert, teacher_run, data, monkeypatch):
    """SIGTERM mid-epoch, then --resume: the projection and optimizer state come back with the
    checkpoint, and the student equals an uninterrupted run's, bit for bit on CPU."""
    import os
    import signal

    import accelerate
    from safetensors.torch import load_file

    student = bert_checkpoint(tmp_path / "student", tiny_bert, hidden=16, layers=2, heads=2)
    args = ["distill", "--teacher", teacher_run, "--student", student, "--task", "classification", "--method",
            "tinybert", "--train", data["train"], "--test", data["eval"], "--limit-train", "48", "--epochs", "2",
            "--lr", "2e-3", "--batch-size", "8", "--max-length", "16", "--set", "train.save_every=4"]
    assert call(*args, "--output-dir", tmp_path / "whole") == 0
    real, calls = accelerate.Accelerator.backward, {"n": 0}

    def backward(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # the loop checkpoints at the step's end and stops
        return real(self, *a, **k)

    monkeypatch.setattr(accelerate.Accelerator, "backward", backward)
    assert call(*args, "--output-dir", tmp_path / "cut") == 128 + signal.SIGTERM
    monkeypatch.setattr(accelerate.Accelerator, "backward", real)
    assert call(*args, "--output-dir", tmp_path / "cut", "--resume") == 0
    whole = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert whole.keys() == resumed.keys()
    assert all(whole[k].equal(resumed[k]) for k in whole)


def test_finetune_points_to_the_distill_command(cli, tmp_path, tiny_bert, data):
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--strategy", "distill", "--model", tiny_bert, "--train", data["train"],
                 "--output-dir", out)
    assert_user_error(result, "distill is a command of its own: ftcli distill --teacher")
    assert no_run_left(out)


def test_a_transfer_set_teaches_through_the_teachers_cached_logits(tmp_path, teacher_run, data, private_cache):
    """16 labelled rows beside 120 unlabelled texts (a text file, documents between blank lines): the teacher's
    logits on all of them are computed once and cached; the second run reads them from the cache."""
    train = write_csv(tmp_path / "few.csv", sentiment_rows(16, seed=3))
    text = tmp_path / "transfer.txt"
    text.write_text("\n\n".join(row["text"] for row in sentiment_rows(120, seed=4)) + "\n")
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        result_code = call("distill", "--teacher", teacher_run, "--init-from-teacher", "every-other-layer",
                           "--task", "classification", "--train", train, "--test", data["eval"], "--transfer", text,
                           "--output-dir", out, *FAST)
        assert result_code == 0
        runs.append(out)
    cached = list((private_cache / "teacher-logits").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".safetensors"  # one teacher, one text: computed once
    config = yaml.safe_load((runs[0] / "config.yaml").read_text())
    assert config["distill"]["transfer"] == str(text)
    assert "the transfer set `transfer.txt`" in (runs[0] / "README.md").read_text()
    parts = [line for line in log_lines(runs[0]) if "loss" in line]
    assert parts and all("soft_loss" in line and "hard_loss" in line for line in parts)
    assert json.loads((runs[0] / "metrics.json").read_text())["accuracy"] >= 0.9
    assert json.loads((runs[0] / "metrics.json").read_text())["accuracy"] == pytest.approx(
        json.loads((runs[1] / "metrics.json").read_text())["accuracy"])  # cached logits: the same student

