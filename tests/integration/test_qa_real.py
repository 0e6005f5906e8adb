"""The disfl-qa alias (BIG-bench Disfl-QA) as SQuAD rows, and MiniLM's windows over it."""

import pytest

from ftcli import assets
from ftcli.tasks import get_task

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def disfl_qa():
    return assets.DATASETS["disfl-qa"].splits()


def test_disfl_qa_split_is_fixed_and_disjoint(disfl_qa):
    assert disfl_qa["test"].num_rows == 1000 and disfl_qa["train"].num_rows == 6999
    assert set(disfl_qa["train"].column_names) == {"id", "question", "context", "answers"}
    again = assets.DATASETS["disfl-qa"].splits()
    assert again["test"]["id"] == disfl_qa["test"]["id"], "the split must be fixed"
    assert not set(disfl_qa["test"]["id"]) & set(disfl_qa["train"]["id"])


def test_answers_sit_in_their_contexts_and_some_questions_have_none(disfl_qa):
    task = get_task("qa")
    for name, split in disfl_qa.items():
        task.validate(split, task.fields, None, name)  # every answer_start matches its context
        answerable = sum(bool(a["text"]) for a in split["answers"])
        assert 0 < answerable < split.num_rows, "both answerable and unanswerable questions"
    assert sum(not a["text"] for a in disfl_qa["test"]["answers"]) == 283
    question = disfl_qa["test"][0]["question"]
    assert "context:" not in question and question.endswith("?")


def test_minilm_windows_cover_long_contexts(disfl_qa, minilm_dir):
    task = get_task("qa")  # the recipe's doc_stride 128 at max_length 384
    tokenizer = task.load_processor(str(minilm_dir))
    rows = disfl_qa["test"].select(range(200))
    features = task.preprocess(rows, tokenizer, task.fields, None, 384)
    assert features.num_rows > rows.num_rows, "some contexts need more than one window"
    assert set(features["example_index"]) == set(range(rows.num_rows))
    assert max(len(ids) for ids in features["input_ids"]) <= 384
    # Each answerable question is labelled in at least one of its windows (answers are short).
    labelled = {e for e, s in zip(features["example_index"], features["start_positions"]) if s > 0}
    answerable = {i for i, a in enumerate(rows["answers"]) if a["text"]}
    assert labelled == answerable
