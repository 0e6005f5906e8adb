"""Tokenized features are kept in the ftcli cache: the same rows and settings read them back, any change in the
rows, the tokenizer settings or the labels tokenizes anew."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from datasets import Dataset  # noqa: E402

from ftcli.tasks import get_task  # noqa: E402
from ftcli.config import TaskOptions  # noqa: E402
from tests.unit.test_batching import tiny_tokenizer  # noqa: E402

COLUMNS = {"text": "text", "label": "label"}


def features(rows, max_length=8, label2id=None):
    task = get_task("classification", TaskOptions())
    dataset = Dataset.from_dict({"text": [r[0] for r in rows], "label": [r[1] for r in rows]})
    return task.preprocess(dataset, tiny_tokenizer(), COLUMNS, label2id or {"a": 0, "b": 1}, max_length)


def cache_file(dataset) -> str:
    (only,) = {f["filename"] for f in dataset.cache_files}
    return only


def test_same_rows_and_settings_read_the_cached_features(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path))
    rows = [("w1 w2 w3", "a"), ("w4", "b")]
    first = features(rows)
    path = cache_file(first)
    assert path.startswith(str(tmp_path / "tokenized"))
    written = os.stat(path).st_mtime_ns
    again = features(list(rows))  # a new run: new objects, the same content
    assert cache_file(again) == path and os.stat(path).st_mtime_ns == written
    assert again["input_ids"] == first["input_ids"] and again["labels"] == [0, 1]

    others = {cache_file(features(rows, max_length=2)), cache_file(features(rows[:1])),
              cache_file(features(rows, label2id={"a": 1, "b": 0}))}
    assert path not in others and len(others) == 3
    assert features(rows, max_length=2)["input_ids"][0] == [3, 4]  # really truncated, not read from `path`
