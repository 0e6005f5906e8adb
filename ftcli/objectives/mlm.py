"""`mlm`: BERT's masked-language modelling on blocks of running text (RoBERTa style: documents
concatenated, cut into `max_length` blocks, fresh masks every epoch)."""

from __future__ import annotations

import torch
from datasets import Dataset

from ftcli.errors import UserError
from ftcli.models.loading import is_masked_lm_encoder
from ftcli.models.outputs import enable_sparse_prediction
from ftcli.objectives.base import Objective, ObjectiveOutput, PretrainObjective, tokenize_documents, too_short
from ftcli.objectives.masking import candidates_of, mask_tokens, masked_accuracy, masked_lm_loss, masked_metrics


def special_ids(processor) -> tuple[list[int], list[int]]:
    """The ids a block starts and ends with: [CLS] ... [SEP] (BERT), <s> ... </s>, or nothing."""
    first = processor.cls_token_id if processor.cls_token_id is not None else processor.bos_token_id
    last = processor.sep_token_id if processor.sep_token_id is not None else processor.eos_token_id
    return ([first] if first is not None else []), ([last] if last is not None else [])


def require_mask_token(processor, model_name: str) -> int:
    if processor.mask_token_id is None:
        raise UserError(f"the tokenizer of {model_name} has no mask token: masked-language modelling needs one "
                        "(train a WordPiece tokenizer with `ftcli tokenizer train wordpiece`)")
    return processor.mask_token_id


def blocks(ids: list[list[int]], starts: list[list[int]] | None, separator: list[int], size: int):
    """The documents' tokens end to end (a separator between documents), cut into blocks of
    `size`. A last block shorter than half a block is dropped."""
    stream, stream_starts = [], []
    for i, row in enumerate(ids):
        stream += row + separator
        if starts is not None:
            stream_starts += starts[i] + [1] * len(separator)
    cut = [(k, min(k + size, len(stream))) for k in range(0, len(stream), size)]
    cut = [(a, b) for a, b in cut if b - a == size or (b - a) * 2 >= size]
    return [stream[a:b] for a, b in cut], [stream_starts[a:b] for a, b in cut] if starts is not None else None, len(stream)


class MaskedLm(PretrainObjective):
    name = "mlm"
    auto_model_class = "AutoModelForMaskedLM"

    def check_model(self, model_config, model_name: str) -> None:
        if not is_masked_lm_encoder(model_config):
            raise UserError(f"{self.name} needs an encoder with a masked-LM head (BERT, ALBERT, ELECTRA, DistilBERT...); "
                            f"{model_name} is a {model_config.model_type} model (use clm for decoders)")

    def preprocess(self, dataset: Dataset, processor, columns, label2id, max_length: int, with_labels: bool = True):
        self.mask_token_id = require_mask_token(processor, getattr(processor, "name_or_path", "the model"))
        first, last = special_ids(processor)
        size = max_length - len(first) - len(last)
        ids, starts = tokenize_documents(processor, self.documents(dataset, columns), self.settings.whole_word_mask)
        chunks, chunk_starts, total = blocks(ids, starts, last, size)
        if not chunks or len(chunks[0]) < size:
            raise too_short(self.source_of(dataset), total, size)
        rows = {
            "input_ids": [first + c + last for c in chunks],
            "special_tokens_mask": [[1] * len(first) + [0] * len(c) + [1] * len(last) for c in chunks],
            "attention_mask": [[1] * (len(first) + len(c) + len(last)) for c in chunks],
        }
        if chunk_starts is not None:
            rows["word_start"] = [[1] * len(first) + s + [1] * len(last) for s in chunk_starts]
        return Dataset.from_dict(rows)

    def training_module(self, model, config):
        return MaskedLmModule(model, self)

    def compute_metrics(self, gathered, data):
        return masked_metrics(gathered)


class MaskedLmModule(Objective):
    def __init__(self, model, objective: MaskedLm):
        super().__init__(model)
        self.objective = objective  # its settings, and the tokenizer's mask id (known once text is tokenized)
        self.sparse = enable_sparse_prediction(model)  # ftcli's models predict at the masked tokens only

    def with_labels(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The model's `labels` argument where it predicts at the labelled tokens only (else none: a model
        outside ftcli would compute its own loss over every position)."""
        return {"labels": labels} if self.sparse else {}

    def mask(self, batch: dict[str, torch.Tensor], rng: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(batch["input_ids"], candidates_of(batch), self.objective.mask_token_id,
                           self.model.config.vocab_size, self.objective.settings, batch.get("word_start"), rng)

    def forward(self, **batch):
        masked, labels = self.mask(batch, self.rng(batch["input_ids"]))
        inputs = {k: v for k, v in batch.items() if k in ("attention_mask", "token_type_ids")}
        logits = self.model(input_ids=masked, **inputs, **self.with_labels(labels)).logits
        return ObjectiveOutput(loss=masked_lm_loss(logits, labels), metrics=masked_accuracy(logits, labels))
