"""Shared fixtures: offline mode, a private cache, a tiny random BERT checkpoint with its own
WordPiece vocabulary, tiny labelled data, and an in-process CLI runner."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import csv  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

POSITIVE = ["good", "great", "fun", "lovely", "brilliant", "moving"]
NEGATIVE = ["bad", "awful", "dull", "boring", "weak", "tedious"]
FILLER = ["the", "film", "was", "a", "story", "and", "very", "plot", "acting", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Derived files (converted models) go to a per-session cache unless one is configured."""
    if "FTCLI_CACHE" not in os.environ:
        os.environ["FTCLI_CACHE"] = str(tmp_path_factory.mktemp("ftcli-cache"))


def sentiment_rows(count: int, seed: int = 0) -> list[dict]:
    """Short texts whose label is given by one sentiment word among filler words."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label == "positive" else NEGATIVE)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A random BERT (hidden 32, 2 layers) saved as a checkpoint directory with a tokenizer."""
    import torch
    from transformers import BertTokenizerFast

    import ftcli.models.bert as ours

    directory = tmp_path_factory.mktemp("tiny-bert")
    words = SPECIAL + POSITIVE + NEGATIVE + FILLER
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)}, model_max_length=64)
    torch.manual_seed(0)
    config = ours.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)
    ours.BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def sentiment_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "train.csv", sentiment_rows(160))


@pytest.fixture(scope="session")
def sentiment_eval_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "eval.csv", sentiment_rows(60, seed=1))


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `ftcli ARGS...` in this process, as the console script would."""
    from ftcli.cli.app import main

    def invoke(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["ftcli", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return invoke


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from ftcli import assets

    if not assets.MODELS["minilm"].installed():
        pytest.fail("the minilm asset is not installed: run `make install`")
    return Path(assets.resolve_model("minilm"))
