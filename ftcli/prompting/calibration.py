"""Correcting the label words' prior in rank (and cloze) classification.

A small LM's raw scores lean towards some label whatever the input (the majority label of the
demonstrations, the last one shown, a common word). Two published cures, both estimated from
the same prompt with the input taken out, so they need no labelled data:

- contextual (Zhao et al. 2021, "Calibrate Before Use"): the label distribution p_cf on
  content-free inputs ("N/A", "[MASK]", "") with the same demonstrations, averaged; each
  query's label distribution is divided by it (log p(y|x) - log p_cf(y)).
- pmi (Holtzman et al. 2021, domain-conditional PMI): each label's log-likelihood minus its
  log-likelihood after the demonstrations and the template's answer cue alone (the text after
  the input, e.g. "Sentiment:"), which also corrects for label words of different length.
"""

from __future__ import annotations

import math
from typing import Sequence

METHODS = ("none", "contextual", "pmi")


def resolve_method(requested: str, shots: int) -> str:
    """`auto`: contextual calibration with demonstrations, none at 0 shots. Measured with SmolLM2 on
    500 held-out training rows each of rt-sentiment and multiemo (benchmarks/in_context_quality.py
    --split validation): at 0 shots calibration cost 4 and 21 accuracy points (a rare label word such
    as "ambivalent" gets a tiny content-free prior, and dividing by it makes it win); at 4 shots it
    gained 8 points on rt-sentiment and 7 macro-F1 points on multiemo."""
    if requested != "auto":
        return requested
    return "contextual" if shots > 0 else "none"


CONTENT_FREE = ("N/A", "[MASK]", "")


def log_softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    total = top + math.log(sum(math.exp(s - top) for s in scores))
    return [s - total for s in scores]


def contextual_prior(content_free_scores: list[list[float]]) -> list[float]:
    """p_cf: the mean over the content-free inputs of the label distribution (softmax over the labels)."""
    distributions = [[math.exp(v) for v in log_softmax(row)] for row in content_free_scores]
    return [sum(column) / len(distributions) for column in zip(*distributions)]


def calibrate(scores: list[float], method: str, prior: list[float] | None) -> list[float]:
    """The scores the prediction is the argmax of. contextual: log p(y|x) - log p_cf(y) with p_cf
    a probability per label; pmi: log P(y|x) - log P(y|cue) with the cue's log-likelihoods."""
    if method == "none" or prior is None:
        return list(scores)
    if method == "contextual":
        return [s - math.log(max(p, 1e-30)) for s, p in zip(log_softmax(scores), prior)]
    if method == "pmi":
        return [s - p for s, p in zip(scores, prior)]
    raise ValueError(f"unknown calibration {method!r}; choose from {', '.join(METHODS)}")


def blank_fields(fields: dict, filler: str, keep: Sequence[str] = ()) -> dict:
    """A row's template fields with every input replaced by `filler` (labels and answers untouched)."""
    return {key: value if key in keep else filler for key, value in fields.items()}


def answer_cue(template: str) -> str:
    """The text of a query template after its last placeholder: the cue right before the answer
    ("Review: {text}\\nSentiment:" -> "Sentiment:"); the whole template when it has no placeholder."""
    end = template.rfind("}")
    return template[end + 1:].lstrip() if end >= 0 else template
