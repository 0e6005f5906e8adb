"""Text classification: text (or a pair: NLI) -> one label, a set of labels, or a number.

Three problem types, named as transformers names them (`options.problem_type`, saved as the model config's
`problem_type`, so a plain transformers `pipeline` treats the model the same way):

    single_label_classification   one label per row; softmax + cross-entropy; accuracy and macro-F1
    multi_label_classification    a set of labels per row (a list, or "a|b"); sigmoid + BCE; one threshold per
                                  label, chosen on the validation split (0.5 without one); micro-/macro-F1
                                  and subset accuracy
    regression                    one number per row; one output, MSE; Pearson, Spearman and RMSE

`auto` infers the type from the training labels and says which and why (stderr). `train.class_weights`
weighs the loss (cross-entropy weights, or BCE pos_weights) through the model config's `ftcli_class_weights`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import DataCollatorWithPadding

from ftcli.data.cache import cached_map
from ftcli.data.columns import check_texts, file_row_numbers
from ftcli.data.images import data_file
from ftcli.data.labels import (MULTI, REGRESSION, SINGLE, bad_label_set_rows, check_known_labels, class_weights,
                               infer_label_set, infer_labels, infer_problem_type, label_key, label_set, label_sets,
                               regression_problem_rows, regression_targets, regression_value)
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.metrics.thresholds import DEFAULT as DEFAULT_THRESHOLD
from ftcli.metrics.thresholds import best_thresholds
from ftcli.progress import console
from ftcli.tasks.base import Task, label_problems, text_problems

BEST_METRICS = {SINGLE: ("accuracy", True), MULTI: ("f1_micro", True), REGRESSION: ("pearson", True)}
"""The validation metric that keeps the best epoch, and whether greater is better. Regression keeps the epoch
with the highest Pearson correlation (GLUE's STS-B headline): it is scale-free, so one number means the same
on any label range, and it points the same way as the other types' metrics; RMSE is reported beside it."""
METRIC_NAMES = {SINGLE: ("accuracy", "f1"), MULTI: ("f1_micro", "f1_macro", "subset_accuracy"),
                REGRESSION: ("pearson", "spearman", "rmse")}
"""What `compute_metrics` reports for each problem type (besides `loss`, and multi-label validation's thresholds)."""
THRESHOLD_PREFIX = "threshold_"
"""Validation metrics `threshold_<label>`: the thresholds chosen on that pass (multi-label)."""


class SequenceClassificationTask(Task):
    """One or two texts (segments A/B) -> one label, a set of labels or a number. Subclasses name the text fields."""

    text_fields: tuple[str, ...] = ("text",)
    auto_model_class = "AutoModelForSequenceClassification"
    peft_task_type = "SEQ_CLS"
    thresholds: dict[str, float] | None = None
    """Multi-label: label -> decision threshold (the saved model's `ftcli_thresholds`; None: 0.5 each)."""
    weights: list[float] | None = None
    """`train.class_weights` resolved to one weight per label id (None: unweighted)."""
    notes: list[str] | None = None
    """What the training labels decided (problem type and why, class weights), said once the run builds its
    first batches (`collator`): after every input check, so a refused input stays a one-line error."""
    _labels_from_data = False

    @property
    def problem_type(self) -> str:
        """The options' problem type: "auto" until the training labels (or a saved model) decide it."""
        return self.options.problem_type

    @property
    def best_metric(self) -> str:
        return BEST_METRICS.get(self.problem_type, BEST_METRICS[SINGLE])[0]

    @property
    def greater_is_better(self) -> bool:
        return BEST_METRICS.get(self.problem_type, BEST_METRICS[SINGLE])[1]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The problem type's metrics; every type's while it is still `auto`."""
        if self.problem_type in METRIC_NAMES:
            return METRIC_NAMES[self.problem_type]
        return tuple(name for names in METRIC_NAMES.values() for name in names)

    @property
    def fields(self) -> dict[str, str]:
        return {**{f: f for f in self.text_fields}, "label": "label"}

    @property
    def required_fields(self) -> tuple[str, ...]:
        return (*self.text_fields, "label")

    @property
    def input_fields(self) -> tuple[str, ...]:
        return self.text_fields

    # -- the problem type ----------------------------------------------------------------------

    def resolve_problem_type(self, values) -> str:
        """Decide `auto` from the training labels (stored in the options, so in the run's config.yaml); which
        type and why goes into `notes` (once)."""
        if self.problem_type == "auto":
            self.options.problem_type, why = infer_problem_type(values, self.options.label_separator)
            why = f"from the labels: {why}" + ("" if "--set" in why else "; or --set options.problem_type=...")
        else:
            why = "options.problem_type"
        if self.notes is None:
            self.notes = [f"problem type: {self.problem_type} ({why})"]
        return self.problem_type

    def say_notes(self) -> None:
        for note in self.notes or []:
            console.print(note)
        self.notes = []

    def label_list(self, train: Dataset, columns: dict[str, str]) -> list[str]:
        source = data_file(train)
        where = f"training data {source}" if source is not None else "the training data"
        column, rows = columns["label"], file_row_numbers(train)
        values = train[column]
        problem_type = self.resolve_problem_type(values)
        self._labels_from_data, self.thresholds = True, None
        if problem_type == REGRESSION:
            regression_targets(values, where, column, rows)
            labels, keys = [column], None  # one output, named after the column (the pipeline's "label")
        elif problem_type == MULTI:
            labels = infer_label_set(values, self.options.label_separator, where, column, rows)
            if not labels:
                raise UserError(f"{where} has no labels at all in '{column}': every label set is empty")
            keys = label_sets(values, self.options.label_separator, where, column, rows)
        else:
            labels = infer_labels(values, where, column, rows)
            if len(labels) < 2:
                raise UserError(f"{where} has a single label ({labels[0]!r}); classification needs at least two")
            keys = [label_key(v) for v in values]
        self._check_run_settings(problem_type)
        spec = getattr(getattr(self.run_config, "train", None), "class_weights", "none")
        self.weights = class_weights(spec, problem_type, labels, keys)
        if self.weights:
            shown = ", ".join(f"{label} {weight:.3g}" for label, weight in list(zip(labels, self.weights))[:10])
            self.notes.append(f"class weights ({spec if isinstance(spec, str) else 'train.class_weights'}): {shown}"
                              + (" ..." if len(labels) > 10 else ""))
        return labels

    def _check_run_settings(self, problem_type: str) -> None:
        """Refuse what the run's strategy cannot train: feature-extraction heads learn single labels, unweighted."""
        config = self.run_config
        if config is None or config.strategy != "feature-extraction":
            return
        if problem_type != SINGLE or config.train.class_weights != "none":
            what = problem_type if problem_type != SINGLE else "train.class_weights"
            raise UserError(f"--strategy feature-extraction trains single-label heads without class weights; for "
                            f"{what} use --strategy full or lora")

    def bind(self, model_config) -> "Task":
        """A model ftcli did not train here (evaluate / predict a bare checkpoint): its config's problem type
        (transformers' rule without one: 1 output is regression); a saved model's thresholds. Class weights
        need ftcli's own model classes, whose loss reads them."""
        if self.problem_type == "auto":
            declared = getattr(model_config, "problem_type", None)
            single_output = getattr(model_config, "num_labels", 2) == 1
            self.options.problem_type = declared or (REGRESSION if single_output else SINGLE)
        if not self._labels_from_data:
            self.thresholds = getattr(model_config, "ftcli_thresholds", None) or None
        if self.weights:
            from ftcli.models.registry import architectures

            ours = architectures().get(getattr(model_config, "model_type", None))
            if ours is None or self.auto_model_class not in ours.auto_classes:
                raise UserError(f"train.class_weights needs one of ftcli's own architectures "
                                f"({', '.join(sorted(architectures()))}); {model_config.model_type} runs on "
                                "transformers' class, whose loss takes no weights")
        return self

    def model_kwargs(self, labels: list[str] | None) -> dict[str, Any]:
        kwargs = super().model_kwargs(labels)
        if self.problem_type != "auto":
            kwargs["problem_type"] = self.problem_type
        if self.weights:
            kwargs["ftcli_class_weights"] = list(self.weights)
        return kwargs

    def on_kept_model(self, model, validation_metrics: dict[str, Any]) -> None:
        """Multi-label: the kept epoch's thresholds (0.5 without validation) score the test split and are saved
        with the model (`config.ftcli_thresholds`)."""
        if self.problem_type != MULTI:
            return
        config = model.config
        labels = [config.id2label[i] for i in sorted(config.id2label)]
        self.thresholds = {label: float(validation_metrics.get(f"{THRESHOLD_PREFIX}{label}", DEFAULT_THRESHOLD))
                           for label in labels}
        config.ftcli_thresholds = dict(self.thresholds)

    def threshold_array(self, labels: list[str]) -> np.ndarray:
        known = self.thresholds or {}
        return np.array([float(known.get(label, DEFAULT_THRESHOLD)) for label in labels])

    # -- rows ------------------------------------------------------------------------------------

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        check_texts(dataset, columns, self.text_fields, where)
        column = columns["label"]
        if label2id is None or column not in dataset.column_names:
            return
        values, rows = dataset[column], file_row_numbers(dataset)
        if self.problem_type == REGRESSION:
            regression_targets(values, where, column, rows)
        elif self.problem_type == MULTI:
            sets = label_sets(values, self.options.label_separator, where, column, rows)
            check_known_labels([label for found in sets for label in found], label2id, where, column,
                               [row for row, found in zip(rows, sets) for _ in found])
        else:
            check_known_labels(values, label2id, where, column, rows)

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        yield from text_problems(dataset, columns, self.text_fields)
        column = columns["label"]
        if column not in dataset.column_names:
            return
        values = dataset[column]
        problem_type = self.resolve_problem_type(values)
        if problem_type == SINGLE:
            yield from label_problems(dataset, column)
        elif problem_type == MULTI:
            separator = self.options.label_separator
            for row in bad_label_set_rows(values, separator, file_row_numbers(dataset)):
                yield Problem("rows whose label is not a label set", f"has a '{column}' that is not a label set (a "
                              f"list of names or whole numbers, or names joined by '{separator}')", row, column)
        else:
            found = regression_problem_rows(values, file_row_numbers(dataset))
            for kind, rows in found.items():
                plural = "rows with an empty label" if kind == "missing" else "rows with a non-numeric label"
                detail = f"has {'an empty' if kind == 'missing' else 'a non-numeric'} '{column}' (regression labels are numbers)"
                yield from (Problem(plural, detail, row, column) for row in rows)

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        """Label counts count each label of a set (multi-label); a regression column has no label counts."""
        report = super().summary(dataset, columns)
        column = columns.get("label")
        if column not in dataset.column_names or self.problem_type not in (MULTI, REGRESSION):
            return report
        from collections import Counter

        counts = Counter()
        if self.problem_type == MULTI:
            for value in dataset[column]:
                counts.update(label_set(value, self.options.label_separator) or [])
        report["labels"] = counts
        return report

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        tokenizer = processor
        text_columns = [columns[f] for f in self.text_fields]
        label_column = columns["label"]
        problem_type, separator = self.problem_type, self.options.label_separator

        def target(value):
            if problem_type == REGRESSION:
                return regression_value(value)
            if problem_type == MULTI:
                hot = [0.0] * len(label2id)
                for label in label_set(value, separator):
                    hot[label2id[label]] = 1.0
                return hot
            return label2id[label_key(value)]

        def encode(batch):
            encoded = tokenizer(*[batch[c] for c in text_columns], truncation=True, max_length=max_length)
            if with_labels:
                encoded["labels"] = [target(v) for v in batch[label_column]]
            return encoded

        return cached_map(dataset, encode, batched=True, remove_columns=dataset.column_names,
                           desc="Tokenizing")

    def collator(self, processor):
        self.say_notes()
        return DataCollatorWithPadding(processor)

    # -- outputs -----------------------------------------------------------------------------------

    def compute_metrics(self, gathered, data):
        logits, references = np.asarray(gathered["logits"], dtype=np.float64), gathered["labels"]
        if self.problem_type == REGRESSION:
            return load_metric("regression").compute(predictions=logits[:, 0], references=references)
        if self.problem_type == MULTI:
            return self._multi_label_metrics(logits, np.asarray(references) >= 0.5, data)
        predictions = logits.argmax(-1)
        all_ids = list(range(len(data.labels)))
        return {
            **load_metric("accuracy").compute(predictions=predictions, references=references),
            **load_metric("f1").compute(predictions=predictions, references=references,
                                        average="macro", labels=all_ids),
        }

    def _multi_label_metrics(self, logits: np.ndarray, truth: np.ndarray, data) -> dict[str, float]:
        """On the validation split, each label's threshold is chosen here (best F1) and reported with the
        metrics at those thresholds; elsewhere the kept / saved thresholds (or 0.5) apply."""
        scores = sigmoid(logits)
        choosing = getattr(data, "split", None) == "validation"
        thresholds = best_thresholds(scores, truth) if choosing else self.threshold_array(data.labels)
        metrics = load_metric("multilabel").compute(predictions=(scores >= thresholds).astype(int).tolist(),
                                                    references=truth.astype(int).tolist())
        if choosing:
            metrics.update({f"{THRESHOLD_PREFIX}{label}": round(float(t), 6) for label, t in zip(data.labels, thresholds)})
        return metrics

    def format_predictions(self, gathered, data) -> list[dict[str, Any]]:
        logits = np.asarray(gathered["logits"], dtype=np.float64)
        if self.problem_type == REGRESSION:
            return [{"label": round(float(value), 6)} for value in logits[:, 0]]
        if self.problem_type == MULTI:
            scores, thresholds = sigmoid(logits), self.threshold_array(data.labels)
            return [{"label": [data.labels[i] for i in np.flatnonzero(row >= thresholds)],
                     "scores": {data.labels[i]: round(float(p), 6) for i, p in enumerate(row)}} for row in scores]
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities = shifted / shifted.sum(-1, keepdims=True)
        records = []
        for row in probabilities:
            best = int(row.argmax())
            records.append({
                "label": data.labels[best],
                "score": round(float(row[best]), 6),
                "scores": {data.labels[i]: round(float(p), 6) for i, p in enumerate(row)},
            })
        return records

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        """The predict table: a label and its score; a label set with each label's score (the best-scoring
        label when the set is empty); a number."""
        if self.problem_type == REGRESSION:
            return {**{f: str(record[f]) for f in self.input_fields}, "value": f"{record['label']:.4f}"}
        if self.problem_type == MULTI:
            scores = record["scores"]
            shown = ", ".join(f"{label} ({scores[label]:.4f})" for label in record["label"])
            if not shown:
                best = max(scores, key=scores.get)
                shown = f"none (highest: {best} {scores[best]:.4f})"
            return {**{f: str(record[f]) for f in self.input_fields}, "labels": shown}
        return super().display(record)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), without overflow for large negative logits."""
    return np.exp(-np.logaddexp(0.0, -logits))


class ClassificationTask(SequenceClassificationTask):
    name = "classification"
    text_fields = ("text",)


class NliTask(SequenceClassificationTask):
    """Premise + hypothesis encoded as one pair (segments A and B) -> a label."""

    name = "nli"
    text_fields = ("premise", "hypothesis")
