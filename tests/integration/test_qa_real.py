"""The disfl-qa alias as SQuAD rows, and MiniLM's windows over them.

Its source, BIG-bench's Disfl-QA, is no longer on PyPI: the loader reads a copy of the sdist
(FTCLI_BIGBENCH_SDIST), here one built from the committed fixture `tests/fixtures/bigbench/
disfl_qa/task.json` (hand-written examples in the task's format, with passages of Hamlet as long
contexts: see tests/fixtures/README.md)."""

import json

import pytest

from ftcli import assets
from ftcli.errors import UserError
from ftcli.tasks import get_task
from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration

TASK_FILE = FIXTURES / "bigbench" / "disfl_qa" / "task.json"


@pytest.fixture
def disfl_qa(bigbench_copy):
    bigbench_copy({"disfl_qa": TASK_FILE})
    return assets.DATASETS["disfl-qa"].splits()


def test_without_a_copy_offline_the_alias_refuses_in_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("FTCLI_BIGBENCH_SDIST", raising=False)
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path))
    with pytest.raises(UserError) as raised:
        assets.DATASETS["disfl-qa"].splits()
    message = str(raised.value)
    assert "\n" not in message and "FTCLI_BIGBENCH_SDIST" in message and "google-research-datasets/disfl_qa" in message
    assert assets.DATASETS["disfl-qa"].availability() == "no: needs FTCLI_BIGBENCH_SDIST or the Hub"


def test_disfl_qa_split_is_fixed_and_disjoint(disfl_qa):
    examples = json.loads(TASK_FILE.read_text())["examples"]
    kept = len(examples) - 1  # the example that lost its question is dropped
    # The loader holds out 1,000 questions, at most half of those there are: here 6 of 13.
    assert disfl_qa["test"].num_rows == kept // 2 and disfl_qa["train"].num_rows == kept - kept // 2
    assert set(disfl_qa["train"].column_names) == {"id", "question", "context", "answers"}
    again = assets.DATASETS["disfl-qa"].splits()
    assert again["test"]["id"] == disfl_qa["test"]["id"], "the split must be fixed"
    assert not set(disfl_qa["test"]["id"]) & set(disfl_qa["train"]["id"])
    assert all(question.strip() for split in disfl_qa.values() for question in split["question"])


def test_answers_sit_in_their_contexts_and_some_questions_have_none(disfl_qa):
    task = get_task("qa")
    rows = {row["question"]: row for split in disfl_qa.values() for row in split}
    for name, split in disfl_qa.items():
        task.validate(split, task.fields, None, name)  # every answer_start matches its context
    answerable = [row for row in rows.values() if row["answers"]["text"]]
    assert 0 < len(answerable) < len(rows), "both answerable and unanswerable questions"
    # SQuAD's tokenized context ("40 , 000") answers "40,000": the answer takes the context's spelling.
    respaced = rows["How many men did the castle hold , no the fortress hold ?"]["answers"]
    assert respaced["text"] == ["40 , 000"]
    # "violent" inside "nonviolent" is passed over for the word itself.
    storm = rows["What kind of storm , I mean weather ended the march ?"]
    start = storm["answers"]["answer_start"][0]
    assert storm["context"][start - 2:start] == "a " and storm["answers"]["text"] == ["violent"]
    assert all("context:" not in question and question.endswith("?") for question in rows)


def test_minilm_windows_cover_long_contexts(disfl_qa, minilm_dir):
    task = get_task("qa")  # the recipe's doc_stride 128 at max_length 384
    tokenizer = task.load_processor(str(minilm_dir))
    rows = disfl_qa["train"]
    features = task.preprocess(rows, tokenizer, task.fields, None, 384)
    assert features.num_rows > rows.num_rows, "some contexts need more than one window"
    assert set(features["example_index"]) == set(range(rows.num_rows))
    assert max(len(ids) for ids in features["input_ids"]) <= 384
    # Each answerable question is labelled in at least one of its windows (answers are short).
    labelled = {e for e, s in zip(features["example_index"], features["start_positions"]) if s > 0}
    answerable = {i for i, a in enumerate(rows["answers"]) if a["text"]}
    assert labelled == answerable
