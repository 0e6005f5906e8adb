"""NER and NLI end to end on the tiny random BERT, and `ftcli data check`."""

import json

import pytest

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import ner_rows, nli_rows, write_csv, write_jsonl

FAST = ["--epochs", "2", "--lr", "2e-3", "--batch-size", "8", "--max-length", "24"]


@pytest.fixture(scope="module")
def ner_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    return write_jsonl(root / "train.jsonl", ner_rows(120)), write_jsonl(root / "eval.jsonl", ner_rows(40, seed=1))


def test_ner_finetune_evaluate_predict(cli, tmp_path, tiny_bert, ner_files):
    train, eval_ = ner_files
    out = tmp_path / "ner"
    result = cli("finetune", "ner", "--model", tiny_bert, "--train", train, "--test", eval_, "--output-dir", out, *FAST)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"precision", "recall", "f1", "LOC_f1", "PER_f1"} <= set(metrics)
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    assert set(config["label2id"]) == {"O", "B-LOC", "B-PER", "I-PER"}

    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads((tmp_path / "m.json").read_text())["f1"] == pytest.approx(metrics["f1"])

    predicted = cli("predict", out, "--input", "alice smith was in paris", "--output", tmp_path / "p.json")
    assert predicted.exit_code == 0, predicted.stderr
    record = json.loads((tmp_path / "p.json").read_text())[0]
    assert record["tokens"] == ["alice", "smith", "was", "in", "paris"] and len(record["tags"]) == 5
    for entity in record["entities"]:
        assert entity["text"] == " ".join(record["tokens"][entity["start"]:entity["end"]])


def test_ner_bad_rows_exit_2(cli, tmp_path, tiny_bert):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"tokens": ["a", "b"], "tags": ["O"]}] * 3)
    assert_user_error(cli("finetune", "ner", "--model", tiny_bert, "--train", bad, "--output-dir", tmp_path / "r"),
                      "2 tokens but 1 tags")
    assert not (tmp_path / "r").exists()


def test_nli_pairs_use_two_segments(cli, tmp_path, tiny_bert):
    train = write_csv(tmp_path / "train.csv", nli_rows(80))
    out = tmp_path / "nli"
    result = cli("finetune", "nli", "--model", tiny_bert, "--train", train, "--output-dir", out, *FAST)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and "f1" in metrics

    from ftcli.inference import load_trained

    loaded = load_trained(str(out), None)
    features = loaded.task.preprocess(__import__("datasets").Dataset.from_list(nli_rows(2)), loaded.processor,
                                      loaded.columns, {"entailment": 0, "contradiction": 1}, 32)
    assert 1 in features[0]["token_type_ids"], "the hypothesis must be segment B"


def test_nli_missing_hypothesis_column(cli, tmp_path, tiny_bert):
    train = write_csv(tmp_path / "t.csv", [{"premise": "a", "claim": "b", "label": "x"}] * 4)
    assert_user_error(cli("finetune", "nli", "--model", tiny_bert, "--train", train, "--output-dir", tmp_path / "r"),
                      "no 'hypothesis' column", "columns: premise, claim, label")


def test_data_check_summaries(cli, tmp_path, sentiment_csv, ner_files):
    result = cli("data", "check", sentiment_csv, "--task", "classification", "--output", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["rows"] == 160 and report["labels"] == {"positive": 80, "negative": 80}
    assert report["lengths"]["text"]["p50"] == 5 and report["problems"] == []

    result = cli("data", "check", ner_files[0], "--task", "ner", "--output", tmp_path / "n.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "n.json").read_text())
    assert set(report["labels"]) >= {"LOC", "PER"} and report["length_unit"] == "tokens"


def test_data_check_reports_problems_with_exit_2(cli, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"tokens": ["a", "b"], "tags": ["O", "I-X"]}])
    result = cli("data", "check", bad, "--task", "ner")
    assert result.exit_code == 2
    assert "unknown type: I-X" in result.stdout  # the report is the result: on stdout, so it pipes
