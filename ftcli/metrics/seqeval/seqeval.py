"""Entity-level precision, recall and F1 for BIO-tagged sequences, computed with seqeval."""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report

_DESCRIPTION = ("Entity-level scores in the CoNLL sense: an entity counts as found only when its "
                "type and its whole span match (seqeval, default mode).")
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of str): predicted BIO tags per sentence.
    references (list of list of str): gold BIO tags per sentence.
Returns:
    precision, recall, f1, accuracy (float): overall (micro-averaged over entities; accuracy per token).
    <TYPE>_precision, <TYPE>_recall, <TYPE>_f1 (float), <TYPE>_number (int): per entity type.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Sequence(datasets.Value("string")),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references):
        report = classification_report(references, predictions, output_dict=True, zero_division=0)
        overall = report.pop("micro avg")
        scores = {
            "precision": float(overall["precision"]),
            "recall": float(overall["recall"]),
            "f1": float(overall["f1-score"]),
            "accuracy": float(accuracy_score(references, predictions)),
        }
        for entity_type, values in sorted(report.items()):
            if entity_type.endswith(" avg"):
                continue
            scores[f"{entity_type}_precision"] = float(values["precision"])
            scores[f"{entity_type}_recall"] = float(values["recall"])
            scores[f"{entity_type}_f1"] = float(values["f1-score"])
            scores[f"{entity_type}_number"] = int(values["support"])
        return scores
