"""Reading files into datasets, column checks and label maps, with one-line errors."""

import json

import pandas as pd
import pytest

from ftcli.data.columns import check_columns, resolve_columns
from ftcli.data.labels import check_known_labels, infer_labels
from ftcli.data.readers import read_file
from ftcli.data.sources import load_splits
from ftcli.errors import UserError

ROWS = [{"text": "good film", "label": "positive"}, {"text": "bad film", "label": "negative"},
        {"text": "fine film", "label": "positive"}]


@pytest.fixture
def files(tmp_path):
    frame = pd.DataFrame(ROWS)
    paths = {
        "csv": tmp_path / "d.csv", "tsv": tmp_path / "d.tsv", "jsonl": tmp_path / "d.jsonl",
        "json": tmp_path / "d.json", "parquet": tmp_path / "d.parquet",
    }
    frame.to_csv(paths["csv"], index=False)
    frame.to_csv(paths["tsv"], index=False, sep="\t")
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    paths["json"].write_text(json.dumps(ROWS))
    frame.to_parquet(paths["parquet"])
    return paths


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_every_format_reads_the_same_rows(files, kind):
    dataset = read_file(files[kind])
    assert dataset.num_rows == 3
    assert dataset["text"] == [r["text"] for r in ROWS]
    assert dataset["label"] == [r["label"] for r in ROWS]


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        read_file(tmp_path / "nope.csv")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "d.xlsx"
    path.write_text("x")
    with pytest.raises(UserError, match="unsupported data file extension '.xlsx'"):
        read_file(path)


def test_malformed_jsonl_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", label}\n')
    with pytest.raises(UserError, match="line 3 is not valid JSON"):
        read_file(path)


@pytest.mark.parametrize("content", ["", "text,label\n"])
def test_empty_files(tmp_path, content):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(UserError, match="empty|no rows"):
        read_file(path)


def test_missing_column_names_existing_columns(files):
    dataset = read_file(files["csv"])
    columns = resolve_columns({"text": "text", "label": "label"}, {"text": "review"}, "classification")
    with pytest.raises(UserError, match=r"no 'review' column .*columns: text, label.*--column text=NAME"):
        check_columns(dataset, columns, ["text", "label"], "training data")


def test_unknown_column_field_rejected():
    with pytest.raises(UserError, match="unknown column field"):
        resolve_columns({"text": "text", "label": "label"}, {"txt": "review"}, "classification")


def test_label_inference_strings_and_ints():
    assert infer_labels(["b", "a", "b"]) == ["a", "b"]
    assert infer_labels([10, 2, 1]) == ["1", "2", "10"]  # numeric order, stored as strings
    with pytest.raises(UserError, match="empty label"):
        infer_labels(["a", ""])


def test_unseen_eval_label():
    with pytest.raises(UserError, match="never seen in training: 'neutral'"):
        check_known_labels(["positive", "neutral"], {"positive": 0, "negative": 1}, "evaluation data")


def test_held_out_split_is_seeded(files):
    first = load_splits(str(files["csv"]), None, 0.34, seed=3)
    second = load_splits(str(files["csv"]), None, 0.34, seed=3)
    assert first.eval["text"] == second.eval["text"]
    assert first.train.num_rows + first.eval.num_rows == 3
    assert "held out" in first.eval_source


def test_unknown_dataset_name():
    with pytest.raises(UserError, match="unknown dataset 'no-such-alias'"):
        load_splits("no-such-alias", None, 0.1, seed=0)
