"""Weights that fit their config, or a refusal; a head that does not fit the labels is replaced on
purpose and said; predict and evaluate refuse a checkpoint whose task head would be random."""

import json
import shutil

import pytest

from tests.cli.test_finetune_cli import assert_user_error, finetune
from tests.conftest import sentiment_rows, write_jsonl


@pytest.fixture
def mismatched(tmp_path, tiny_bert):
    """tiny_bert's config and tokenizer over other weights (filled in by each test)."""
    folder = tmp_path / "mismatched"
    shutil.copytree(tiny_bert, folder)
    (folder / "model.safetensors").unlink()
    return folder


def test_a_config_over_another_architecture_s_weights_is_refused(cli, tmp_path, mismatched, sentiment_csv):
    from transformers import GPT2Config, GPT2Model

    GPT2Model(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=99)).save_pretrained(tmp_path / "gpt2")
    shutil.copy(tmp_path / "gpt2" / "model.safetensors", mismatched / "model.safetensors")
    result = finetune(cli, mismatched, sentiment_csv, tmp_path / "run", "--epochs", "1")
    assert_user_error(result, "none of the weights", "belong to different models")
    assert not (tmp_path / "run").exists()


def test_a_config_of_another_width_is_refused(cli, tmp_path, tiny_bert, mismatched, sentiment_csv):
    config = json.loads((tiny_bert / "config.json").read_text())
    config.update(hidden_size=64, intermediate_size=128)
    (mismatched / "config.json").write_text(json.dumps(config))
    shutil.copy(tiny_bert / "model.safetensors", mismatched / "model.safetensors")
    result = finetune(cli, mismatched, sentiment_csv, tmp_path / "run", "--epochs", "1")
    assert_user_error(result, "do not fit its config.json", "in the weights but", "by the config")


def test_a_fine_tuned_model_gets_a_new_head_for_a_new_label_set(cli, tmp_path, tiny_bert):
    three = write_jsonl(tmp_path / "three.jsonl", [{**row, "label": ["pos", "neg", "mixed"][i % 3]}
                                                   for i, row in enumerate(sentiment_rows(24))])
    first = finetune(cli, tiny_bert, three, tmp_path / "three-labels", "--epochs", "1")
    assert first.exit_code == 0, first.stderr
    two = write_jsonl(tmp_path / "two.jsonl", sentiment_rows(24))
    second = finetune(cli, tmp_path / "three-labels" / "model", two, tmp_path / "two-labels", "--epochs", "1")
    assert second.exit_code == 0, second.stderr
    assert "head: new" in second.stderr and "2 labels" in second.stderr.replace("\n", " ")
    metrics = json.loads((tmp_path / "two-labels" / "metrics.json").read_text())
    assert metrics["head"].startswith("new (classifier.weight is [3, 32]")


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_checkpoint_without_a_trained_head_is_refused_for_predictions(cli, tmp_path, tiny_bert, command):
    data = write_jsonl(tmp_path / "in.jsonl", sentiment_rows(4))
    flag = "--data" if command == "predict" else "--data"
    result = cli(command, tiny_bert, "--task", "classification", flag, data)
    assert_user_error(result, "no trained classification head", "fine-tune it first")
