"""Regression: Pearson and Spearman correlation (scipy when installed, else numpy) and root mean squared error."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """Pearson's r (linear correlation), Spearman's rho (Pearson's r of the ranks, ties sharing their mean
rank) and RMSE = sqrt(mean((prediction - reference)^2)). A correlation is undefined when either side is constant;
it is reported as 0 (no linear relation) so that scores stay comparable numbers."""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of float): predicted values.
    references (list of float): true values.
Returns:
    pearson (float) and spearman (float) in [-1, 1]; rmse (float) >= 0.
"""


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks (scipy's rankdata 'average')."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)] - 1
    ranks = np.empty(len(values))
    ranks[order] = (first[group] + last[group]) / 2 + 1
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    try:
        from scipy.stats import pearsonr
    except ImportError:
        dx, dy = x - x.mean(), y - y.mean()
        return float((dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy)))
    return float(pearsonr(x, y)[0])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    try:
        from scipy.stats import spearmanr
    except ImportError:
        return pearson(_ranks(x), _ranks(y))
    return float(spearmanr(x, y)[0])


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Regression(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references):
        predicted, true = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
        return {
            "pearson": pearson(predicted, true),
            "spearman": spearman(predicted, true),
            "rmse": float(np.sqrt(np.mean((predicted - true) ** 2))) if len(true) else 0.0,
        }
