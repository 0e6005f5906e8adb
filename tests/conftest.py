"""Shared fixtures: offline mode, a tiny random BERT checkpoint with its own WordPiece
vocabulary, tiny labelled data, and an in-process CLI runner.

Derived files (the converted SmolLM2) use the normal ftcli cache, so a
second `make test` reuses them; set FTCLI_CACHE to isolate a run."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["FTCLI_AUTO_PRECISION"] = "no"  # train.mixed_precision=auto: the same numbers on every CPU

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
PLACES = ["paris", "london", "rome"]
PEOPLE = ["alice", "bob", "carol"]
SURNAMES = ["smith", "jones"]
SUBWORDS = ["play", "##ing", "##ed"]


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


def ner_rows(count: int, seed: int = 0) -> list[dict]:
    """Sentences with places (B-LOC) and people (B-PER, I-PER for a surname) among filler words."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        tokens, tags = [], []
        for _ in range(rng.randint(3, 7)):
            choice = rng.random()
            if choice < 0.2:
                tokens.append(rng.choice(PLACES)), tags.append("B-LOC")
            elif choice < 0.35:
                tokens += [rng.choice(PEOPLE), rng.choice(SURNAMES)]
                tags += ["B-PER", "I-PER"]
            else:
                tokens.append(rng.choice(FILLER + ["playing", "played"])), tags.append("O")
        rows.append({"tokens": tokens, "tags": tags})
    return rows


def nli_rows(count: int, seed: int = 0) -> list[dict]:
    """The hypothesis repeats the premise's sentiment word (entailment) or flips it (contradiction)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        positive = rng.random() < 0.5
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        entail = i % 2 == 0
        other = word if entail else rng.choice(NEGATIVE if positive else POSITIVE)
        rows.append({"premise": " ".join(rng.sample(FILLER, 3) + [word]),
                     "hypothesis": f"the film was {other}",
                     "label": "entailment" if entail else "contradiction"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


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
    words = SPECIAL + POSITIVE + NEGATIVE + FILLER + PLACES + PEOPLE + SURNAMES + SUBWORDS
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)}, model_max_length=64)
    torch.manual_seed(0)
    config = ours.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64, max_position_embeddings=128)
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


def run_ftcli(*args) -> None:
    """`ftcli ARGS...` in this process for a module- or session-scoped fixture (which cannot use `cli`); it must
    succeed."""
    from ftcli.cli.app import main

    saved, sys.argv = sys.argv, ["ftcli", *map(str, args)]
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        sys.argv = saved
    assert exit_.value.code in (0, None), f"ftcli {' '.join(map(str, args))} exited {exit_.value.code}"


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


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def bigbench_copy(tmp_path, monkeypatch):
    """`make(tasks)` writes a copy of the BIG-bench sdist (`bigbench-1.0.0/bigbench/benchmark_tasks/
    <task>/task.json` in a .tar.gz) holding `tasks` ({task: examples, or a task.json path}), and
    points FTCLI_BIGBENCH_SDIST at it with an empty ftcli cache: the path a user with a copy takes."""
    import io
    import json
    import tarfile

    def make(tasks: dict) -> Path:
        sdist = tmp_path / "bigbench-1.0.0.tar.gz"
        with tarfile.open(sdist, "w:gz") as archive:
            for task, examples in tasks.items():
                data = Path(examples).read_bytes() if isinstance(examples, (str, Path)) else \
                    json.dumps({"name": task, "examples": examples}).encode()
                member = tarfile.TarInfo(f"bigbench-1.0.0/bigbench/benchmark_tasks/{task}/task.json")
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
        monkeypatch.setenv("FTCLI_BIGBENCH_SDIST", str(sdist))
        monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
        return sdist

    return make
