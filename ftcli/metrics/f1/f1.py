"""F1 score (macro-averaged over classes by default), computed with scikit-learn."""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "F1 = harmonic mean of precision and recall; 'macro' averages it over classes."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    average (str): 'macro' (default), 'micro', 'weighted' or 'binary'.
    labels (list of int, optional): the label ids to average over (default: those present).
Returns:
    f1 (float): in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, average="macro", labels=None):
        score = f1_score(references, predictions, average=average, labels=labels, zero_division=0)
        return {"f1": float(score)}
