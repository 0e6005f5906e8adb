"""Hostile inputs: every malformed file, model or setting is one `error: ...` line on stderr naming
the problem and where it is (file, row as numbered in the file, column), exit status 2, no
traceback, and, for `finetune`, no run directory (nor a hidden staging sibling) left behind.

Each case writes what it needs under tmp_path and returns the command line; the table is the
list of CASES below (ids name the command and the problem)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import ner_rows, nli_rows, run_ftcli, sentiment_rows, write_csv, write_jsonl

FAST = ["--epochs", "1", "--batch-size", "8", "--max-length", "16"]


def assert_user_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def no_run_left(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f".{out.name}*"))


@dataclass
class Env:
    """What a case may use: a scratch folder, the tiny BERT, data that is fine, a finished run."""

    tmp: Path
    model: Path
    train: Path
    out: Path
    run: Callable[[], Path]

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def jsonl(self, name: str, rows: list[dict]) -> Path:
        return write_jsonl(self.tmp / name, rows)

    def csv(self, name: str, rows: list[dict]) -> Path:
        return write_csv(self.tmp / name, rows)

    def finetune(self, task: str, train: Path | str, *extra, model: Path | str | None = None) -> list:
        return ["finetune", task, "--model", model or self.model, "--train", train,
                "--output-dir", self.out, *FAST, *extra]

    def model_copy(self, name: str) -> Path:
        target = self.tmp / name
        shutil.copytree(self.model, target)
        return target


@dataclass
class Case:
    id: str
    command: Callable[[Env], list]
    expected: tuple[str, ...]


# -- inputs ------------------------------------------------------------------------------------

LATIN1 = "café".encode("latin-1")  # b"caf\xe9": not UTF-8


def truncated_weights(env: Env, name: str = "truncated-model") -> Path:
    model = env.model_copy(name)
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return model


def garbage_run(env: Env) -> Path:
    run = env.tmp / "garbage-run"
    shutil.copytree(env.run(), run)
    (run / "model" / "model.safetensors").write_bytes(os.urandom(512))
    return run


def model_without_tokenizer(env: Env) -> Path:
    model = env.tmp / "no-tokenizer"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(env.model / name, model / name)
    return model


def model_with_extra_tokens(env: Env) -> Path:
    """Tokens added to the tokenizer without resizing the embeddings."""
    from transformers import AutoTokenizer

    model = env.model_copy("extra-tokens")
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.add_tokens(["zebra", "yak", "gnu"])
    tokenizer.save_pretrained(model)
    return model


def damaged_tokenizer(env: Env) -> Path:
    model = env.model_copy("damaged-tokenizer")
    (model / "tokenizer.json").write_text('{"version": "1.0", "truncation": null}')
    return model


def with_row(rows: list[dict], number: int, **changes) -> list[dict]:
    """`rows` with data row `number` (from 1) changed."""
    rows = [dict(row) for row in rows]
    rows[number - 1].update(changes)
    return rows


NER = ner_rows(60)
QA = ("--max-length", "48")  # room for the question and some context


def ner_file(env: Env, number: int, **changes) -> Path:
    return env.jsonl("ner.jsonl", with_row(NER, number, **changes))


def qa_file(env: Env, number: int, **changes) -> Path:
    return env.jsonl("qa.jsonl", with_row(qa_rows(40), number, **changes))


def qa_rows(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        context = f"alice lives in paris and bob lives in rome {i}"
        rows.append({"id": f"q{i}", "question": "where does alice live?", "context": context,
                     "answers": {"text": ["paris"], "answer_start": [context.index("paris")]}})
    return rows


def png_base64() -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def image_rows(env: Env, broken_row: int, broken_value: str) -> Path:
    rows = [{"image": png_base64(), "label": "red" if i % 2 else "blue"} for i in range(12)]
    return env.jsonl("images.jsonl", with_row(rows, broken_row, image=broken_value))


def tiny_vit(folder: Path) -> Path:
    from tests.unit.test_image_classification import tiny_vit as build

    return build(folder / "vit")


def read_only_folder(env: Env) -> Path:
    folder = env.tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores permissions; sysfs refuses new folders
        if not Path("/sys").is_dir():
            pytest.skip("no read-only folder available as this user")
        return Path("/sys")
    return folder


CASES = [
    # 1. text that is not UTF-8, in every text format
    Case("finetune-jsonl-not-utf8",
         lambda e: e.finetune("classification", e.write("latin1.jsonl", b'{"text": "good", "label": "a"}\n'
                                                        b'{"text": "' + LATIN1 + b'", "label": "b"}\n')),
         ("latin1.jsonl", "line 2", "column 14", "not UTF-8")),
    Case("finetune-csv-not-utf8",
         lambda e: e.finetune("classification", e.write("latin1.csv", b"text,label\ngood,a\n" + LATIN1 + b",b\n")),
         ("latin1.csv", "line 3", "column 4", "not UTF-8")),
    Case("data-check-tsv-not-utf8",
         lambda e: ["data", "check", e.write("latin1.tsv", b"text\tlabel\n" + LATIN1 + b"\ta\n"),
                    "--task", "classification"],
         ("latin1.tsv", "line 2", "not UTF-8")),
    Case("evaluate-json-not-utf8",
         lambda e: ["evaluate", e.run(), "--data",
                    e.write("latin1.json", b'[{"text": "' + LATIN1 + b'", "label": "x"}]')],
         ("latin1.json", "line 1", "not UTF-8")),
    Case("finetune-conll-not-utf8",
         lambda e: e.finetune("ner", e.write("latin1.conll", b"paris B-LOC\nis O\n\n" + LATIN1 + b" O\n")),
         ("latin1.conll", "line 4", "not UTF-8")),
    # 2. truncated or corrupt weights
    Case("finetune-truncated-safetensors",
         lambda e: e.finetune("classification", e.train, model=truncated_weights(e)),
         ("model.safetensors", "truncated or corrupt")),
    Case("predict-truncated-safetensors",
         lambda e: ["predict", truncated_weights(e), "--task", "classification", "--input", "good film"],
         ("truncated-model", "model.safetensors", "truncated or corrupt")),
    Case("evaluate-truncated-safetensors",
         lambda e: ["evaluate", truncated_weights(e), "--task", "classification", "--data", e.train],
         ("truncated-model", "model.safetensors", "truncated or corrupt")),
    Case("predict-run-with-garbage-safetensors",
         lambda e: ["predict", garbage_run(e), "--input", "good film"],
         ("garbage-run", "model.safetensors", "truncated or corrupt")),
    # 3. tokenizers that do not fit the model
    Case("finetune-model-without-tokenizer",
         lambda e: e.finetune("classification", e.train, model=model_without_tokenizer(e)),
         ("no-tokenizer", "has no tokenizer")),
    Case("finetune-tokenizer-larger-than-embeddings",
         lambda e: e.finetune("classification", e.train, model=model_with_extra_tokens(e)),
         ("extra-tokens", "41 tokens", "38 embeddings")),
    Case("predict-tokenizer-larger-than-embeddings",
         lambda e: ["predict", model_with_extra_tokens(e), "--task", "classification", "--input", "good film"],
         ("extra-tokens", "41 tokens", "38 embeddings")),
    Case("finetune-damaged-tokenizer-json",
         lambda e: e.finetune("classification", e.train, model=damaged_tokenizer(e)),
         ("damaged-tokenizer", "could not load a tokenizer", "damaged")),
    # 4. labels
    Case("finetune-labels-mix-numbers-and-text",
         lambda e: e.finetune("classification", e.jsonl("mixed.jsonl", with_row(
             [{"text": r["text"], "label": i % 2} for i, r in enumerate(sentiment_rows(40))], 7, label="positive")),
             "--test", e.train),
         ("mixed.jsonl", "'label' mixes", "number (rows 1, 2, 3", "text (row 7)")),
    Case("finetune-csv-empty-label-cell",
         lambda e: e.finetune("classification", e.write(
             "nan.csv", "text,label\n" + "".join(f"the film {i},{i % 2}\n" for i in range(40)).replace(
                 "the film 2,0", "the film 2,").replace("the film 9,1", "the film 9,")), "--test", e.train),
         ("nan.csv", "rows 3, 10", "empty label", "'label'")),
    Case("finetune-null-label",
         lambda e: e.finetune("classification", e.jsonl("null.jsonl", with_row(sentiment_rows(40), 4, label=None))),
         ("null.jsonl", "row 4", "empty label")),
    Case("finetune-blank-label",
         lambda e: e.finetune("classification", e.csv("blank.csv", with_row(sentiment_rows(40), 12, label="  "))),
         ("blank.csv", "row 12", "empty label")),
    Case("finetune-list-label",
         lambda e: e.finetune("classification", e.jsonl("list.jsonl", with_row(sentiment_rows(40), 5, label=["a"]))),
         ("list.jsonl", "row 5", "list or an object")),
    Case("finetune-fractional-label",
         lambda e: e.finetune("classification", e.jsonl("fraction.jsonl", [
             {"text": r["text"], "label": 0.5 if i == 8 else i % 2} for i, r in enumerate(sentiment_rows(40))])),
         ("fraction.jsonl", "row 9", "fractional")),
    Case("finetune-single-label",
         lambda e: e.finetune("classification", e.csv("single.csv", [{"text": "good", "label": "a"}] * 10)),
         ("single.csv", "single label", "'a'")),
    Case("finetune-nli-label-nan",
         lambda e: e.finetune("nli", e.csv("nli.csv", with_row(nli_rows(40), 6, label=""))),
         ("nli.csv", "row 6", "empty label")),
    Case("finetune-jsonl-nan-literal",
         lambda e: e.finetune("classification", e.write("nan.jsonl", '{"text": "a", "label": 1}\n'
                                                        '{"text": "b", "label": NaN}\n{"text": "c", "label": 0}\n'),
                              "--test", e.train),
         ("nan.jsonl", "row 2", "empty label")),
    Case("finetune-eval-label-unseen",
         lambda e: e.finetune("classification", e.train, "--test", e.csv("eval.csv", with_row(
             sentiment_rows(8), 3, label="neutral"))),
         ("eval.csv", "never seen in training", "'neutral' (row 3)")),
    # 6. parser errors without the datasets library's own log line before ours
    Case("finetune-csv-unterminated-quote",
         lambda e: e.finetune("classification", e.write("quote.csv", 'text,label\ngood,a\n"bad,b\nfine,a\n')),
         ("could not read", "quote.csv", "EOF inside string")),
    Case("finetune-csv-ragged-row",
         lambda e: e.finetune("classification", e.write("ragged.csv", "text,label\ngood,a\nbad,b,extra,more\n")),
         ("ragged.csv", "line 3 has 4 fields but the header has 2")),
    # pandas would make the first column an index and shift the row's values one column left
    Case("finetune-csv-first-row-with-one-field-too-many",
         lambda e: e.finetune("classification", e.write("shifted.csv", "text,label\ngood film,a,oops\nbad,b\n")),
         ("shifted.csv", "line 2 has 3 fields but the header has 2")),
    Case("data-check-tsv-row-with-one-field-too-many",
         lambda e: ["data", "check", e.write("shifted.tsv", "text\tlabel\ngood\ta\nbad film\tb\tc\n"),
                    "--task", "classification"],
         ("shifted.tsv", "line 3 has 3 fields")),
    Case("finetune-parquet-garbage",
         lambda e: e.finetune("classification", e.write("garbage.parquet", os.urandom(300))),
         ("could not read", "garbage.parquet")),
    Case("finetune-json-array-of-numbers",
         lambda e: e.finetune("classification", e.write("numbers.json", "[1, 2, 3]")),
         ("numbers.json", "row 1 of the array", "not an object")),
    Case("finetune-json-array-with-a-string",
         lambda e: e.finetune("classification", e.write("mixed.json", '[{"text": "a", "label": "x"}, "b"]')),
         ("mixed.json", "row 2 of the array", "JSON string")),
    Case("data-check-json-scalar",
         lambda e: ["data", "check", e.write("scalar.json", '"hello"'), "--task", "classification"],
         ("scalar.json", "single JSON string")),
    Case("finetune-json-syntax-error",
         lambda e: e.finetune("classification", e.write("broken.json", '[\n{"text": "a",\n "label" 1}]')),
         ("broken.json", "line 3, column 10", "not valid JSON")),
    Case("finetune-jsonl-line-not-object",
         lambda e: e.finetune("classification", e.write("list.jsonl", '{"text": "a", "label": "x"}\n[1, 2]\n')),
         ("list.jsonl", "line 2", "not a JSON object")),
    # 7. rows numbered as in the file, after the held-out split shuffled them
    Case("finetune-empty-text-row-after-split",
         lambda e: e.finetune("classification", e.csv("texts.csv", with_row(sentiment_rows(80), 50, text=""))),
         ("texts.csv", "row 50", "empty or non-text 'text'")),
    Case("finetune-empty-text-row-after-limit-train",  # shuffle().select() reorders the rows too
         lambda e: e.finetune("classification", e.csv("texts.csv", with_row(sentiment_rows(80), 61, text=" ")),
                              "--test", e.train, "--limit-train", "80"),
         ("texts.csv", "row 61", "empty or non-text 'text'")),
    Case("finetune-ner-length-mismatch-row-after-split",
         lambda e: e.finetune("ner", ner_file(e, 37, tags=["O"])),
         ("ner.jsonl", "row 37", "tokens but 1 tags")),
    Case("finetune-ner-non-bio-tag",
         lambda e: e.finetune("ner", ner_file(e, 23, tags=["LOC"] + NER[22]["tags"][1:])),
         ("ner.jsonl", "not BIO", "'LOC'", "row 23")),
    Case("finetune-ner-tokens-as-string",
         lambda e: e.finetune("ner", ner_file(e, 8, tokens="paris is nice")),
         ("ner.jsonl", "row 8", "'tokens' must be a non-empty list")),
    Case("finetune-ner-tags-as-numbers",
         lambda e: e.finetune("ner", ner_file(e, 11, tags=[0] * len(NER[10]["tokens"]))),
         ("ner.jsonl", "row 11", "'tags' must be a list of BIO tags")),
    Case("finetune-conll-line-without-tag",
         lambda e: e.finetune("ner", e.write("one.conll", "paris B-LOC\nis O\nnice\n")),
         ("one.conll", "line 3", "should be 'token TAG'")),
    Case("finetune-qa-answer-start-row-after-split",
         lambda e: e.finetune("qa", qa_file(e, 29, answers={"text": ["paris"], "answer_start": [3]}), *QA),
         ("qa.jsonl", "row 29 (id q28)", "answer_start 3 does not match")),
    Case("finetune-qa-answers-not-squad",
         lambda e: e.finetune("qa", qa_file(e, 3, answers="paris"), *QA),
         ("qa.jsonl", "row 3", "'answers' must be")),
    Case("finetune-qa-answer-start-not-a-number",
         lambda e: e.finetune("qa", qa_file(e, 17, answers={"text": ["paris"], "answer_start": ["fifteen"]}), *QA),
         ("qa.jsonl", "row 17", "integer answer_start")),
    Case("finetune-qa-no-context-column",
         lambda e: e.finetune("qa", e.jsonl("qa.jsonl", [{k: v for k, v in r.items() if k != "context"}
                                                         for r in qa_rows(10)])),
         ("qa.jsonl", "no 'context' column")),
    # other tasks and files
    Case("finetune-nli-no-hypothesis-column",
         lambda e: e.finetune("nli", e.csv("nli.csv", [{"premise": r["premise"], "label": r["label"]}
                                                       for r in nli_rows(20)])),
         ("nli.csv", "no 'hypothesis' column")),
    Case("finetune-nli-empty-premise",
         lambda e: e.finetune("nli", e.csv("nli.csv", with_row(nli_rows(40), 3, premise=""))),
         ("nli.csv", "row 3", "'premise'")),
    Case("finetune-generation-no-layout",
         lambda e: e.finetune("generation", e.jsonl("gen.jsonl", [{"question": "hi", "reply": "hello"}] * 4)),
         ("generation data needs a 'text' column", "question, reply")),
    Case("finetune-generation-empty-completion",
         lambda e: e.finetune("generation", e.jsonl("gen.jsonl", with_row(
             [{"prompt": f"say {i}", "completion": f"{i}"} for i in range(20)], 14, completion=""))),
         ("gen.jsonl", "row 14", "no 'completion' text")),
    Case("finetune-image-missing-file",
         lambda e: e.finetune("image-classification", image_rows(e, 5, "pics/missing.png"), model=tiny_vit(e.tmp)),
         ("images.jsonl", "row 5", "missing.png", "was not found")),
    Case("finetune-image-bad-base64",
         lambda e: e.finetune("image-classification", image_rows(e, 2, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"),
                              model=tiny_vit(e.tmp)),
         ("images.jsonl", "row 2", "not valid base64")),
    Case("finetune-image-not-an-image",
         lambda e: e.finetune("image-classification", image_rows(e, 9, base64.b64encode(b"no picture" * 3).decode()),
                              model=tiny_vit(e.tmp)),
         ("images.jsonl", "row 9", "not an image Pillow can read")),
    Case("finetune-image-folder-without-images",
         lambda e: e.finetune("image-classification", e.write("pictures/cats/notes.txt", "no images").parent.parent,
                              model=tiny_vit(e.tmp)),
         ("pictures", "has no images")),
    Case("finetune-ner-eval-tag-unseen",
         lambda e: e.finetune("ner", e.jsonl("ner.jsonl", ner_rows(30)), "--test", e.jsonl("ner-eval.jsonl", with_row(
             ner_rows(6, seed=1), 5, tags=["B-ORG"] + ner_rows(6, seed=1)[4]["tags"][1:]))),
         ("ner-eval.jsonl", "never seen in training: B-ORG", "row 5")),
    Case("finetune-unsupported-extension",
         lambda e: e.finetune("classification", e.write("data.xlsx", "text,label\n")),
         ("unsupported data file extension '.xlsx'",)),
    Case("finetune-empty-file",
         lambda e: e.finetune("classification", e.write("empty.jsonl", "")),
         ("empty.jsonl", "is empty")),
    # 8. batch sizes, export destinations
    Case("evaluate-batch-size-0",
         lambda e: ["evaluate", e.run(), "--data", e.train, "--batch-size", "0"],
         ("--batch-size must be at least 1, got 0",)),
    Case("predict-batch-size-0",
         lambda e: ["predict", e.run(), "--input", "good film", "--batch-size", "0"],
         ("--batch-size must be at least 1, got 0",)),
    Case("predict-batch-size-negative",
         lambda e: ["predict", e.model, "--task", "classification", "--data", e.train, "--batch-size", "-3"],
         ("--batch-size must be at least 1, got -3",)),
    Case("prompt-batch-size-0",
         lambda e: ["prompt", "classification", "--model", e.model, "--data", e.train, "--batch-size", "0"],
         ("--batch-size must be at least 1, got 0",)),
    Case("export-to-a-file",
         lambda e: ["export", e.run(), "--output-dir", e.write("export.txt", "in the way")],
         ("export.txt", "is a file")),
    Case("export-below-a-file",
         lambda e: ["export", e.run(), "--output-dir", e.write("blocker", "in the way") / "model"],
         ("blocker is a file, not a folder",)),
    Case("export-to-read-only-folder",
         lambda e: ["export", e.run(), "--output-dir", read_only_folder(e) / "exported"],
         ("exported", "not writable")),
    # commands
    Case("evaluate-run-with-wrong-task",
         lambda e: ["evaluate", e.run(), "--task", "ner", "--data", e.train],
         ("is a classification run, not ner",)),
    Case("evaluate-data-without-label-column",
         lambda e: ["evaluate", e.run(), "--data", e.csv("nolabel.csv", [{"text": "good"}] * 3)],
         ("nolabel.csv", "no 'label' column")),
    Case("evaluate-unknown-dataset-alias",
         lambda e: ["evaluate", e.run(), "--data", "no-such-set"],
         ("unknown dataset 'no-such-set'",)),
    Case("predict-file-without-text-column",
         lambda e: ["predict", e.run(), "--data", e.csv("reviews.csv", [{"review": "good"}] * 3)],
         ("reviews.csv", "no 'text' column")),
    Case("predict-neither-input-nor-file",
         lambda e: ["predict", e.run()],
         ("give either --input TEXT or --data DATA",)),
    Case("predict-qa-input-without-separator",
         lambda e: ["predict", e.model, "--task", "qa", "--input", "where is paris?"],
         ("QUESTION ||| CONTEXT",)),
    Case("predict-bad-column-mapping",
         lambda e: ["predict", e.run(), "--data", e.train, "--column", "text"],
         ("--column expects FIELD=NAME",)),
    Case("predict-ner-file-with-empty-tokens",
         lambda e: ["predict", e.model, "--task", "ner", "--data", ner_file(e, 4, tokens=[])],
         ("ner.jsonl", "row 4", "non-empty list of words")),
    Case("data-check-missing-file",
         lambda e: ["data", "check", e.tmp / "nope.csv", "--task", "classification"],
         ("data file not found", "nope.csv")),
    Case("data-check-unknown-task",
         lambda e: ["data", "check", e.train, "--task", "sentiment"],
         ("unknown task 'sentiment'",)),
    Case("prompt-unsupported-task",
         lambda e: ["prompt", "image-classification", "--model", e.model, "--data", e.train],
         ("ftcli prompt does not support image-classification",)),
    Case("prompt-data-not-utf8",
         lambda e: ["prompt", "classification", "--model", e.model,
                    "--data", e.write("latin1.csv", b"text,label\n" + LATIN1 + b",a\n")],
         ("latin1.csv", "line 2", "not UTF-8")),
    Case("recipes-show-unknown",
         lambda e: ["recipes", "show", "nope/full"],
         ("no recipe 'nope/full'",)),
    Case("recipes-cp-below-a-file",
         lambda e: ["recipes", "cp", "classification/full", e.write("blocker", "x") / "r.yaml"],
         ("cannot copy the recipe", "blocker")),
    # numeric settings and output paths of finetune, refused before anything is loaded
    Case("finetune-epochs-0", lambda e: e.finetune("classification", e.train, "--epochs", "0"),
         ("--epochs (train.epochs) must be at least 1, got 0",)),
    Case("finetune-epochs-negative", lambda e: e.finetune("classification", e.train, "--epochs", "-1"),
         ("--epochs", "at least 1", "-1")),
    Case("finetune-batch-size-0", lambda e: e.finetune("classification", e.train, "--batch-size", "0"),
         ("--batch-size (train.batch_size) must be at least 1",)),
    Case("finetune-lr-negative", lambda e: e.finetune("classification", e.train, "--lr", "-1"),
         ("--lr (optim.lr) must be greater than 0, got -1",)),
    Case("finetune-grad-accum-0",
         lambda e: e.finetune("classification", e.train, "--set", "train.grad_accum_steps=0"),
         ("train.grad_accum_steps must be at least 1",)),
    Case("finetune-max-length-0", lambda e: e.finetune("classification", e.train, "--max-length", "0"),
         ("--max-length (model.max_length) must be at least 1",)),
    Case("finetune-max-length-beyond-positions",
         lambda e: e.finetune("classification", e.train, "--max-length", "100000"),
         ("--max-length 100000", "positions for (128)")),
    Case("finetune-eval-fraction-1",
         lambda e: e.finetune("classification", e.train, "--set", "data.eval_fraction=1"),
         ("data.eval_fraction must be in the interval (0, 1)",)),
    Case("finetune-warmup-ratio-negative",
         lambda e: e.finetune("classification", e.train, "--set", "optim.warmup_ratio=-0.1"),
         ("optim.warmup_ratio must be in the interval [0, 1)",)),
    Case("finetune-early-stopping-without-validation",
         lambda e: e.finetune("classification", e.train, "--set", "train.early_stopping_patience=2"),
         ("needs a validation split",)),
    Case("finetune-validation-file-missing",
         lambda e: e.finetune("classification", e.train, "--validation", e.tmp / "nope.csv"),
         ("data file not found", "nope.csv")),
    Case("finetune-output-is-a-file",
         lambda e: e.finetune("classification", e.train, "--output-dir", e.write("out.txt", "in the way")),
         ("out.txt is a file",)),
    Case("finetune-output-below-a-file",
         lambda e: e.finetune("classification", e.train, "--output-dir", e.write("blocker", "x") / "run"),
         ("blocker is a file, not a folder",)),
    Case("finetune-output-read-only",
         lambda e: e.finetune("classification", e.train, "--output-dir", read_only_folder(e) / "run"),
         ("cannot write the run", "not writable")),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_bert, sentiment_csv):
    """One tiny classification run, made on first use (by the cases that read a run)."""
    made: list[Path] = []

    def get() -> Path:
        if not made:
            out = tmp_path_factory.mktemp("runs") / "run"
            run_ftcli("finetune", "classification", "--model", tiny_bert, "--train", sentiment_csv,
                      "--output-dir", out, *FAST)
            made.append(out)
        return made[0]

    return get


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_one_line_exit_2(case, cli, tmp_path, tiny_bert, sentiment_csv, finished_run, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative image paths and default folders stay in the scratch folder
    env = Env(tmp=tmp_path, model=tiny_bert, train=sentiment_csv, out=tmp_path / "out", run=finished_run)
    result = cli(*case.command(env))
    assert_user_error(result, *case.expected)
    assert no_run_left(env.out)


# -- 5. an image alias (base64 images are not file names) -------------------------------------


def test_image_alias_data_check(cli, tmp_path):
    result = cli("data", "check", "cifar10-photos", "--task", "image-classification", "--output", tmp_path / "r.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["problems"] == [] and len(report["labels"]) == 4  # its test split: 4 photos, 4 classes


def test_image_alias_finetune(cli, tmp_path):
    out = tmp_path / "run"
    result = cli("finetune", "image-classification", "--model", tiny_vit(tmp_path),
                 "--train", "cifar10-photos", "--limit-test", "3", "--epochs", "1",
                 "--batch-size", "8", "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_rows"] == 16 and metrics["eval_rows"] == 3


# -- 6. library log lines, as a real process shows them ----------------------------------------
# In-process runs cannot see them: a library's log handler keeps the stderr of its import time.


@pytest.mark.parametrize("name, content, expected", [
    ("quote.csv", 'text,label\ngood,a\n"bad,b\n', "EOF inside string"),
    ("garbage.parquet", b"PAR1 not really a parquet file", "could not read"),
    ("numbers.json", "[1, 2, 3]", "row 1 of the array"),
    ("latin1.csv", b"text,label\n" + LATIN1 + b",a\n", "line 2, column 4 is not UTF-8"),
], ids=["csv-quote", "parquet-garbage", "json-numbers", "csv-latin1"])
def test_no_library_chatter_in_a_real_process(tmp_path, name, content, expected):
    import subprocess
    import sys

    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = subprocess.run([sys.executable, "-m", "ftcli", "data", "check", str(path), "--task", "classification"],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and name in lines[0] and expected in lines[0], lines[0]


# -- 9. internal errors: one line, the traceback in a log file, exit 1 -------------------------


def boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


def test_internal_error_is_one_line_and_a_log(cli, tmp_path, monkeypatch):
    import ftcli.recipe_store

    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FTCLI_DEBUG", raising=False)
    monkeypatch.setattr(ftcli.recipe_store, "list_recipes", boom)
    result = cli("recipes", "ls")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: internal error (RuntimeError: boom); full traceback in ")
    log = Path(lines[0].rsplit(" in ", 1)[1])
    assert log.parent == tmp_path / "cache" / "logs" and log.name.startswith("ftcli-")
    text = log.read_text()
    assert "Traceback" in text and "second line" in text and "recipes ls" in text


def test_ftcli_debug_shows_the_traceback(cli, tmp_path, monkeypatch):
    import ftcli.recipe_store

    monkeypatch.setenv("FTCLI_DEBUG", "1")
    monkeypatch.setattr(ftcli.recipe_store, "list_recipes", boom)
    with pytest.raises(RuntimeError, match="boom"):
        cli("recipes", "ls")


def test_usage_errors_and_interrupts_are_not_internal_errors(cli, monkeypatch):
    result = cli("finetune", "classification", "--no-such-option")
    assert result.exit_code == 2 and "internal error" not in result.stderr
    import ftcli.recipe_store

    def interrupt():
        raise KeyboardInterrupt

    monkeypatch.setattr(ftcli.recipe_store, "list_recipes", interrupt)
    result = cli("recipes", "ls")  # typer's click turns Ctrl-C into an abort (exit 130)
    assert result.exit_code not in (0, 1, 2) and "internal error" not in result.stderr
