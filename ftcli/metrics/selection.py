"""Which validation metric keeps an epoch and drives early stopping (`train.select_metric`), and which
way is better for each metric ftcli reports.

A task says what it reports in `metric_names` (its `compute_metrics` keys, besides `loss`, which every
split with labels gets); a name it does not report is refused before training. A task that does not
declare them has the name checked at its first validation, before training goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ftcli.errors import UserError
from ftcli.preflight import did_you_mean

GREATER_IS_BETTER: dict[str, bool] = {
    **dict.fromkeys((
        "accuracy", "f1", "precision", "recall",  # classification (single-label), NER
        "f1_micro", "f1_macro", "subset_accuracy",  # multi-label classification
        "pearson", "spearman",  # regression
        "exact_match",  # QA (with f1)
        "rougeL",  # generation
        "masked_accuracy", "nsp_accuracy", "sop_accuracy", "rtd_accuracy", "rtd_auc", "next_token_accuracy",  # pretrain
    ), True),
    **dict.fromkeys(("loss", "rmse", "perplexity"), False),
}
"""Every metric ftcli reports -> whether a higher value is better (a new metric goes here too). Counts
(`total`, NER's `PER_number`, `masked_tokens`), shares (`replaced_share`) and chosen settings (multi-label
`threshold_<label>`) are not scores and cannot select an epoch."""
NOT_SCORES = ("threshold_",)
"""Prefixes of reported values that are settings chosen on the validation split, not scores."""


def greater_is_better(name: str) -> bool | None:
    """The direction of a metric: from the table, else from its last part for per-type scores (NER's
    `PER_f1`, SQuAD v2's `HasAns_exact_match`, an objective's `mlm_loss`); None for no known metric."""
    if name in GREATER_IS_BETTER:
        return GREATER_IS_BETTER[name]
    if name.startswith(NOT_SCORES):
        return None
    suffixes = [known for known in GREATER_IS_BETTER if name.endswith(f"_{known}")]
    return GREATER_IS_BETTER[max(suffixes, key=len)] if suffixes else None


def reported_metrics(task) -> tuple[str, ...]:
    """What the task declares it reports, `loss` included; () when it declares nothing."""
    declared = tuple(getattr(task, "metric_names", ()) or ())
    return (*declared, "loss") if declared else ()


@dataclass(frozen=True)
class Selection:
    """The validation metric that keeps an epoch, and which way is better."""

    metric: str
    greater_is_better: bool
    task: str = ""
    setting: bool = False
    """Whether `train.select_metric` chose it (else it is the task's default)."""

    def improved(self, metrics: dict[str, float], best: dict[str, float]) -> bool:
        """Whether `metrics` beat `best` on the metric (a NaN never wins, and anything beats a NaN)."""
        value, old = float(metrics[self.metric]), float(best[self.metric])
        if math.isnan(value):
            return False
        if math.isnan(old):
            return True
        return value > old if self.greater_is_better else value < old

    def check_reported(self, metrics: dict[str, float]) -> None:
        """At a validation: the metric must be among the scores (a task that did not declare its metrics)."""
        if self.metric in metrics:
            return
        scores = [name for name in metrics if greater_is_better(name) is not None]
        hint = did_you_mean(self.metric, scores)
        chosen = f"train.select_metric={self.metric}{hint}" if self.setting else f"the {self.task} task's metric"
        raise UserError(f"{chosen}: the {self.task} validation scores have no '{self.metric}'; they have "
                        f"{', '.join(scores)} (set train.select_metric to one of them)")

    @property
    def described(self) -> str:
        """"validation loss (lower is better)", for messages and the model card."""
        return f"validation {self.metric} ({'higher' if self.greater_is_better else 'lower'} is better)"


def check_metric_name(name: str) -> bool:
    """Refuse a name that is no metric ftcli reports (before anything loads); its direction otherwise."""
    direction = greater_is_better(name)
    if direction is None:
        raise UserError(f"train.select_metric={name}{did_you_mean(name, GREATER_IS_BETTER)} is not a metric "
                        f"ftcli reports; use one of {', '.join(GREATER_IS_BETTER)} (or leave it unset for the "
                        "task's default)")
    return direction


def selection_for(task, select_metric: str | None) -> Selection:
    """The selection of a run: `select_metric`, or the task's default (`task.best_metric`, read from the task
    instance: it may depend on the task's options). A metric the task declares it does not report is refused;
    per-type scores (NER's `PER_f1`) are known only once validated."""
    name = getattr(task, "name", "")
    if select_metric is None or select_metric == task.best_metric:
        return Selection(task.best_metric, bool(task.greater_is_better), name, select_metric is not None)
    direction = check_metric_name(select_metric)
    reported = reported_metrics(task)
    per_type = any(select_metric.endswith(f"_{known}") for known in reported)
    if reported and select_metric not in reported and not per_type:
        raise UserError(f"train.select_metric={select_metric}{did_you_mean(select_metric, reported)}: the {name} "
                        f"task reports {', '.join(reported)}")
    return Selection(select_metric, direction, name, True)
