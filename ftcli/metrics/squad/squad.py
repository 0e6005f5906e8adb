"""SQuAD v2 exact match and F1, with the official normalisation (lower case, no punctuation, no
articles a/an/the, single spaces) and scoring of unanswerable questions.

The scoring follows the official SQuAD 2.0 evaluation script (`evaluate-v2.0.py`, also behind
evaluate's Hub-only "squad_v2" module). torchmetrics' `SQuAD` is v1 only (every question must have
an answer), so the few lines are kept here rather than adding a dependency.
"""

import collections
import re
import string

import datasets
import evaluate

_DESCRIPTION = ("SQuAD v2 exact match and token-level F1 against the best-matching gold answer; an empty "
                "prediction is the 'no answer' guess and scores 1 exactly on unanswerable questions.")
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the predicted answer per question, "" for no answer.
    references (list of list of str): the gold answer texts per question, [] when unanswerable.
Returns:
    exact_match, f1 (float): averages in [0, 1] over all questions; total (int): questions.
    HasAns_exact_match, HasAns_f1, HasAns_total, NoAns_exact_match, NoAns_f1, NoAns_total: the same
    for answerable and unanswerable questions separately, when some questions are unanswerable.
"""

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_score(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_score(gold: str, prediction: str) -> float:
    gold_tokens, predicted_tokens = normalize_answer(gold).split(), normalize_answer(prediction).split()
    if not gold_tokens or not predicted_tokens:
        return float(gold_tokens == predicted_tokens)  # no-answer scores only against no-answer
    same = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def question_scores(prediction: str, golds: list[str]) -> tuple[int, float]:
    """(exact, f1) for one question: the max over its gold answers. As in the official script,
    gold answers that normalise to nothing are ignored, and none left means 'no answer'."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return max(exact_score(g, prediction) for g in golds), max(f1_score(g, prediction) for g in golds)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Rajpurkar, Jia and Liang (2018), Know What You Don't Know: Unanswerable Questions for SQuAD",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references):
        scores = [question_scores(p, golds) for p, golds in zip(predictions, references)]
        # Answerable means "has gold answers", before normalisation (the official qid_to_has_ans).
        has_answer = [bool(golds) for golds in references]
        results = _averages("", scores)
        if not all(has_answer):
            answerable = [s for s, has in zip(scores, has_answer) if has]
            if answerable:
                results.update(_averages("HasAns_", answerable))
            results.update(_averages("NoAns_", [s for s, has in zip(scores, has_answer) if not has]))
        return results


def _averages(prefix: str, scores: list[tuple[int, float]]) -> dict[str, float]:
    count = len(scores)
    return {
        f"{prefix}exact_match": sum(e for e, _ in scores) / count if count else 0.0,
        f"{prefix}f1": sum(f for _, f in scores) / count if count else 0.0,
        f"{prefix}total": count,
    }
