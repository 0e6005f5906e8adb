"""`ftcli tokenizer train` and `ftcli tokenizer show`: train each algorithm on a small text, load the
result with plain transformers, and compare splits."""

from __future__ import annotations

import json
import os
import random

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402

WORDS = ["the", "film", "story", "was", "good", "bad", "acting", "director", "played", "playing", "movie",
         "scenes", "music", "camera", "very", "quite", "and", "but", "with", "a", "long", "short"]
SAMPLE = "The director was very good, but the acting was bad."


def register() -> None:
    """The tokenizer sub-app on ftcli's app, as app.py wires it (a no-op once app.py does)."""
    from ftcli.cli.app import app
    from ftcli.cli.tokenizer import tokenizer_app

    if not any(group.name == "tokenizer" for group in app.registered_groups):
        app.add_typer(tokenizer_app, name="tokenizer")


@pytest.fixture(autouse=True)
def registered():
    register()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 200 short documents of two or three sentences, blank lines between them."""
    rng = random.Random(0)
    documents = []
    for _ in range(200):
        sentences = [" ".join(rng.choices(WORDS, k=rng.randint(4, 9))).capitalize() + rng.choice(".!?")
                     for _ in range(rng.randint(2, 3))]
        documents.append(" ".join(sentences))
    documents.append(SAMPLE)
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text("\n\n".join(documents) + "\n")
    return path


def train(cli, algorithm, data, out, *extra):
    return cli("tokenizer", "train", algorithm, "--train", data, "--output-dir", out, *extra)


def one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """Each algorithm trained once on the corpus (through the CLI)."""
    import sys

    from _pytest.monkeypatch import MonkeyPatch

    from ftcli.cli.app import main

    out = tmp_path_factory.mktemp("tokenizers")
    sizes = {"bpe": "300", "wordpiece": "120", "unigram": "120"}
    outputs = {}
    register()
    with MonkeyPatch.context() as patch:
        for algorithm, size in sizes.items():
            patch.setattr(sys, "argv", ["ftcli", "tokenizer", "train", algorithm, "--train", str(corpus),
                                        "--vocab-size", size, "--output-dir", str(out / algorithm)])
            try:
                main()
            except SystemExit as exit_:
                assert not exit_.code, f"{algorithm} training failed"
            outputs[algorithm] = out / algorithm
    return outputs


@pytest.mark.parametrize("algorithm", ["bpe", "wordpiece", "unigram"])
def test_trained_tokenizer_loads_with_auto_tokenizer(trained, algorithm):
    from transformers import AutoTokenizer

    folder = trained[algorithm]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.is_fast
    marker = json.loads((folder / "ftcli_tokenizer.json").read_text())
    assert marker["algorithm"] == algorithm and marker["vocab_size"] == len(tokenizer)
    ids = tokenizer(SAMPLE)["input_ids"]
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    if algorithm == "bpe":
        assert len(tokenizer) == 300
        assert decoded == SAMPLE
        assert tokenizer.bos_token == tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
        assert tokenizer.unk_token == "<|endoftext|>" and tokenizer.pad_token_id == 0
        assert tokenizer.decode(tokenizer("naïve 😀 ünïcode")["input_ids"]) == "naïve 😀 ünïcode"  # bytes: nothing unknown
    else:
        assert decoded.replace(" ,", ",").replace(" .", ".") == SAMPLE.lower()
        assert tokenizer.cls_token == "[CLS]" and tokenizer.sep_token == "[SEP]" and tokenizer.mask_token == "[MASK]"
        assert tokenizer.pad_token_id == 0
        tokens = tokenizer.convert_ids_to_tokens(ids)
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokenizer.unk_token_id not in ids
        assert tokenizer.model_max_length == 512


@pytest.mark.parametrize("algorithm", ["wordpiece", "unigram"])
def test_pairs_get_token_type_ids(trained, algorithm):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained[algorithm])
    encoded = tokenizer("the film was good", "the acting was bad")
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2 and tokens[-1] == "[SEP]"
    first_sep = tokens.index("[SEP]")
    assert encoded["token_type_ids"] == [0] * (first_sep + 1) + [1] * (len(tokens) - first_sep - 1)
    padded = tokenizer(["the film", "the film was very good"], padding=True)
    assert padded["input_ids"][0][-1] == tokenizer.pad_token_id


def test_wordpiece_is_bert_style(trained):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained["wordpiece"])
    assert tokenizer.tokenize("The FILM") == ["the", "film"]  # lower-cased by default
    assert any(token.startswith("##") for token in tokenizer.get_vocab())
    assert tokenizer.convert_ids_to_tokens(tokenizer("qzx")["input_ids"])[1] == "[UNK]"


def test_train_output_reports_vocabulary_and_example(cli, corpus, tmp_path):
    result = train(cli, "wordpiece", corpus, tmp_path / "wp", "--vocab-size", "100", "--no-lowercase",
                   "--min-frequency", "1")
    assert result.exit_code == 0, result.stderr
    output = " ".join(result.stderr.split())
    assert "Vocabulary: 100 entries" in output and "lowercase off" in output
    assert "Example (" in output and "tokens):" in output
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tmp_path / "wp").tokenize("The")[0].startswith("T")  # case kept


def test_train_on_a_catalogue_alias(cli, tmp_path):
    result = train(cli, "bpe", "headlines", tmp_path / "bpe", "--vocab-size", "400", "--limit-train", "20")
    assert result.exit_code == 0, result.stderr
    marker = json.loads((tmp_path / "bpe" / "ftcli_tokenizer.json").read_text())
    assert marker["documents"] == 20 and marker["train"] == "headlines" and marker["vocab_size"] == 400


def test_train_on_a_csv_column(cli, tmp_path):
    from tests.conftest import sentiment_rows, write_csv

    data = write_csv(tmp_path / "reviews.csv", [{"review": r["text"], "label": r["label"]} for r in sentiment_rows(50)])
    one_line_error(train(cli, "unigram", data, tmp_path / "u", "--vocab-size", "60"), "no 'text' column",
                   "--column text=NAME")
    result = train(cli, "unigram", data, tmp_path / "u", "--vocab-size", "60", "--column", "text=review")
    assert result.exit_code == 0, result.stderr


def test_output_folder_rules(cli, corpus, tmp_path):
    out = tmp_path / "tok"
    assert train(cli, "bpe", corpus, out, "--vocab-size", "280").exit_code == 0
    # an earlier tokenizer output is replaced only when asked
    one_line_error(train(cli, "bpe", corpus, out, "--vocab-size", "290"), "already holds a tokenizer", "--overwrite")
    assert json.loads((out / "ftcli_tokenizer.json").read_text())["vocab_size"] == 280
    assert train(cli, "bpe", corpus, out, "--vocab-size", "290", "--overwrite").exit_code == 0
    assert json.loads((out / "ftcli_tokenizer.json").read_text())["vocab_size"] == 290
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.md").write_text("mine")
    # a folder ftcli did not write is never replaced, --overwrite or not
    one_line_error(train(cli, "bpe", corpus, other, "--vocab-size", "280"), "not empty")
    one_line_error(train(cli, "bpe", corpus, other, "--vocab-size", "280", "--overwrite"), "not empty")
    assert (other / "keep.md").read_text() == "mine" and not (other / "tokenizer.json").exists()
    assert not list(tmp_path.glob(".*"))  # no staging folder left behind
    (tmp_path / "file").write_text("x")
    one_line_error(train(cli, "bpe", corpus, tmp_path / "file", "--vocab-size", "280"), "is a file")


@pytest.mark.parametrize("args, fragments", [
    (["sentencepiece", "--vocab-size", "100"], ["unknown tokenizer algorithm 'sentencepiece'", "bpe, wordpiece, unigram"]),
    (["bpe", "--vocab-size", "0"], ["--vocab-size must be between 1 and 1,048,576, got 0"]),
    (["bpe", "--vocab-size", "-5"], ["--vocab-size must be between 1"]),
    (["bpe", "--vocab-size", "100000000000"], ["--vocab-size must be between 1 and 1,048,576, got 100,000,000,000"]),
    (["bpe", "--vocab-size", "200"], ["--vocab-size 200 is too small", "256 byte symbols", "at least 257"]),
    (["wordpiece", "--vocab-size", "10"], ["--vocab-size 10 is too small", "5 special tokens", "distinct characters"]),
    (["unigram", "--vocab-size", "100", "--limit-train", "0"], ["--limit-train must be at least 1"]),
])
def test_bad_arguments_are_one_line_errors(cli, corpus, tmp_path, args, fragments):
    algorithm, *rest = args
    result = train(cli, algorithm, corpus, tmp_path / "out", *rest)
    one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_empty_text_is_a_one_line_error(cli, tmp_path):
    (tmp_path / "blank.txt").write_text("\n\n  \n")
    one_line_error(train(cli, "bpe", tmp_path / "blank.txt", tmp_path / "out", "--vocab-size", "300"),
                   "blank.txt holds no text")
    (tmp_path / "empty.csv").write_text("text,label\n,a\n,b\n")
    one_line_error(train(cli, "bpe", tmp_path / "empty.csv", tmp_path / "out", "--vocab-size", "300"),
                   "empty.csv holds no text")
    one_line_error(train(cli, "bpe", tmp_path / "missing.txt", tmp_path / "out", "--vocab-size", "300"),
                   "data file not found")


def test_show_prints_the_three_splits(cli, trained):
    result = cli("tokenizer", "show", "Unbelievably, the directors played!", "--tokenizer", trained["wordpiece"])
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in result.stdout.splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    assert rows["words"][:2] == ["6", ""] and rows["words"][2].startswith("Unbelievably , the")
    assert rows["characters"][:2] == ["32", ""] and rows["characters"][2].startswith("U n b e l")
    assert rows["sub-words"][1] == "1"  # WordPiece makes a word it cannot spell one [UNK]
    assert rows["sub-words"][2].startswith("[UNK] , the")
    flat = " ".join(result.stdout.split())
    assert "7 sub-words for 6 words (1.17 per word), 1 unknown; unknown: Unbelievably" in flat


def test_show_counts_unknown_tokens(cli, trained):
    result = cli("tokenizer", "show", "the film 😀", "--tokenizer", trained["wordpiece"])
    assert result.exit_code == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "1 unknown; unknown: 😀" in flat and "[UNK]" in flat
    bpe = cli("tokenizer", "show", "the film 😀", "--model", trained["bpe"])  # a folder without config.json
    assert bpe.exit_code == 0, bpe.stderr
    assert "0 unknown" in " ".join(bpe.stdout.split())


def test_show_with_a_model_alias(cli, minilm_dir):
    result = cli("tokenizer", "show", "Tokenization is fun", "--model", "minilm")
    assert result.exit_code == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "3 words" in flat and "token ##ization" in flat


def test_show_errors(cli, trained, tmp_path):
    one_line_error(cli("tokenizer", "show", "x", "--model", "minilm", "--tokenizer", trained["bpe"]), "not both")
    one_line_error(cli("tokenizer", "show", "x", "--tokenizer", tmp_path / "nope"), "no such folder")
    one_line_error(cli("tokenizer", "show", "  ", "--tokenizer", trained["bpe"]), "TEXT is empty")
    one_line_error(cli("tokenizer", "show", "x", "--tokenizer", tmp_path), "has no tokenizer")


def test_a_trained_tokenizer_starts_a_fresh_model(cli, trained, tmp_path):
    """`ftcli models init --tokenizer DIR` takes a tokenizer folder (no config.json in it)."""
    from transformers import AutoConfig

    result = cli("models", "init", "--config", "bert", "--tokenizer", trained["wordpiece"], "--output-dir", tmp_path / "m",
                 "--hidden-size", "16", "--layers", "1", "--heads", "2", "--intermediate-size", "32")
    assert result.exit_code == 0, result.stderr
    config = AutoConfig.from_pretrained(tmp_path / "m")
    assert config.vocab_size == json.loads((trained["wordpiece"] / "ftcli_tokenizer.json").read_text())["vocab_size"]
    assert config.pad_token_id == 0
