"""Multi-label decision thresholds: one per label, each the one that maximises that label's F1 on held-out rows."""

from __future__ import annotations

import numpy as np

DEFAULT = 0.5
"""The threshold of a label without held-out rows to choose on (and of one they have no positive row for)."""


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The threshold t (predict the label where score >= t) with the highest F1 on these rows. Candidates lie
    halfway between consecutive distinct scores (and at half the lowest), so a chosen t sits in the gap between
    the scores it separates rather than on one of them; among equally good ones the closest to 0.5 wins. A
    label no row has keeps 0.5: every threshold scores F1 0 there."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth).astype(bool)
    positives = int(truth.sum())
    if positives == 0 or len(scores) == 0:
        return DEFAULT
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], truth[order]
    true_positives = np.cumsum(hits)
    # A cut after position i (predict the i + 1 highest scores) exists where the next score is lower.
    cuts = np.flatnonzero(np.r_[ordered[1:] < ordered[:-1], True])
    below = np.r_[ordered[cuts[:-1] + 1], 0.0]
    candidates = (ordered[cuts] + below) / 2
    predicted = cuts + 1
    f1 = 2 * true_positives[cuts] / (predicted + positives)  # 2TP / (2TP + FP + FN) = 2TP / (predicted + positives)
    best = np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - DEFAULT))]])


def best_thresholds(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`best_threshold` for each label (column) of (rows, labels) arrays."""
    scores, truth = np.asarray(scores), np.asarray(truth)
    return np.array([best_threshold(scores[:, j], truth[:, j]) for j in range(scores.shape[1])])
