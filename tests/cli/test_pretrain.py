"""`ftcli pretrain`: every objective end to end on a tiny fresh model, the saved model in plain
transformers and in `ftcli finetune`, and the bad input that must stop it in one line."""

import json
import random

import pytest
import transformers

from tests.conftest import FILLER, NEGATIVE, POSITIVE, write_csv

TINY = ["--hidden-size", "32", "--layers", "2", "--heads", "2", "--intermediate-size", "37"]
WORDS = POSITIVE + NEGATIVE + FILLER


def documents(count: int, seed: int = 0) -> list[dict]:
    """Documents of several sentences of the tiny vocabulary's words."""
    rng = random.Random(seed)
    sentences = lambda: " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."  # noqa: E731
    return [{"text": " ".join(sentences() for _ in range(rng.randint(2, 6)))} for _ in range(count)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return write_csv(root / "train.csv", documents(60)), write_csv(root / "eval.csv", documents(12, seed=1))


CASES = {  # objective: (architecture, plain transformers class, metrics)
    "mlm": ("bert", transformers.AutoModelForMaskedLM, {"masked_accuracy"}),
    "mlm+nsp": ("bert", transformers.AutoModelForPreTraining, {"masked_accuracy", "nsp_accuracy"}),
    "sop": ("albert", transformers.AutoModelForPreTraining, {"masked_accuracy", "sop_accuracy"}),
    "rtd": ("electra", transformers.AutoModelForPreTraining, {"rtd_accuracy", "rtd_auc", "masked_accuracy"}),
    "clm": ("gpt2", transformers.AutoModelForCausalLM, {"perplexity", "next_token_accuracy"}),
}


@pytest.mark.parametrize("objective", CASES)
def test_each_objective_trains_and_saves_a_plain_transformers_model(cli, tmp_path, tiny_bert, corpus, objective):
    architecture, auto_class, expected = CASES[objective]
    train, eval_ = corpus
    out = tmp_path / "run"
    result = cli("pretrain", objective, "--config", architecture, "--tokenizer", tiny_bert, *TINY,
                 "--train", train, "--test", eval_, "--max-length", "32", "--batch-size", "8", "--epochs", "2",
                 "--output-dir", out, "--set", "train.logging_steps=1")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert expected <= metrics.keys() and metrics["loss"] > 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if "train_loss" in r] == [1, 2]
    model = auto_class.from_pretrained(out / "model")
    assert model.config.model_type == architecture
    if objective == "rtd":
        assert type(model).__name__ == "ElectraForPreTraining"  # the discriminator is the run's model
        parts = [r for r in log if "generator_loss" in r]
        assert parts and "discriminator_loss" in parts[0]


def test_pretrained_model_feeds_finetune(cli, tmp_path, tiny_bert, corpus, sentiment_csv, sentiment_eval_csv):
    train, eval_ = corpus
    result = cli("pretrain", "mlm+nsp", "--config", "bert", "--tokenizer", tiny_bert, *TINY, "--train", train,
                 "--test", eval_, "--max-length", "32", "--epochs", "1", "--output-dir", tmp_path / "pre")
    assert result.exit_code == 0, result.stderr
    result = cli("finetune", "classification", "--model", tmp_path / "pre" / "model", "--train", sentiment_csv,
                 "--test", sentiment_eval_csv, "--epochs", "1", "--output-dir", tmp_path / "ft")
    assert result.exit_code == 0, result.stderr
    assert "accuracy" in json.loads((tmp_path / "ft" / "metrics.json").read_text())


def test_clm_run_generates(cli, tmp_path, tiny_bert, corpus):
    train, eval_ = corpus
    out = tmp_path / "gpt"
    assert cli("pretrain", "clm", "--config", "gpt2", "--tokenizer", tiny_bert, *TINY, "--train", train, "--test",
               eval_, "--max-length", "32", "--epochs", "1", "--output-dir", out).exit_code == 0
    result = cli("predict", out, "--input", "the film was")
    assert result.exit_code == 0, result.stderr
    assert "the film was" in result.stdout + result.stderr


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.stderr
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_input_stops_in_one_line_with_no_run_left(cli, tmp_path, tiny_bert, corpus):
    train, eval_ = corpus
    empty = write_csv(tmp_path / "empty.csv", [{"text": ""}, {"text": "  "}])
    short = write_csv(tmp_path / "short.csv", [{"text": "good film."}])
    out = tmp_path / "run"
    base = ("--tokenizer", tiny_bert, *TINY, "--max-length", "32", "--output-dir", out)
    one_line_error(cli("pretrain", "mlm", "--config", "bert", "--train", empty, "--test", eval_, *base), "holds no text")
    one_line_error(cli("pretrain", "mlm", "--config", "bert", "--train", short, "--test", eval_, *base),
                   "too short for one block", str(short))
    one_line_error(cli("pretrain", "sop", "--config", "gpt2", "--train", train, "--test", eval_, *base),
                   "sop needs a pre-training head")
    one_line_error(cli("pretrain", "rtd", "--config", "bert", "--train", train, "--test", eval_, *base),
                   "rtd trains an ELECTRA discriminator")
    one_line_error(cli("pretrain", "clm", "--config", "bert", "--train", train, "--test", eval_, *base),
                   "clm needs a decoder")
    one_line_error(cli("pretrain", "nsp", "--config", "bert", "--train", train, *base), "unknown pre-training objective")
    one_line_error(cli("pretrain", "mlm", "--train", train, *base[2:]), "either --model")
    assert not out.exists()


def test_tokenizer_and_model_vocabularies_must_match(cli, tmp_path, tiny_bert, corpus):
    import shutil

    from transformers import BertTokenizerFast

    # A checkpoint whose tokenizer knows more tokens than the model has embeddings for.
    checkpoint = tmp_path / "mismatch"
    shutil.copytree(tiny_bert, checkpoint)
    words = list(BertTokenizerFast.from_pretrained(tiny_bert).get_vocab()) + [f"extra{i}" for i in range(50)]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(checkpoint)
    train, eval_ = corpus
    one_line_error(cli("pretrain", "mlm", "--model", checkpoint, "--train", train, "--test", eval_,
                       "--output-dir", tmp_path / "run"), "has 88 tokens but the model has only 38 embeddings")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("kind", "objective", "architecture"), [("wordpiece", "mlm+nsp", "bert"), ("bpe", "clm", "gpt2")])
def test_a_trained_tokenizer_feeds_a_fresh_model(cli, tmp_path, corpus, kind, objective, architecture):
    train, eval_ = corpus
    tokenizer = tmp_path / kind
    result = cli("tokenizer", "train", kind, "--train", train, "--vocab-size", "300", "--output-dir", tokenizer)
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "run"
    result = cli("pretrain", objective, "--config", architecture, "--tokenizer", tokenizer, *TINY, "--train", train,
                 "--test", eval_, "--max-length", "32", "--epochs", "1", "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    assert transformers.AutoTokenizer.from_pretrained(out / "model").get_vocab() == \
        transformers.AutoTokenizer.from_pretrained(tokenizer).get_vocab()
    assert transformers.AutoConfig.from_pretrained(out / "model").vocab_size == len(
        transformers.AutoTokenizer.from_pretrained(tokenizer))


def test_no_library_noise_when_checkpointing_tied_weights(tmp_path, tiny_bert, corpus):
    """accelerate warns "Removed shared tensor ..." at every checkpoint of a model with tied weights
    (the masked-LM decoder); ftcli keeps it off the terminal. A real process: the warning goes
    through logging's last-resort handler, which an in-process capture does not see the same way."""
    import subprocess
    import sys

    train, _ = corpus
    result = subprocess.run([sys.executable, "-m", "ftcli", "pretrain", "mlm", "--model", str(tiny_bert), "--train",
                             str(train), "--epochs", "1", "--max-length", "16", "--batch-size", "4",
                             "--output-dir", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "shared tensor" not in result.stderr + result.stdout
