"""QA: overlapping windows, span search across windows, no-answer threshold, SQuAD v2 scoring,
validation."""

import numpy as np
import pytest
from datasets import Dataset
from transformers import BertTokenizerFast

from ftcli.config import TaskOptions
from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.tasks import get_task
from ftcli.tasks.base import EvalData

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "where", "does", "bob", "work", "?", "alice", "lives",
         "in", "paris", "and", "works", "new", "york", "city", ".", "the", "river", "is", "big", "who"]
COLUMNS = {"id": "id", "question": "question", "context": "context", "answers": "answers"}
QUESTION = "where does bob work ?"  # 5 tokens
# 14 context tokens, one per word; "new york" is tokens 8-9.
CONTEXT = "alice lives in paris and bob works in new york city . the river"
ANSWER = {"text": ["new york"], "answer_start": [CONTEXT.index("new york")]}
# 5 question + 3 special tokens leave 9 context tokens per window of 17; with a stride of 3 the
# next window starts 6 tokens on: window 1 holds context tokens 0-8 (cut after "new"), window 2 6-13.
MAX_LENGTH, STRIDE = 17, 3


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)})


def qa_task(**options):
    return get_task("qa", TaskOptions(**{"doc_stride": STRIDE, **options}))


def rows(*answers, context=CONTEXT):
    return Dataset.from_list([{"id": f"q{i}", "question": QUESTION, "context": context, "answers": a}
                              for i, a in enumerate(answers)])


def words(tokenizer, feature):
    return tokenizer.convert_ids_to_tokens(feature["input_ids"])


def logits_for(features, marks: dict[int, dict[str, dict[int, float]]], base: float = -10.0):
    """Start/end logits, all `base` except the marked {feature: {"start"/"end": {token: value}}}."""
    width = max(len(f) for f in features["input_ids"])
    gathered = {"start_logits": np.full((features.num_rows, width), base),
                "end_logits": np.full((features.num_rows, width), base)}
    for feature, sides in marks.items():
        for side, tokens in sides.items():
            for token, value in tokens.items():
                gathered[f"{side}_logits"][feature][token] = value
    return gathered


def test_long_context_becomes_overlapping_windows(tokenizer):
    features = qa_task().preprocess(rows(ANSWER), tokenizer, COLUMNS, None, MAX_LENGTH)
    assert features.num_rows == 2 and features["example_index"] == [0, 0]
    context_tokens = []
    for feature in features:
        tokens = words(tokenizer, feature)
        # Question first, whole, in every window; only the context is cut.
        assert tokens[:7] == ["[CLS]", "where", "does", "bob", "work", "?", "[SEP]"] and tokens[-1] == "[SEP]"
        assert len(tokens) <= MAX_LENGTH
        assert all(o is None for o in feature["offset_mapping"][:7]) and feature["offset_mapping"][-1] is None
        context_tokens.append([tuple(o) for o in feature["offset_mapping"] if o is not None])
    # Consecutive windows share exactly `doc_stride` context tokens.
    for first, second in zip(context_tokens, context_tokens[1:]):
        assert first[-STRIDE:] == second[:STRIDE]
    assert context_tokens[0][0] == (0, 5) and context_tokens[-1][-1][1] == len(CONTEXT)
    assert set(features.column_names) >= {"input_ids", "attention_mask", "start_positions", "end_positions"}


def test_answer_across_a_window_boundary_is_found_in_the_overlapping_window(tokenizer):
    task = qa_task()
    examples = rows(ANSWER)
    features = task.preprocess(examples, tokenizer, COLUMNS, None, MAX_LENGTH)
    first, second = words(tokenizer, features[0]), words(tokenizer, features[1])
    assert first[-3:] == ["in", "new", "[SEP]"], "window 1 must end inside the answer"
    new, york = second.index("new"), second.index("york")
    # Training: window 1 cannot hold the answer (-> CLS); window 2 holds all of it.
    assert (features[0]["start_positions"], features[0]["end_positions"]) == (0, 0)
    assert (features[1]["start_positions"], features[1]["end_positions"]) == (new, york)

    # Window 1 points at the cut-off half ("new", its last context token); window 2 at the whole
    # answer, more confidently. The best span over all windows is the whole answer.
    last_in_first = len(first) - 2
    gathered = logits_for(features, {
        0: {"start": {last_in_first: 6.0}, "end": {last_in_first: 5.0}},
        1: {"start": {new: 8.0}, "end": {york: 8.0}},
    })
    data = EvalData(examples, features, COLUMNS, None)
    record = task.format_predictions(gathered, data)[0]
    assert record["answer"] == "new york" and record["start"] == ANSWER["answer_start"][0]
    assert record["id"] == "q0" and 0.5 < record["score"] <= 1.0
    assert task.compute_metrics(gathered, data)["exact_match"] == 1.0

    # Without overlap the answer is split between two windows and no window can be labelled with it.
    no_overlap = qa_task(doc_stride=0).preprocess(examples, tokenizer, COLUMNS, None, MAX_LENGTH)
    assert set(no_overlap["start_positions"]) == {0}


def test_no_answer_when_the_null_score_wins_by_more_than_the_threshold(tokenizer):
    no_answer = {"text": [], "answer_start": []}
    examples = rows(ANSWER, no_answer, context="bob works in new york")
    features = qa_task().preprocess(examples, tokenizer, COLUMNS, None, 32)
    assert features.num_rows == 2 and features["start_positions"][1] == 0 and features["end_positions"][1] == 0
    tokens = words(tokenizer, features[0])
    new, york = tokens.index("new"), tokens.index("york")
    # Both: best span "new york" scores 4 + 4 = 8; null (CLS) scores 5 + 5 = 10.
    marks = {f: {"start": {0: 5.0, new: 4.0}, "end": {0: 5.0, york: 4.0}} for f in (0, 1)}
    gathered = logits_for(features, marks)
    data = EvalData(examples, features, COLUMNS, None)

    strict = qa_task(null_score_threshold=0.0).format_predictions(gathered, data)
    assert [r["answer"] for r in strict] == ["", ""] and strict[0]["start"] is None
    metrics = qa_task().compute_metrics(gathered, data)
    assert metrics["NoAns_exact_match"] == 1.0 and metrics["HasAns_exact_match"] == 0.0
    assert metrics["exact_match"] == 0.5 and metrics["HasAns_total"] == 1 and metrics["NoAns_total"] == 1

    lenient = qa_task(null_score_threshold=2.5).format_predictions(gathered, data)
    assert [r["answer"] for r in lenient] == ["new york", "new york"]


def test_null_answers_only_where_the_data_has_unanswerable_questions(tokenizer):
    no_answer = {"text": [], "answer_start": []}
    answerable = rows(ANSWER, ANSWER, context="bob works in new york")
    features = qa_task().preprocess(answerable, tokenizer, COLUMNS, None, 32)
    tokens = words(tokenizer, features[0])
    new, york = tokens.index("new"), tokens.index("york")
    # The null score (10) beats the best span (8), as in the test above.
    gathered = logits_for(features, {f: {"start": {0: 5.0, new: 4.0}, "end": {0: 5.0, york: 4.0}} for f in (0, 1)})
    data = EvalData(answerable, features, COLUMNS, None)

    # Training data with every question answerable (SQuAD v1): auto resolves to no, and the span wins.
    task = qa_task()
    task.label_list(answerable, COLUMNS)
    assert task.options.null_answers == "no"
    assert [r["answer"] for r in task.format_predictions(gathered, data)] == ["new york", "new york"]
    assert task.compute_metrics(gathered, data)["exact_match"] == 1.0
    # One unanswerable question in the training data: auto resolves to yes, and null wins.
    task = qa_task()
    task.label_list(rows(ANSWER, no_answer), COLUMNS)
    assert task.options.null_answers == "yes"
    assert [r["answer"] for r in task.format_predictions(gathered, data)] == ["", ""]
    # Unresolved (a model ftcli did not train): the evaluation data decides; predict keeps null answers.
    assert qa_task().allows_null_answers(data) is False
    assert qa_task().allows_null_answers(EvalData(rows(ANSWER, no_answer), features, COLUMNS, None)) is True
    unlabelled = answerable.remove_columns("answers")
    assert qa_task().allows_null_answers(EvalData(unlabelled, features, COLUMNS, None)) is True
    # Asked for explicitly, either way.
    assert [r["answer"] for r in qa_task(null_answers="yes").format_predictions(gathered, data)] == ["", ""]


def test_max_answer_length_limits_the_span(tokenizer):
    context = "alice lives in new york city"
    examples = rows({"text": ["new york city"], "answer_start": [context.index("new")]}, context=context)
    features = qa_task().preprocess(examples, tokenizer, COLUMNS, None, 32)
    tokens = words(tokenizer, features[0])
    new, york, city = (tokens.index(w) for w in ("new", "york", "city"))
    # Best: "new york city" (3 tokens, 9 + 9); runner-up: "new york" (9 + 7).
    gathered = logits_for(features, {0: {"start": {new: 9.0}, "end": {city: 9.0, york: 7.0}}})
    data = EvalData(examples, features, COLUMNS, None)
    answer = lambda n: qa_task(max_answer_length=n).format_predictions(gathered, data)[0]["answer"]
    assert answer(3) == "new york city"
    assert answer(2) == "new york"
    assert answer(1) in {"new", "york", "city"}  # only one-token spans remain


def test_spans_never_leave_the_context(tokenizer):
    examples = rows(ANSWER, context="bob works in new york")
    features = qa_task().preprocess(examples, tokenizer, COLUMNS, None, 32)
    tokens = words(tokenizer, features[0])
    # The highest logits sit on question tokens; they must be ignored.
    gathered = logits_for(features, {0: {"start": {1: 50.0, tokens.index("new"): 3.0},
                                         "end": {3: 50.0, tokens.index("york"): 3.0}}})
    record = qa_task().format_predictions(gathered, EvalData(examples, features, COLUMNS, None))[0]
    assert record["answer"] == "new york"


def test_squad_scores_normalise_articles_punctuation_and_case():
    metric = load_metric("squad")
    scores = metric.compute(predictions=["The Eiffel  Tower!", "paris", "", "a river"],
                            references=[["eiffel tower"], ["Paris, France", "somewhere"], [], ["the big river"]])
    # EM: 1, 0, 1, 0.  F1: 1, 2/3 (paris vs "paris france"), 1 (no answer), 2/3 ("river" vs "big river").
    assert scores["exact_match"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx((1 + 2 / 3 + 1 + 2 / 3) / 4)
    assert scores["HasAns_exact_match"] == pytest.approx(1 / 3) and scores["HasAns_total"] == 3
    assert scores["NoAns_exact_match"] == 1.0 and scores["NoAns_f1"] == 1.0 and scores["NoAns_total"] == 1
    assert scores["total"] == 4
    # A guess on an unanswerable question, and no answer on an answerable one, both score 0.
    missed = metric.compute(predictions=["paris", ""], references=[[], ["paris"]])
    assert missed["exact_match"] == 0.0 and missed["f1"] == 0.0
    # All answerable: no split keys.
    assert set(metric.compute(predictions=["x"], references=[["x"]])) == {"exact_match", "f1", "total"}


@pytest.mark.parametrize("answers, message", [
    ({"text": ["new york"], "answer_start": [3]}, "row 2 (id q1): answer_start 3 does not match the context: "
                                                  "expected 'new york', found 'ce lives' (the text occurs at 38)"),
    ({"text": ["tokyo"], "answer_start": [0]}, "(the text is not in the context)"),
    ({"text": ["new york", "york"], "answer_start": [38]}, "row 2 (id q1) has 2 answer text(s) but 1 answer_start(s)"),
    ({"text": [""], "answer_start": [0]}, "non-empty text and an integer answer_start"),
    (None, '\'answers\' must be {"text": [...], "answer_start": [...]}'),
])
def test_bad_answers_are_user_errors(answers, message):
    examples = Dataset.from_list([{"id": "q0", "question": QUESTION, "context": CONTEXT, "answers": ANSWER},
                                  {"id": "q1", "question": QUESTION, "context": CONTEXT, "answers": answers}])
    with pytest.raises(UserError) as error:
        get_task("qa").validate(examples, COLUMNS, None, "training data t.jsonl")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_rows_without_ids_are_numbered_and_empty_questions_rejected(tokenizer):
    examples = Dataset.from_list([{"question": QUESTION, "context": CONTEXT, "answers": ANSWER}] * 2)
    task = qa_task()
    task.validate(examples, COLUMNS, None, "data")
    features = task.preprocess(examples, tokenizer, COLUMNS, None, 64)
    gathered = logits_for(features, {})
    records = task.format_predictions(gathered, EvalData(examples, features, COLUMNS, None))
    assert [r["id"] for r in records] == ["1", "2"]
    blank = Dataset.from_list([{"question": " ", "context": CONTEXT, "answers": ANSWER}])
    with pytest.raises(UserError, match="row 1 has an empty or non-text 'question'"):
        task.validate(blank, COLUMNS, None, "data")


def test_doc_stride_must_leave_room_for_the_context(tokenizer):
    # 17 - 3 special - 5 question tokens = 9 tokens of context per window.
    with pytest.raises(UserError, match=r"options.doc_stride \(9\) must be smaller than the room left for the "
                                        r"context \(9 tokens"):
        qa_task(doc_stride=9).preprocess(rows(ANSWER), tokenizer, COLUMNS, None, MAX_LENGTH)
    assert qa_task(doc_stride=8).preprocess(rows(ANSWER), tokenizer, COLUMNS, None, MAX_LENGTH).num_rows > 1


def test_summary_counts_answerable_questions():
    examples = rows(ANSWER, ANSWER, {"text": [], "answer_start": []})
    summary = get_task("qa").summary(examples, COLUMNS)
    assert summary["labels"] == {"answerable": 2, "unanswerable": 1}
    assert summary["lengths"]["question"] == [5, 5, 5] and summary["lengths"]["context"] == [14, 14, 14]


def test_input_takes_question_and_context():
    task = get_task("qa")
    assert task.input_row("who lives in paris ? ||| alice lives in paris") == {
        "question": "who lives in paris ?", "context": "alice lives in paris"}
    with pytest.raises(UserError, match="--data"):
        task.input_row("who lives in paris ?")


def test_doc_stride_follows_max_length_when_not_set(tokenizer):
    """No options.doc_stride: a third of --max-length (the old fixed 128 left no room at short lengths)."""
    task = get_task("qa")
    assert task.options.doc_stride is None and task.doc_stride(384) == 128 and task.doc_stride(MAX_LENGTH) == 5
    windows = task.preprocess(rows(ANSWER), tokenizer, COLUMNS, None, MAX_LENGTH)
    assert windows.num_rows > 1
    assert qa_task(doc_stride=5).preprocess(rows(ANSWER), tokenizer, COLUMNS, None, MAX_LENGTH)["input_ids"] == \
        windows["input_ids"]
