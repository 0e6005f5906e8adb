"""The real path: MiniLM fine-tuned on Rotten Tomatoes snippets through the CLI, then loaded by
plain transformers in a process that never imports ftcli."""

import json
import subprocess
import sys
import textwrap

import pytest

from ftcli import assets

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rt():
    return assets.DATASETS["rt-sentiment"].splits()


def test_rt_sentiment_split(rt):
    assert rt["test"].num_rows == 2000
    # fresh 7,403 + rotten 5,405 rows (the empty texts are all plot rows), less repeated snippets
    total = rt["train"].num_rows + rt["test"].num_rows
    assert 12_700 < total < 7403 + 5405
    assert len(set(rt["train"]["text"]) | set(rt["test"]["text"])) == total
    assert set(rt["train"]["label"]) == {"positive", "negative"}
    assert all(text.strip() for text in rt["train"]["text"])
    again = assets.DATASETS["rt-sentiment"].splits()
    assert again["test"]["text"] == rt["test"]["text"], "the split must be fixed"
    assert not set(rt["test"]["text"]) & set(rt["train"]["text"]), "no test snippet may be trained on"


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "minilm"
    command = [sys.executable, "-m", "ftcli", "finetune", "classification", "--model", "minilm",
               "--train", "rt-sentiment", "--limit-train", "400", "--limit-test", "200", "--epochs", "1",
               "--max-length", "64", "--output-dir", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_minilm_run_reports_metrics(minilm_run):
    metrics = json.loads((minilm_run / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["train_rows"] == 400 and metrics["eval_rows"] == 200
    assert metrics["train_samples_per_second"] > 0


def test_plain_transformers_reproduces_our_logits(minilm_run, rt):
    import torch

    from ftcli.models.loading import load_model, load_tokenizer

    texts = rt["test"]["text"][:8]
    model = load_model(str(minilm_run / "model"), "AutoModelForSequenceClassification").eval()
    assert type(model).__module__.startswith("ftcli."), "ftcli must load its own BERT class"
    tokenizer = load_tokenizer(str(minilm_run / "model"))
    with torch.no_grad():
        ours = model(**tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")).logits

    script = textwrap.dedent(f"""
        import json, sys, torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        path = {str(minilm_run / "model")!r}
        model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        texts = json.loads(sys.stdin.read())
        with torch.no_grad():
            logits = model(**tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")).logits
        assert "ftcli" not in sys.modules
        print(json.dumps({{"logits": logits.tolist(), "class": type(model).__module__}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(texts), capture_output=True,
                          text=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    assert theirs["class"].startswith("transformers.")
    assert (torch.tensor(theirs["logits"]) - ours).abs().max().item() <= 1e-5


def test_smollm2_alias_converts_once_to_safetensors():
    from pathlib import Path

    path = assets.resolve_model("smollm2")
    files = {p.name for p in Path(path).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    weights = Path(path) / "model.safetensors"
    written = weights.stat().st_mtime_ns
    assert assets.resolve_model("smollm2") == path
    assert weights.stat().st_mtime_ns == written, "the converted checkpoint must be reused, not rebuilt"

    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    assert config.model_type == "llama" and config.num_hidden_layers == 30 and config.hidden_size == 576
