"""ROUGE-L F-measure of generated texts against one or several references, with rouge-score."""

import datasets
import evaluate
from rouge_score import rouge_scorer

_DESCRIPTION = ("ROUGE-L: the F-measure of the longest common subsequence of words between a "
                "generated text and its reference (Lin, 2004), as computed by Google's rouge-score.")
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): generated texts.
    references (list of str, or list of list of str): one reference per prediction, or several
        (the best-matching one counts).
    use_stemmer (bool): Porter-stem words before matching (default False).
Returns:
    rougeL (float): mean ROUGE-L F-measure over the predictions, between 0 and 1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Sequence(datasets.Value("string"))}),
                datasets.Features({"predictions": datasets.Value("string"),
                                   "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, use_stemmer=False):
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
        scores = [
            scorer.score_multi([reference] if isinstance(reference, str) else reference, prediction)["rougeL"].fmeasure
            for prediction, reference in zip(predictions, references)
        ]
        return {"rougeL": float(sum(scores) / len(scores)) if scores else 0.0}
