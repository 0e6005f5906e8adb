"""What every pre-training objective shares: the Task side (text -> features, held-out metrics),
the training module the loop calls, and the `pretrain` strategy that builds and saves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from torch import nn

from ftcli.config import PretrainConfig, RunConfig
from ftcli.errors import UserError
from ftcli.models.fresh import is_fresh
from ftcli.models.wrappers import TrainingWrapper
from ftcli.progress import console
from ftcli.strategies.full import FullStrategy
from ftcli.tasks.base import IGNORE, EvalData, Task


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    loss_parts: dict[str, torch.Tensor] = field(default_factory=dict)
    """Each term of the loss, logged beside it (e.g. `mlm`, `nsp`)."""
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    """Per-row tensors gathered over the held-out text (e.g. masked tokens right / seen)."""


class Objective(TrainingWrapper):
    """The module the training loop trains: builds the objective's inputs from a batch of plain
    token ids and returns an `ObjectiveOutput`. `model` is what the run saves."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.config = model.config
        self.base_model_prefix = ""  # no new head: every parameter trains at optim.lr

    def rng(self, input_ids: torch.Tensor) -> torch.Generator | None:
        """Training draws fresh masks from the (seeded, checkpointed) global RNG; evaluation draws
        the same masks for the same batch every time, so held-out scores compare across epochs."""
        if self.training:
            return None
        seed = int(input_ids.sum().item()) * 1_000_003 + input_ids.numel()
        return torch.Generator(device=input_ids.device).manual_seed(seed % (2**63))


TEXT_CORPORA = ("text", "generation")
"""Catalogue tasks whose sets are running text: their test split is held-out text, not a downstream test."""


def is_word_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(word, str) for word in value)


def as_text(value) -> str:
    """A row's text, stripped: a string, or a sentence given as its words (an NER set's tokens); "" for none."""
    if is_word_list(value):
        value = " ".join(value)
    return value.strip() if isinstance(value, str) else ""


class PretrainObjective(Task):
    """A Task over unlabelled text: one `text` column, no labels, lower held-out loss is better."""

    name: str
    fields = {"text": "text"}
    required_fields = ("text",)
    input_fields = ("text",)
    best_metric = "loss"
    greater_is_better = False
    output_kind = "pretrain"
    has_new_head = False
    peft_task_type = None
    serves_as: str | None = None
    """The task `predict` and `evaluate` treat a finished run as (clm: generation), if any."""

    def __init__(self, settings: PretrainConfig | None = None, seed: int = 42):
        self.settings = settings or PretrainConfig()
        """`pretrain.*` of the run (masking, NSP / SOP probabilities, the RTD generator's size)."""
        self.seed = seed

    def check_model(self, model_config, model_name: str) -> None:
        """Refuse an architecture that has no head for this objective (one line)."""

    def training_module(self, model: nn.Module, config: RunConfig) -> Objective:
        raise NotImplementedError

    # -- data ---------------------------------------------------------------------------------
    def label_list(self, train: Dataset, columns: dict[str, str]) -> None:
        return None

    def source_of(self, dataset: Dataset) -> str:
        """What `validate` was told the rows are ("training data FILE"), for errors found while preprocessing
        them. Keyed by the rows' fingerprint (their content), not the object's id, which Python reuses."""
        return getattr(self, "_sources", {}).get(dataset._fingerprint, "the text")

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id, where: str) -> None:
        self._sources = {**getattr(self, "_sources", {}), dataset._fingerprint: where}
        column = columns["text"]
        texts = dataset[column]
        for row, text in enumerate(texts, start=1):
            if text is not None and not isinstance(text, str) and not is_word_list(text):
                raise UserError(f"{where}: row {row}, column '{column}' is {type(text).__name__}, not text")
        if not any(map(as_text, texts)):
            raise UserError(f"{where} holds no text: pre-training needs a non-empty corpus")

    def spares_test_split(self, train: str) -> bool:
        """Pre-training reads a labelled set's text (`--train rt-sentiment`, `wnut16`) but never its test
        split, which the fine-tuning after it reports on: the held-out text comes from its training split.
        A catalogue text corpus (english-text, rt-reviews...) keeps its own test split."""
        from ftcli.data.catalog.entries import available_datasets

        entry = available_datasets().get(train)
        return entry is None or entry.task not in TEXT_CORPORA

    def documents(self, dataset: Dataset, columns: dict[str, str]) -> list[str]:
        return [text for text in map(as_text, dataset[columns["text"]]) if text]

    def collator(self, processor):
        return PadCollator(processor.pad_token_id if processor.pad_token_id is not None else 0)

    # -- outputs ------------------------------------------------------------------------------
    def batch_outputs(self, model, batch):
        out = model(**batch)
        return out.metrics, out.loss

    def compute_metrics(self, gathered: dict[str, np.ndarray], data: EvalData) -> dict[str, float]:
        return {}

    def format_predictions(self, gathered, data):
        raise UserError("a pre-training run predicts no labels: fine-tune it (ftcli finetune TASK --model RUN/model) "
                        "or generate from a clm run (ftcli predict RUN --input TEXT)")


def too_short(where: str, tokens: int, block: int) -> UserError:
    return UserError(f"{where} is too short for one block: {tokens} tokens, and a block holds {block} "
                     "(lower --max-length or add text)")


def tokenize_documents(processor, documents: list[str], word_starts: bool = False):
    """Token ids of each document, without special tokens; with `word_starts`, 1 where a token
    begins a word (from the fast tokenizer's word ids), for whole-word masking."""
    encoded = processor(documents, add_special_tokens=False, return_attention_mask=False, verbose=False)
    ids = encoded["input_ids"]
    if not word_starts:
        return ids, None
    starts = []
    for i, row in enumerate(ids):
        words = encoded.word_ids(i)
        starts.append([int(k == 0 or words[k] != words[k - 1]) for k in range(len(row))])
    return ids, starts


@dataclass
class PadCollator:
    """Pads every list column to the batch's longest row: ids with the pad id, masks and the
    other per-token columns with 0 (special_tokens_mask with 1, so padding is never chosen)."""

    pad_token_id: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = {}
        for key in rows[0]:
            values = [row[key] for row in rows]
            if not isinstance(values[0], list):
                batch[key] = torch.tensor(values)
                continue
            longest = max(len(v) for v in values)
            fill = {"input_ids": self.pad_token_id, "special_tokens_mask": 1, "labels": IGNORE}.get(key, 0)
            batch[key] = torch.tensor([v + [fill] * (longest - len(v)) for v in values])
        return batch


class PretrainStrategy(FullStrategy):
    """Every weight trains; the objective wraps the model, and the run saves the model inside."""

    name = "pretrain"
    exports_onnx = False  # model/ is a pre-trained body: fine-tune it first

    def task_named(self, name: str) -> Task:
        from ftcli.objectives import get_objective

        return get_objective(name)

    def served_as(self, task: str, run: Path) -> tuple[str, str]:
        """A clm run generates as a generation model (full weights); the others are fine-tuned first."""
        from ftcli.objectives import get_objective

        served = get_objective(task).serves_as
        if served is None:
            raise UserError(f"{run} is a {task} pre-training run, which predicts nothing by itself: "
                            f"fine-tune it first (ftcli finetune TASK --model {run / 'model'})")
        return served, "full"
    output_kinds = frozenset({"pretrain"})
    modalities = frozenset({"text"})

    def check(self, task, config: RunConfig, model_config) -> None:
        self.check_task(task)
        task.check_model(model_config, config.model.name)

    def build(self, checkpoint, task, labels, config):
        model = super().build(checkpoint, task, labels, config)
        note = None if is_fresh(checkpoint) else new_head_note(model, config.model.name, task.name)
        if note:  # a fresh model (--config) is random throughout: its head is no news
            console.print(note)
        return task.training_module(model, config)


def new_head_note(model, model_name: str, objective: str) -> str | None:
    """One line when the checkpoint has no weights for the objective's head (a sentence encoder such as
    MiniLM has no masked-LM head): what the new head starts from."""
    new = getattr(model, "ftcli_new_weights", [])
    if not new:
        return None
    output, words = model.get_output_embeddings(), model.get_input_embeddings()
    tied = output is not None and words is not None and output.weight is words.weight
    start = ("its output layer tied to the word embeddings, the rest initialised at random" if tied
             else "initialised at random")
    return f"head: {model_name} has no {objective} head; a new one is trained ({start}; {len(new)} new weights)"
