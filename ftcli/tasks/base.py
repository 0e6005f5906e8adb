"""What every task module provides to the runner, the training loop and the commands.

The flow for one task, whatever it is:

    examples (datasets.Dataset, user columns)
      -> validate()                    one-line UserErrors for unusable rows
      -> preprocess()                  features: model inputs (+ `labels`) and, for tasks that
                                       need them in post-processing, extra columns that never
                                       reach the model (`non_model_columns`, e.g. QA offsets)
      -> collator()                    batches with dynamic padding
      -> batch_outputs(model, batch)   the tensors to gather for one batch (logits, argmax ids,
                                       token counts...); kept small, since they are gathered
      -> compute_metrics(gathered, EvalData) / format_predictions(gathered, EvalData)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from datasets import Dataset

from ftcli.config import TaskOptions
from ftcli.data.columns import file_row_numbers
from ftcli.data.readers import Problem
from ftcli.errors import UserError

IGNORE = -100
"""Label value the losses skip (PyTorch's cross-entropy `ignore_index` default): sub-tokens,
prompt tokens, padding, virtual tokens."""


@dataclass
class EvalData:
    """Everything post-processing may need besides the gathered model outputs."""

    examples: Dataset
    """The rows as read (user column names)."""
    features: Dataset
    """The preprocessed features, extra columns included, in dataloader order."""
    columns: dict[str, str]
    """Task field -> column name."""
    labels: list[str] | None
    """id -> label name for tasks with a label set."""
    processor: Any = None
    """The tokenizer (or image processor) the features were made with: generation decodes its outputs with it."""
    split: str | None = None
    """"validation" or "test" when a training run scores one of its held-out splits; None elsewhere
    (`evaluate`, `predict`). Multi-label classification chooses its thresholds on "validation" only."""


def model_inputs(features: Dataset, task: "Task") -> Dataset:
    """The features without the columns kept only for post-processing."""
    extra = [c for c in task.non_model_columns if c in features.column_names]
    return features.remove_columns(extra) if extra else features


def text_problems(dataset: Dataset, columns: dict[str, str], fields) -> Iterator[Problem]:
    """Rows whose text field is empty or not a string (what `check_texts` refuses), one by one."""
    rows = file_row_numbers(dataset)
    for field_name in fields:
        column = columns[field_name]
        for number, value in zip(rows, dataset[column]):
            if not isinstance(value, str) or not value.strip():
                yield Problem("rows with an empty or non-text value", f"has an empty or non-text '{column}'; fill "
                              "or drop it", number, column)


LABEL_PROBLEMS = {
    "missing": ("rows with an empty label", "has an empty '{}' (blank, null or NaN); fill it in or drop the row"),
    "fraction": ("rows with a fractional label", "has a fractional '{}' (class labels are names or whole numbers)"),
    "other": ("rows whose label is a list or an object", "has a '{}' that is a list or an object, not a label"),
}


def label_problems(dataset: Dataset, column: str) -> Iterator[Problem]:
    """Rows whose label `infer_labels` refuses (empty, fractional, not a scalar), one by one."""
    from ftcli.data.labels import _rows_by_kind  # the one place that says what kind of label a value is

    for kind, rows in _rows_by_kind(dataset[column], file_row_numbers(dataset)).items():
        if kind in LABEL_PROBLEMS:
            plural, detail = LABEL_PROBLEMS[kind]
            yield from (Problem(plural, detail.format(column), number, column) for number in rows)


class Task(ABC):
    name: str
    fields: dict[str, str]
    """Task field -> default column name (DESIGN.md section 3)."""
    required_fields: tuple[str, ...]
    """Fields that must be present in training and evaluation data."""
    input_fields: tuple[str, ...]
    """Fields needed to predict (no labels)."""
    best_metric: str
    """Metric used to keep the best epoch."""
    greater_is_better: bool = True
    metric_names: tuple[str, ...] = ()
    """The scores `compute_metrics` reports (`loss` comes with every split that has labels; per-type scores
    such as NER's `PER_f1` with the data): `train.select_metric` is checked against them before training.
    () = not declared: the name is checked at the first validation."""
    auto_model_class: str
    """transformers Auto class name; our own class is picked for the architectures ftcli implements."""
    peft_task_type: str | None
    """peft TaskType name (None: peft's generic PeftModel, e.g. for images)."""
    output_kind: str = "sequence"
    """What the head predicts: "sequence" (one label per input), "token" (one per token), "span"
    (start/end logits per token), "lm" or "seq2seq" (next tokens). Strategies build on it."""
    modality: str = "text"
    """What the inputs are: "text" or "image". Strategies build on it (prompt tuning needs text)."""
    has_new_head: bool = True
    """Whether fine-tuning adds a freshly initialised head (not so for language modelling)."""
    processor_auto_class: str = "AutoTokenizer"
    """transformers Auto class that reloads the saved processor (shown in the model card)."""
    non_model_columns: tuple[str, ...] = ()
    """Feature columns kept for post-processing and removed before batches reach the model."""
    options: TaskOptions
    """Task-specific settings (`options.*` in the config), set by `get_task`."""
    run_config: Any = None
    """The whole RunConfig of the run being set up (`get_task(..., config)`), for the few settings outside
    `options` a task reads (classification: `train.class_weights`); None when evaluating or predicting."""

    @property
    def loss_per_token(self) -> bool:
        """Whether the loss is a mean over tokens (NER, language modelling, pre-training) rather than
        over rows. Length-grouped batches would then weigh a short row's tokens above a long row's (a
        batch of short rows has fewer tokens to share its mean), which measurably hurt NER."""
        return self.output_kind in ("token", "lm", "seq2seq", "pretrain")

    # -- loading ---------------------------------------------------------------------------

    def bind(self, model_config) -> "Task":
        """Learn what the checkpoint decides about the task (generation: causal LM or seq2seq
        layout, inputs and peft task type); called once the checkpoint's config is read."""
        return self

    def auto_class_for(self, model_config) -> str:
        """The Auto class for this checkpoint (generation picks causal LM or seq2seq by config)."""
        return self.auto_model_class

    def load_processor(self, checkpoint: str, trust_remote_code: bool = False):
        """The tokenizer (or image processor) that turns rows into model inputs."""
        from ftcli.models.loading import load_tokenizer

        return load_tokenizer(checkpoint, trust_remote_code)

    def model_kwargs(self, labels: list[str] | None) -> dict[str, Any]:
        """Config overrides for the model with this task's head (label maps by default)."""
        if not labels:
            return {}
        return {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}

    # -- data --------------------------------------------------------------------------------

    def spares_test_split(self, train: str) -> bool:
        """Whether a named set's test split stays unread, its training split holding out the evaluation rows."""
        return False

    def required_for(self, dataset: Dataset, columns: dict[str, str]) -> list[str]:
        """Fields the training/evaluation data must have (generation accepts several layouts)."""
        return list(self.required_fields)

    def inputs_for(self, dataset: Dataset, columns: dict[str, str]) -> list[str]:
        """Fields the data must have to predict."""
        return list(self.input_fields)

    @abstractmethod
    def label_list(self, train: Dataset, columns: dict[str, str]) -> list[str] | None:
        """The label set inferred from training data (None for tasks without labels)."""

    @abstractmethod
    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        """Raise UserError for rows this task cannot use."""

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        """Every row `validate` would refuse for what it holds (not for labels unseen in training),
        each with its row as numbered in the file: `ftcli data check` lists them all, where
        `validate` stops at the first. Tasks that do not say more give validate's error."""
        try:
            self.validate(dataset, columns, None, "")
        except UserError as err:
            yield Problem("other problems", str(err).lstrip(": "))

    @abstractmethod
    def preprocess(self, dataset: Dataset, processor, columns: dict[str, str], label2id: dict | None,
                   max_length: int, with_labels: bool = True) -> Dataset:
        """Features: model inputs (and `labels`), plus any `non_model_columns`."""

    @abstractmethod
    def collator(self, processor):
        """Batches a list of feature rows (dynamic padding)."""

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        """For `ftcli data check`: label counts and per-field lengths (words). Tasks whose
        fields are not plain text override this."""
        from collections import Counter

        labels = Counter()
        label_column = columns.get("label")
        if label_column in dataset.column_names:
            for value in dataset[label_column]:
                labels.update(str(v) for v in value) if isinstance(value, list) else labels.update([str(value)])
        lengths = {}
        for field in self.input_fields:
            column = columns[field]
            if column in dataset.column_names:
                values = dataset[column]
                lengths[field] = [len(v) if isinstance(v, list) else len(str(v or "").split()) for v in values]
        return {"labels": labels, "lengths": lengths, "length_unit": "words"}

    def on_kept_model(self, model, validation_metrics: dict[str, Any]) -> None:
        """Called by the training loop once it has put the kept epoch's weights in `model`, before the test
        pass, with that epoch's validation metrics ({} without a validation split): what a task chose on the
        validation split (multi-label thresholds) goes with the model from here. Most tasks choose nothing."""

    # -- outputs -----------------------------------------------------------------------------

    def batch_outputs(self, model, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """One evaluation forward pass: (tensors to gather, loss or None). Default: the logits."""
        out = model(**batch)
        return {"logits": out.logits.float()}, getattr(out, "loss", None)

    @abstractmethod
    def compute_metrics(self, gathered: dict[str, np.ndarray], data: EvalData) -> dict[str, float]:
        """Flat metric dict from gathered outputs (and `labels` when the batches had them)."""

    @abstractmethod
    def format_predictions(self, gathered: dict[str, np.ndarray], data: EvalData) -> list[dict[str, Any]]:
        """One JSON-able record per example (not per feature)."""

    # -- the terminal ------------------------------------------------------------------------

    def input_row(self, text: str) -> dict[str, Any]:
        """`ftcli predict --input TEXT` -> one row in default column names."""
        if len(self.input_fields) == 1:
            return {self.input_fields[0]: text}
        parts = [part.strip() for part in text.split("|||")]
        if len(parts) != len(self.input_fields):
            from ftcli.errors import UserError

            form = " ||| ".join(field.upper() for field in self.input_fields)
            raise UserError(f"{self.name} takes --input \"{form}\" ({len(self.input_fields)} parts joined by |||), "
                            f"got {len(parts)} part(s) in {text!r}; or use --data FILE")
        return dict(zip(self.input_fields, parts))

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        """Column -> text for the `predict` table."""
        shown = {f: str(record[f]) for f in self.input_fields}
        shown["label"] = str(record["label"])
        shown["score"] = f"{record['score']:.4f}"
        return shown
