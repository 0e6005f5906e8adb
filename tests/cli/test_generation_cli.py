"""`ftcli finetune / evaluate / predict generation` on a tiny random Llama with prompt/completion JSONL."""

import json
import random

import pytest

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import write_jsonl
from tests.unit.test_generation import WORDS, one_thread, tiny_causal_lm  # noqa: F401 (one_thread is autouse)

FAST = ["--epochs", "2", "--lr", "5e-3", "--batch-size", "8", "--max-length", "24",
        "--set", "options.max_new_tokens=6", "--set", "train.logging_steps=2"]


def echo_rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = " ".join(rng.sample(WORDS[:12], 2))
        rows.append({"prompt": f"say {words} :", "completion": words})
    return rows


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


def test_finetune_evaluate_predict(cli, tmp_path, model_dir):
    train = write_jsonl(tmp_path / "train.jsonl", echo_rows(64, seed=0))
    eval_ = write_jsonl(tmp_path / "eval.jsonl", echo_rows(16, seed=1))
    out = tmp_path / "run"
    result = cli("finetune", "generation", "--model", model_dir, "--train", train, "--test", eval_,
                 "--validation", eval_, "--output-dir", out, *FAST, "--set", "options.temperature=0.7")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["perplexity"] > 1 and 0 <= metrics["rougeL"] <= 1 and "loss" in metrics
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    perplexities = [r["validation_perplexity"] for r in log if "validation_perplexity" in r]
    # Lower is better: the kept epoch has the lowest validation perplexity.
    assert len(perplexities) == 2 and metrics["validation_perplexity"] == pytest.approx(min(perplexities))
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["pad_token_id"] == 2

    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    scores = json.loads((tmp_path / "m.json").read_text())
    assert scores["perplexity"] == pytest.approx(metrics["perplexity"], rel=1e-4)
    assert scores["rougeL"] == pytest.approx(metrics["rougeL"])

    predicted = cli("predict", out, "--input", "say red cat :", "--input", "say sun moon :",
                    "--output", tmp_path / "p.json")
    assert predicted.exit_code == 0, predicted.stderr
    records = json.loads((tmp_path / "p.json").read_text())
    assert [r["prompt"] for r in records] == ["say red cat :", "say sun moon :"]
    assert all(isinstance(r["generated_text"], str) and len(r["generated_text"].split()) <= 6 for r in records)
    assert "output" in predicted.stdout  # the table: results go to stdout


def test_rows_missing_fields_exit_2(cli, tmp_path, model_dir):
    rows = echo_rows(8, seed=0)
    del rows[3]["completion"]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    assert_user_error(cli("finetune", "generation", "--model", model_dir, "--train", train,
                          "--output-dir", tmp_path / "r"), "row", "no 'completion' text")
    assert not (tmp_path / "r").exists()

    other = write_jsonl(tmp_path / "other.jsonl", [{"question": "a", "answer": "b"}] * 4)
    assert_user_error(cli("finetune", "generation", "--model", model_dir, "--train", other,
                          "--output-dir", tmp_path / "r"), "needs a 'text' column", "columns: question, answer")


def test_data_check_generation(cli, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", echo_rows(10, seed=0))
    result = cli("data", "check", data, "--task", "generation", "--output", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["problems"] == [] and report["lengths"]["completion"]["p50"] == 2
