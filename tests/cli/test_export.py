"""`ftcli export`: full and LoRA-merged runs load in plain transformers' `pipeline(...)`, and the ONNX
export runs in onnxruntime; all three give ftcli's own predictions."""

import json

import numpy as np
import pytest

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import sentiment_rows, write_jsonl

TEXTS = ["good fun film", "the plot was dull and weak", "a lovely moving story", "boring acting"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert):
    """A full and a LoRA run, trained in real processes (one epoch each)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("export")
    train = write_jsonl(root / "train.jsonl", sentiment_rows(48))
    made = {}
    for strategy, lr in (("full", "2e-3"), ("lora", "1e-2")):
        out = root / strategy
        result = subprocess.run([sys.executable, "-m", "ftcli", "finetune", "classification", "--strategy", strategy,
                                 "--model", str(tiny_bert), "--train", str(train), "--output-dir", str(out),
                                 "--epochs", "2", "--lr", lr, "--batch-size", "8", "--max-length", "16"],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        made[strategy] = out
    return root, made


def ftcli_predictions(cli, run, tmp_path) -> list[dict]:
    out = tmp_path / f"predictions-{run.name}.json"
    result = cli("predict", run, *[item for text in TEXTS for item in ("--input", text)], "--output", out)
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_a_run_s_own_model_folder_runs_in_a_plain_transformers_pipeline(cli, tmp_path, runs, strategy):
    """No export needed: model/ itself is what `pipeline` loads (LoRA merged, its adapter in model/adapter/)."""
    from transformers import pipeline

    run = runs[1][strategy]
    classify = pipeline("text-classification", model=str(run / "model"), device="cpu")
    theirs = classify(TEXTS)
    ours = ftcli_predictions(cli, run, tmp_path)
    assert [t["label"] for t in theirs] == [o["label"] for o in ours]
    assert [t["score"] for t in theirs] == pytest.approx([o["score"] for o in ours], abs=1e-5)
    assert not (run / "model" / "README.md").exists()  # no peft template beside the run's own card
    if strategy == "lora":
        assert (run / "model" / "adapter" / "adapter_model.safetensors").is_file()
        assert "merged into full weights" in (run / "README.md").read_text()


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_exported_model_runs_in_a_plain_transformers_pipeline(cli, tmp_path, runs, strategy):
    from transformers import pipeline

    run = runs[1][strategy]
    exported = tmp_path / "exported"
    result = cli("export", run, "--output-dir", exported)
    assert result.exit_code == 0, result.stderr
    classify = pipeline("text-classification", model=str(exported), device="cpu")
    theirs = classify(TEXTS)
    ours = ftcli_predictions(cli, run, tmp_path)
    assert [t["label"] for t in theirs] == [o["label"] for o in ours]
    assert [t["score"] for t in theirs] == pytest.approx([o["score"] for o in ours], abs=1e-5)


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_onnx_export_matches_ftcli(cli, tmp_path, runs, strategy):
    import onnxruntime
    from transformers import AutoTokenizer

    run = runs[1][strategy]
    exported = tmp_path / "onnx"
    result = cli("export", run, "--output-dir", exported, "--format", "onnx")
    assert result.exit_code == 0, result.stderr
    assert (exported / "model.onnx").is_file() and "match PyTorch" in result.stderr.replace("\n", " ")
    tokenizer = AutoTokenizer.from_pretrained(exported)
    batch = tokenizer(TEXTS, padding=True, return_tensors="np")
    session = onnxruntime.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    (logits,) = session.run(["logits"], {name: batch[name] for name in names})
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    id2label = json.loads((exported / "config.json").read_text())["id2label"]
    ours = ftcli_predictions(cli, run, tmp_path)
    assert [id2label[str(i)] for i in probabilities.argmax(-1)] == [o["label"] for o in ours]
    assert probabilities.max(-1).tolist() == pytest.approx([o["score"] for o in ours], abs=1e-4)


def test_onnx_export_refuses_runs_without_full_weights(cli, tmp_path, tiny_bert):
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(16))
    run = tmp_path / "heads"
    result = cli("finetune", "classification", "--strategy", "feature-extraction", "--model", tiny_bert,
                 "--train", train, "--output-dir", run, "--epochs", "1", "--max-length", "16")
    assert result.exit_code == 0, result.stderr
    assert_user_error(cli("export", run, "--output-dir", tmp_path / "x", "--format", "onnx"), "exports full weights")
    assert_user_error(cli("export", run, "--output-dir", tmp_path / "x", "--format", "tflite"), "--format must be one of")
    assert not (tmp_path / "x").exists()
