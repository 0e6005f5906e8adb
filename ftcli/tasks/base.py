"""What every task module provides to the runner, the training loop and the commands."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from datasets import Dataset


class Task(ABC):
    name: str
    fields: dict[str, str]
    """Task field -> default column name (DESIGN.md section 3)."""
    required_fields: tuple[str, ...]
    """Fields that must be present in training and evaluation data."""
    input_fields: tuple[str, ...]
    """Fields needed to predict (no labels)."""
    best_metric: str
    """Metric used to keep the best epoch (higher is better)."""
    auto_model_class: str
    """transformers Auto class for checkpoints of architectures ftcli does not implement."""
    peft_task_type: str

    @abstractmethod
    def label_list(self, train: Dataset, columns: dict[str, str]) -> list[str] | None:
        """The label set inferred from training data (None for tasks without labels)."""

    @abstractmethod
    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        """Raise UserError for rows this task cannot use."""

    @abstractmethod
    def preprocess(self, dataset: Dataset, tokenizer, columns: dict[str, str], label2id: dict | None,
                   max_length: int, with_labels: bool = True) -> Dataset:
        """Tokenized model inputs (and `labels`), other columns removed."""

    @abstractmethod
    def collator(self, tokenizer):
        """Batches a list of preprocessed rows (dynamic padding)."""

    @abstractmethod
    def compute_metrics(self, logits: np.ndarray, labels: np.ndarray, label_names: list[str]) -> dict[str, float]:
        """Flat metric dict from gathered model outputs and references."""

    @abstractmethod
    def format_predictions(self, logits: np.ndarray, id2label: dict[int, str]) -> list[dict[str, Any]]:
        """One JSON-able record per example."""
