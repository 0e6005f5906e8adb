"""NER: sub-word label alignment, mapping predictions back to words, validation, CoNLL files."""

import numpy as np
import pytest
from datasets import Dataset
from transformers import BertTokenizerFast

from ftcli.config import TaskOptions
from ftcli.data.readers import read_file
from ftcli.errors import UserError
from ftcli.tasks import get_task
from ftcli.tasks.base import EvalData

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "in", "paris", "new", "york"]
LABELS = ["O", "B-LOC", "I-LOC"]
LABEL2ID = {t: i for i, t in enumerate(LABELS)}
COLUMNS = {"tokens": "tokens", "tags": "tags"}


@pytest.fixture
def tokenizer():
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)})


@pytest.fixture
def examples():
    return Dataset.from_list([{"tokens": ["playing", "in", "paris"], "tags": ["O", "O", "B-LOC"]},
                              {"tokens": ["new", "york"], "tags": ["B-LOC", "I-LOC"]}])


def test_first_subtoken_gets_the_label(tokenizer, examples):
    features = get_task("ner").preprocess(examples, tokenizer, COLUMNS, LABEL2ID, 32)
    # [CLS] play ##ing in paris [SEP]
    assert features[0]["labels"] == [-100, 0, -100, 0, 1, -100]
    assert features[0]["word_ids"] == [-1, 0, 0, 1, 2, -1]


def test_label_all_subtokens_continues_with_inside_tags(tokenizer):
    task = get_task("ner", TaskOptions(label_all_subtokens=True))
    rows = Dataset.from_list([{"tokens": ["playing"], "tags": ["B-LOC"]}])
    features = task.preprocess(rows, tokenizer, COLUMNS, LABEL2ID, 32)
    assert features[0]["labels"] == [-100, 1, 2, -100]  # B-LOC, then I-LOC on ##ing


def test_predictions_map_back_to_words_and_score(tokenizer, examples):
    task = get_task("ner")
    features = task.preprocess(examples, tokenizer, COLUMNS, LABEL2ID, 32)
    gathered = {"predictions": np.full((2, 6), -100), "scores": np.ones((2, 6))}
    for row, feature in enumerate(features):
        for position, label in enumerate(feature["labels"]):
            if label != -100:
                gathered["predictions"][row][position] = label
    # A wrong guess on a non-first sub-token must not matter.
    gathered["predictions"][0][2] = 1
    data = EvalData(examples, features, COLUMNS, LABELS)
    metrics = task.compute_metrics(gathered, data)
    assert metrics["f1"] == 1.0 and metrics["LOC_f1"] == 1.0 and metrics["LOC_number"] == 2
    records = task.format_predictions(gathered, data)
    assert records[1]["entities"] == [{"type": "LOC", "text": "new york", "start": 0, "end": 2, "score": 1.0}]


def test_truncated_words_count_as_missed(tokenizer, examples):
    task = get_task("ner")
    features = task.preprocess(examples, tokenizer, COLUMNS, LABEL2ID, 4)  # cuts "paris"
    gathered = {"predictions": np.array([[0, 0, 0, 0], [0, 1, 2, 0]]), "scores": np.ones((2, 4))}
    metrics = task.compute_metrics(gathered, EvalData(examples, features, COLUMNS, LABELS))
    assert metrics["recall"] == 0.5 and metrics["precision"] == 1.0


@pytest.mark.parametrize("row, message", [
    ({"tokens": ["a", "b"], "tags": ["O"]}, "row 2 has 2 tokens but 1 tags"),
    ({"tokens": ["a", "b"], "tags": ["O", "I-FOO"]}, "I- tag(s) of an unknown type: I-FOO"),
    ({"tokens": ["a"], "tags": ["PER"]}, "not BIO"),
    ({"tokens": [], "tags": []}, "non-empty list of words"),
])
def test_bad_rows(row, message):
    task = get_task("ner")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task.label_list(Dataset.from_list([{"tokens": ["x"], "tags": ["B-LOC"]}, row]), COLUMNS)


def test_eval_tag_of_unknown_type():
    task = get_task("ner")
    rows = Dataset.from_list([{"tokens": ["a"], "tags": ["I-PER"]}])
    with pytest.raises(UserError, match="unknown type: I-PER"):
        task.validate(rows, COLUMNS, LABEL2ID, "evaluation data")


def test_conll_reader(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text("-DOCSTART- O\n\nNew\tB-LOC\nYork I-LOC\n\t\nhello O\n")
    dataset = read_file(path)
    assert dataset["tokens"] == [["New", "York"], ["hello"]]
    assert dataset["tags"] == [["B-LOC", "I-LOC"], ["O"]]
    path.write_text("New B-LOC\nYork\n")
    with pytest.raises(UserError, match="line 2 should be 'token TAG'"):
        read_file(path)
