"""`ftcli prompt` end to end on tiny random models: rank classification with a causal LM, cloze
with an encoder, generated answers for QA and NER, the --output record, and bad input."""

import json

import pytest

from tests.cli.test_finetune_cli import assert_user_error
from tests.cli.test_qa_cli import qa_rows
from tests.conftest import ner_rows, sentiment_rows, write_jsonl
from tests.unit.test_generation import one_thread, tiny_causal_lm  # noqa: F401 (one_thread is autouse)

WORDS = ["--set", "prompt.label_words={negative: red, positive: blue}"]  # in the tiny Llama's vocabulary
BERT_WORDS = ["--set", "prompt.label_words={negative: bad, positive: good}"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("llama"), chat=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompt-data")
    return {
        "eval": write_jsonl(root / "eval.jsonl", sentiment_rows(10, seed=1)),
        "demos": write_jsonl(root / "demos.jsonl", sentiment_rows(12, seed=2) + sentiment_rows(10, seed=1)[:3]),
        "qa": write_jsonl(root / "qa.jsonl", qa_rows(6)),
        "qa-demos": write_jsonl(root / "qa-demos.jsonl", qa_rows(6, seed=3)),
        "ner": write_jsonl(root / "ner.jsonl", ner_rows(6)),
        "ner-demos": write_jsonl(root / "ner-demos.jsonl", ner_rows(6, seed=3)),
    }


@pytest.mark.parametrize("shots", [0, 1, 3])
def test_rank_classification_with_a_causal_lm(cli, tmp_path, llama, files, shots):
    out = tmp_path / "out.json"
    result = cli("prompt", "classification", "--model", llama, "--data", files["eval"], "--demos", files["demos"],
                 "--shots", str(shots), "--seed", "7", *WORDS, "--set", "prompt.chat_template=true", "--output", out)
    assert result.exit_code == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["shots"] == shots and record["demo_seed"] == 7 and record["scoring"] == "rank"
    assert record["calibration"]["method"] == ("contextual" if shots else "none")  # calibrate: auto
    assert record["chat_template"] is True and record["template"]["query"] == "Review: {text}\nSentiment:"
    assert 0 <= record["metrics"]["accuracy"] <= 1 and record["metrics"]["eval_rows"] == 10
    evaluated = [r["text"] for r in sentiment_rows(10, seed=1)]
    for example in record["examples"]:
        assert set(example["scores"]) == {"negative", "positive"}
        decided_by = example.get("calibrated", example["scores"])
        assert example["prediction"] == max(decided_by, key=decided_by.get)
        # Demonstrations (the lines before the query) never show an evaluated row.
        shown = example["prompt"].split("Review: ")[1:-1]
        assert len(shown) == shots and not any(text in demo for demo in shown for text in evaluated)
        assert example["prompt"].startswith("<|user|> ")  # the chat template was applied


def test_no_chat_template_and_length_normalisation(cli, tmp_path, llama, files):
    out = tmp_path / "out.json"
    result = cli("prompt", "classification", "--model", llama, "--data", files["eval"], *WORDS,
                 "--set", "prompt.chat_template=false", "--set", "prompt.length_normalize=true", "--output", out)
    assert result.exit_code == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["chat_template"] is False and "length-normalised" in record["scoring"]
    assert record["examples"][0]["prompt"].startswith("Review: ")


def test_cloze_with_an_encoder(cli, tmp_path, tiny_bert, files):
    out = tmp_path / "out.json"
    result = cli("prompt", "classification", "--model", tiny_bert, "--data", files["eval"], *BERT_WORDS,
                 "--set", "prompt.cloze={text} it was {mask} .", "--output", out)
    assert result.exit_code == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["scoring"] == "cloze" and record["examples"][0]["prompt"].endswith("it was [MASK] .")
    assert 0 <= record["metrics"]["accuracy"] <= 1


@pytest.mark.parametrize("task,metric", [("qa", "f1"), ("ner", "f1")])
def test_generated_answers_are_parsed_and_scored(cli, tmp_path, llama, files, task, metric):
    out = tmp_path / "out.json"
    result = cli("prompt", task, "--model", llama, "--data", files[task], "--demos", files[f"{task}-demos"],
                 "--shots", "2", "--set", "prompt.max_new_tokens=5", "--output", out)
    assert result.exit_code == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["scoring"] == "generate" and 0 <= record["metrics"][metric] <= 100
    assert all(isinstance(e["generated"], str) for e in record["examples"])
    if task == "ner":
        assert all(len(e["prediction"]) == len(e["gold"]) for e in record["examples"])


def test_bad_input(cli, tmp_path, llama, tiny_bert, files):
    assert_user_error(cli("prompt", "classification", "--model", llama, "--data", files["eval"], "--shots", "2"),
                      "needs demonstrations: give --demos")
    assert_user_error(cli("prompt", "qa", "--model", tiny_bert, "--data", files["qa"]), "is an encoder")
    assert_user_error(cli("prompt", "image-classification", "--model", llama, "--data", files["eval"]),
                      "does not support image-classification")
    assert_user_error(cli("prompt", "classification", "--model", llama, "--data", files["eval"],
                          "--set", "prompt.query=Review: {review}"), "names 'review'")
    assert_user_error(cli("finetune", "classification", "--strategy", "in-context", "--model", llama,
                          "--train", files["eval"]), "ftcli prompt")


def test_an_encoder_without_a_trained_mlm_head_is_flagged(cli, tiny_bert, files):
    # The tiny BERT is saved without a masked-LM head: cloze answers would be chance.
    result = cli("prompt", "classification", "--model", tiny_bert, "--data", files["eval"], *BERT_WORDS)
    assert result.exit_code == 0, result.stderr
    assert "has no trained MaskedLM head" in " ".join(result.stderr.split())


@pytest.mark.parametrize(("labels", "rows", "holds"), [
    ([["positive"], ["negative", "positive"], []], "rows 1, 2, 3", "a label set (multi_label_classification)"),
    ([0.5, 1.5, 2.25], "rows 1, 2, 3", "a fractional number (regression)"),
    (["positive", ["negative"], "negative"], "row 2", "a list or mapping"),
])
def test_labels_a_prompt_cannot_choose_are_refused_by_row(cli, tmp_path, llama, files, labels, rows, holds):
    """Label sets and numbers are for trained strategies; in the evaluated rows or in the demonstrations."""
    data = write_jsonl(tmp_path / "odd.jsonl", [{"text": f"text {i}", "label": v} for i, v in enumerate(labels)])
    expected = f"{rows}: 'label' holds {holds}; a prompt chooses one label per row"
    assert_user_error(cli("prompt", "classification", "--model", llama, "--data", data, *WORDS), f"odd.jsonl {expected}")
    assert_user_error(cli("prompt", "classification", "--model", llama, "--data", files["eval"], "--demos", data,
                          "--shots", "1", *WORDS), f"demos {data} {expected}")
