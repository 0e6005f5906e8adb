"""Property: whatever bytes or shapes a data file holds, reading it and checking it for a task
either works or raises UserError (one line for the user), never another exception.

Random bytes go to every reader; random JSON / JSONL / CSV / TSV / CoNLL shapes (nested values,
ragged rows, wrong types, odd column names, biased towards the column names the tasks look for)
go through `read_file` and then through what `ftcli data check` runs for every task: the column
check, `validate`, `label_list` and the summary."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftcli.data_check import check_data
from ftcli.data.readers import read_conll, read_file
from ftcli.errors import UserError

EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".conll")
TASKS = ("classification", "nli", "ner", "qa", "generation", "image-classification")
COLUMNS = ("text", "label", "premise", "hypothesis", "tokens", "tags", "id", "question", "context",
           "answers", "prompt", "completion", "source", "target", "image")

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

column_names = st.one_of(st.sampled_from(COLUMNS), st.text(min_size=0, max_size=8))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["O", "B-LOC", "I-LOC", "LOC", "positive", "", " ", "~nobody/x.png", "pics/a.png",
                     "data:image/png;base64,iVBORw0KGgo=", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(column_names, children, max_size=4),
        st.fixed_dictionaries({"text": st.lists(children, max_size=2),  # SQuAD answers, right or wrong
                               "answer_start": st.lists(children, max_size=2)}),
    ),
    max_leaves=10,
)
rows = st.lists(st.dictionaries(column_names, json_values, max_size=5), min_size=0, max_size=6)
TASK_FIELDS = [("text", "label"), ("premise", "hypothesis", "label"), ("tokens", "tags"),
               ("id", "question", "context", "answers"), ("prompt", "completion"), ("image", "label")]
task_rows = st.sampled_from(TASK_FIELDS).flatmap(
    lambda fields: st.lists(st.fixed_dictionaries({f: json_values for f in fields}), min_size=1, max_size=6))
cells = st.one_of(st.text(max_size=10), st.sampled_from(["", '"', "1", "1.5", "nan", "a,b", "x\ty", "\n"]))
tables = st.tuples(st.lists(column_names, min_size=1, max_size=4),
                   st.lists(st.lists(cells, max_size=5), max_size=6))  # rows of any length: ragged


@pytest.fixture(autouse=True, scope="module")
def scratch_datasets_cache(tmp_path_factory):
    """Arrow files of the random datasets go to a scratch folder, not the user's cache."""
    import datasets

    with mock.patch.object(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf-datasets")):
        yield


def read_and_check(content: bytes, suffix: str) -> None:
    """Write `content` as a data file; read it and run `data check` for every task. Only
    UserError may escape from any of it (the caller asserts that)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(content)
        try:
            dataset = read_file(path)
        except UserError:
            return
        for task in TASKS:
            # check_data collects the task's UserErrors as problems; anything else escapes.
            with mock.patch("ftcli.data_check.load_single", return_value=(dataset, str(path))):
                try:
                    check_data(str(path), task)
                except UserError:
                    pass


@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from(EXTENSIONS))
def test_random_bytes(content, suffix):
    read_and_check(content, suffix)


@SETTINGS
@given(content=st.binary(max_size=200))
def test_random_bytes_read_conll(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.conll"
        path.write_bytes(content)
        try:
            read_conll(path)
        except UserError:
            pass


def read_and_check_records(records: list[dict], as_lines: bool) -> None:
    if as_lines:
        read_and_check("".join(json.dumps(r) + "\n" for r in records).encode(), ".jsonl")
    else:
        read_and_check(json.dumps(records).encode(), ".json")


@SETTINGS
@given(records=rows, as_lines=st.booleans())
def test_random_json_shapes(records, as_lines):
    read_and_check_records(records, as_lines)


@SETTINGS
@given(records=task_rows, as_lines=st.booleans())
def test_random_values_in_task_columns(records, as_lines):
    read_and_check_records(records, as_lines)


@SETTINGS
@given(value=json_values, suffix=st.sampled_from([".json", ".jsonl"]))
def test_random_json_values(value, suffix):
    read_and_check(json.dumps(value).encode(), suffix)


@SETTINGS
@given(table=tables, suffix=st.sampled_from([".csv", ".tsv"]), quoted=st.booleans())
def test_random_tables(table, suffix, quoted):
    header, body = table
    delimiter = "," if suffix == ".csv" else "\t"
    if quoted:  # what a spreadsheet writes
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(body)
        text = buffer.getvalue()
    else:  # what a hand-edited file holds
        text = "\n".join(delimiter.join(line) for line in [header, *body]) + "\n"
    read_and_check(text.encode(), suffix)


@SETTINGS
@given(lines=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6),
                               max_size=3), max_size=12))
def test_random_conll(lines):
    read_and_check("\n".join(" ".join(parts) for parts in lines).encode(), ".conll")
