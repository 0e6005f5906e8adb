"""QA end to end on the tiny random BERT: finetune, evaluate, predict, `data check`, bad input."""

import json
import random

import pytest
import yaml

from tests.cli.test_finetune_cli import assert_user_error, no_run_left
from tests.conftest import FILLER, PEOPLE, PLACES, write_jsonl

# max_length 24 - 3 special - 4 question tokens leaves 17 context tokens per window; contexts of
# 18-24 words need two windows sharing 6 tokens.
FAST = ["--epochs", "2", "--lr", "2e-3", "--batch-size", "8", "--max-length", "24",
        "--set", "options.doc_stride=6"]


def qa_rows(count: int, seed: int = 0) -> list[dict]:
    """'PERSON was in PLACE' among filler words; every fourth question asks about someone absent."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        words = [rng.choice(FILLER) for _ in range(rng.randint(14, 20))]
        at = rng.randint(0, len(words))
        context = " ".join(words[:at] + [person, "was", "in", place] + words[at:])
        if i % 4 == 3:
            asked = rng.choice([p for p in PEOPLE if p != person])
            answers = {"text": [], "answer_start": []}
        else:
            asked = person
            start = context.index(f"{person} was in {place}") + len(f"{person} was in ")
            answers = {"text": [place], "answer_start": [start]}
        rows.append({"id": f"r{i}", "question": f"where was {asked} ?", "context": context, "answers": answers})
    return rows


@pytest.fixture(scope="module")
def qa_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa")
    return write_jsonl(root / "train.jsonl", qa_rows(48)), write_jsonl(root / "eval.jsonl", qa_rows(16, seed=1))


def test_qa_finetune_evaluate_predict(cli, tmp_path, tiny_bert, qa_files):
    train, eval_ = qa_files
    out = tmp_path / "qa"
    result = cli("finetune", "qa", "--model", tiny_bert, "--train", train, "--test", eval_, "--output-dir", out, *FAST)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"exact_match", "f1", "HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1"} <= set(metrics)
    assert metrics["HasAns_total"] == 12 and metrics["NoAns_total"] == 4 and 0 <= metrics["f1"] <= 1
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]
    # The training data has unanswerable questions, so the run allows null answers and says so.
    assert yaml.safe_load((out / "config.yaml").read_text())["options"]["null_answers"] == "yes"

    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads((tmp_path / "m.json").read_text())["f1"] == pytest.approx(metrics["f1"])

    predicted = cli("predict", out, "--data", eval_, "--output", tmp_path / "p.json")
    assert predicted.exit_code == 0, predicted.stderr
    records = json.loads((tmp_path / "p.json").read_text())
    assert [r["id"] for r in records] == [f"r{i}" for i in range(16)]
    for record in records:
        assert {"question", "context", "answer", "score", "start"} <= set(record) and 0 <= record["score"] <= 1
        if record["answer"]:
            start = record["start"]
            assert record["context"][start:start + len(record["answer"])] == record["answer"]
        else:
            assert record["start"] is None

    context = "the film was in rome and bob was in paris"
    one = cli("predict", out, "--input", f"where was bob ? ||| {context}", "--output", tmp_path / "one.json")
    assert one.exit_code == 0, one.stderr
    [record] = json.loads((tmp_path / "one.json").read_text())
    assert record["question"] == "where was bob ?" and record["context"] == context
    assert record["answer"] in context and "where was bob" in one.stderr + one.stdout  # the table


def test_qa_bad_answer_start_exit_2_and_no_run(cli, tmp_path, tiny_bert):
    rows = qa_rows(8)
    rows[5]["answers"]["answer_start"] = [rows[5]["answers"]["answer_start"][0] + 1]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    out = tmp_path / "r"
    assert_user_error(cli("finetune", "qa", "--model", tiny_bert, "--train", bad, "--output-dir", out, *FAST),
                      "row 6 (id r5)", "does not match the context: expected", "found")
    assert no_run_left(out)


def test_qa_stride_longer_than_the_window_exit_2(cli, tmp_path, tiny_bert, qa_files):
    out = tmp_path / "r"
    result = cli("finetune", "qa", "--model", tiny_bert, "--train", qa_files[0], "--output-dir", out,
                 "--max-length", "24", "--set", "options.doc_stride=128")  # 128 cannot fit in 24 tokens
    assert_user_error(result, "options.doc_stride (128)", "room left for the context (17 tokens")
    assert no_run_left(out)
    # Not set, the stride follows --max-length (24 // 3 = 8 tokens) and the run goes ahead.
    result = cli("finetune", "qa", "--model", tiny_bert, "--train", qa_files[0], "--output-dir", out,
                 "--max-length", "24", "--epochs", "1")
    assert result.exit_code == 0, result.stderr


def test_qa_data_check(cli, tmp_path, qa_files):
    result = cli("data", "check", qa_files[0], "--task", "qa", "--output", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["labels"] == {"answerable": 36, "unanswerable": 12} and report["problems"] == []
    assert report["lengths"]["question"]["p50"] == 4 and report["lengths"]["context"]["p0"] >= 18
