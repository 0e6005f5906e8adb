"""Multi-label classification: micro- and macro-averaged F1 over the labels, and subset accuracy (scikit-learn)."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

_DESCRIPTION = """Each row has a set of labels, given as a 0/1 indicator per label. micro-F1 counts every (row, label)
decision together; macro-F1 is the mean of the per-label F1 scores (a label never predicted nor present scores 0);
subset accuracy is the share of rows whose predicted set equals the true set exactly."""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per row, 1 where the label is predicted, else 0.
    references (list of list of int): per row, 1 where the label is true, else 0.
Returns:
    f1_micro (float), f1_macro (float), subset_accuracy (float): each in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Multilabel(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("int64")),
                                        "references": datasets.Sequence(datasets.Value("int64"))}),
        )

    def _compute(self, predictions, references):
        predicted, true = np.asarray(predictions, dtype=np.int64), np.asarray(references, dtype=np.int64)
        return {
            "f1_micro": float(f1_score(true, predicted, average="micro", zero_division=0)),
            "f1_macro": float(f1_score(true, predicted, average="macro", zero_division=0)),
            "subset_accuracy": float(accuracy_score(true, predicted)),  # on indicator arrays: exact set match
        }
