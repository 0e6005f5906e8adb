"""Text classification: text -> one label, scored with accuracy and macro-F1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import DataCollatorWithPadding

from ftcli.data.cache import cached_map
from ftcli.data.columns import check_texts, file_row_numbers
from ftcli.data.images import data_file
from ftcli.data.labels import check_known_labels, infer_labels, label_key
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.tasks.base import Task, label_problems, text_problems


class SequenceClassificationTask(Task):
    """One or two texts (segments A/B) -> one label. Subclasses name the text fields."""

    text_fields: tuple[str, ...] = ("text",)
    best_metric = "accuracy"
    auto_model_class = "AutoModelForSequenceClassification"
    peft_task_type = "SEQ_CLS"

    @property
    def fields(self) -> dict[str, str]:
        return {**{f: f for f in self.text_fields}, "label": "label"}

    @property
    def required_fields(self) -> tuple[str, ...]:
        return (*self.text_fields, "label")

    @property
    def input_fields(self) -> tuple[str, ...]:
        return self.text_fields

    def label_list(self, train: Dataset, columns: dict[str, str]) -> list[str]:
        source = data_file(train)
        where = f"training data {source}" if source is not None else "the training data"
        labels = infer_labels(train[columns["label"]], where, columns["label"], file_row_numbers(train))
        if len(labels) < 2:
            raise UserError(
                f"{where} has a single label ({labels[0]!r}); classification needs at least two"
            )
        return labels

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        check_texts(dataset, columns, self.text_fields, where)
        if label2id is not None and columns["label"] in dataset.column_names:
            check_known_labels(dataset[columns["label"]], label2id, where, columns["label"], file_row_numbers(dataset))

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        yield from text_problems(dataset, columns, self.text_fields)
        if columns["label"] in dataset.column_names:
            yield from label_problems(dataset, columns["label"])

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        tokenizer = processor
        text_columns = [columns[f] for f in self.text_fields]
        label_column = columns["label"]

        def encode(batch):
            encoded = tokenizer(*[batch[c] for c in text_columns], truncation=True, max_length=max_length)
            if with_labels:
                encoded["labels"] = [label2id[label_key(v)] for v in batch[label_column]]
            return encoded

        return cached_map(dataset, encode, batched=True, remove_columns=dataset.column_names,
                           desc="Tokenizing")

    def collator(self, processor):
        return DataCollatorWithPadding(processor)

    def compute_metrics(self, gathered, data):
        predictions = gathered["logits"].argmax(-1)
        all_ids = list(range(len(data.labels)))
        return {
            **load_metric("accuracy").compute(predictions=predictions, references=gathered["labels"]),
            **load_metric("f1").compute(predictions=predictions, references=gathered["labels"],
                                        average="macro", labels=all_ids),
        }

    def format_predictions(self, gathered, data) -> list[dict[str, Any]]:
        logits = np.asarray(gathered["logits"], dtype=np.float64)
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


class ClassificationTask(SequenceClassificationTask):
    name = "classification"
    text_fields = ("text",)


class NliTask(SequenceClassificationTask):
    """Premise + hypothesis encoded as one pair (segments A and B) -> a label."""

    name = "nli"
    text_fields = ("premise", "hypothesis")
