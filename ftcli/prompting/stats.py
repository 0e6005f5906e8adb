"""How far a prompt result can be trusted: standard errors and the baselines it must beat.

Accuracy's standard error is the binomial one, sqrt(p (1 - p) / n) (lm-eval reports the same
quantity with n - 1). Macro-F1 has no closed form: its standard error is the spread of the
metric over bootstrap resamples of the evaluated rows (seeded, so reruns agree).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

SKEW_WARNING = 0.9
"""Warn when more than this share of the predictions is one label."""


def binomial_stderr(accuracy: float, rows: int) -> float:
    return math.sqrt(accuracy * (1 - accuracy) / rows) if rows else 0.0


def macro_f1(references: np.ndarray, predictions: np.ndarray, classes: int) -> float:
    """Mean over all `classes` of the per-class F1 (0 for a class never predicted nor present)."""
    true_positive = np.bincount(references[references == predictions], minlength=classes)
    predicted = np.bincount(predictions, minlength=classes)
    actual = np.bincount(references, minlength=classes)
    denominator = predicted + actual
    return float(np.mean(np.where(denominator > 0, 2 * true_positive / np.maximum(denominator, 1), 0.0)))


def bootstrap_stderr(references: list[int], predictions: list[int], classes: int, resamples: int = 1000,
                     seed: int = 0) -> float:
    """Standard deviation of macro-F1 over `resamples` bootstrap resamples of the rows."""
    if not references:
        return 0.0
    references_array, predictions_array = np.asarray(references), np.asarray(predictions)
    rng = np.random.default_rng(seed)
    values = [macro_f1(references_array[picked], predictions_array[picked], classes)
              for picked in rng.integers(0, len(references), size=(resamples, len(references)))]
    return float(np.std(values, ddof=1))


def majority_accuracy(references: list) -> float:
    """Accuracy of always predicting the most common gold label."""
    return Counter(references).most_common(1)[0][1] / len(references) if references else 0.0


def random_macro_f1(references: list, classes: int) -> float:
    """Expected macro-F1 of predicting uniformly at random over `classes` labels: per class,
    precision is its share of the rows and recall 1 / classes."""
    shares = [count / len(references) for count in Counter(references).values()]
    shares += [0.0] * (classes - len(shares))
    return sum(2 * share / classes / (share + 1 / classes) for share in shares) / classes


def distribution(values: list) -> dict[str, int]:
    """How often each label occurs, most common first."""
    return {str(label): count for label, count in Counter(map(str, values)).most_common()}


def dominant_share(predictions: list) -> tuple[str, float]:
    """The most predicted label and its share of the predictions."""
    if not predictions:
        return "", 0.0
    label, count = Counter(map(str, predictions)).most_common(1)[0]
    return label, count / len(predictions)
