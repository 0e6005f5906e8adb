"""The generated sets the benchmarks measure on (benchmarks/scenes.py): answers sit where the rows say,
labels are balanced, and test rows carry words that training never shows."""

import collections
import importlib.util
from pathlib import Path

SCENES = Path(__file__).resolve().parents[2] / "benchmarks" / "scenes.py"
spec = importlib.util.spec_from_file_location("benchmark_scenes", SCENES)
scenes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scenes)

TEXTS = [f"Snippet number {i} says the film was {'good' if i % 2 else 'dull'} and long." for i in range(40)]


def test_every_qa_answer_is_the_span_its_offset_names():
    rows = scenes.qa_rows(TEXTS, 300, seed=0)
    answered = [row for row in rows if row["answers"]["text"]]
    assert 150 < len(answered) < 260  # about two thirds answerable
    for row in answered:
        (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
        assert row["context"][start:start + len(text)] == text, row


def test_an_unanswerable_question_names_a_person_or_thing_the_context_lacks():
    for row in scenes.qa_rows(TEXTS, 200, seed=1):
        if row["answers"]["text"]:
            continue
        asked = [word for word in scenes.NAMES + scenes.OBJECTS if f" {word} " in f" {row['question'][:-1]} "]
        assert asked and any(word not in row["context"] for word in asked), row


def test_answerable_only_sets_have_no_empty_answers():
    assert all(row["answers"]["text"] for row in scenes.qa_rows(TEXTS, 100, seed=2, unanswerable=0.0))


def test_nli_sets_give_each_premise_two_hypotheses_per_label():
    for make in (scenes.nli_rows, scenes.two_scene_rows):
        rows = make(30, seed=3)
        per_premise = collections.defaultdict(collections.Counter)
        for row in rows:
            per_premise[row["premise"]][row["label"]] += 1
        assert all(counts == {"entailment": 2, "contradiction": 2, "neutral": 2} for counts in per_premise.values())


def test_test_premises_use_words_training_never_shows():
    train_words = {word for row in scenes.nli_rows(200, seed=4) for word in row["premise"].rstrip(".").split()}
    test_words = {word for row in scenes.nli_rows(200, seed=5, split="test") for word in row["premise"].rstrip(".").split()}
    assert test_words - train_words
