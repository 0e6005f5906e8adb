"""Strategies on the real MiniLM checkpoint and rt-sentiment rows: feature extraction learns from
frozen features; LoRA adapts BERT's query/value projections and its run reloads."""

import json

import pytest

pytestmark = pytest.mark.integration

SMALL = ["--model", "minilm", "--train", "rt-sentiment", "--limit-train", "600", "--limit-test", "300",
         "--max-length", "64"]


def test_feature_extraction_on_minilm_learns_from_cached_features(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "fe"
    result = cli("finetune", "classification", "--strategy", "feature-extraction", *SMALL, "--epochs", "8",
                 "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    # Only the linear head trains: 384 x 2 weights + 2 biases.
    assert metrics["trainable_parameters"] == 384 * 2 + 2
    assert metrics["accuracy"] > 0.62, metrics  # chance is 0.5; frozen MiniLM features know sentiment
    evaluated = cli("evaluate", out, "--data", "rt-sentiment", "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    # The full 2,000-row test split, features computed by the reloaded body.
    assert json.loads((tmp_path / "m.json").read_text())["eval_rows"] == 2000


def test_lora_on_minilm_targets_query_and_value(cli, tmp_path):
    out = tmp_path / "lora"
    result = cli("finetune", "classification", "--strategy", "lora", *SMALL, "--epochs", "1", "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    adapter = json.loads((out / "model" / "adapter" / "adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == ["query", "value"]
    metrics = json.loads((out / "metrics.json").read_text())
    # r=8 on a 384x384 query and value in 6 layers, plus the 384x2 head.
    assert metrics["trainable_parameters"] == 6 * 2 * (8 * 384 * 2) + 384 * 2 + 2
