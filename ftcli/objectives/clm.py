"""`clm`: next-token prediction (GPT) on packed blocks: documents end to end with an end-of-text
token between them, cut into `max_length` blocks with no padding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from datasets import Dataset

from ftcli.errors import UserError
from ftcli.models.loading import is_masked_lm_encoder
from ftcli.objectives.base import Objective, ObjectiveOutput, PretrainObjective, tokenize_documents, too_short
from ftcli.objectives.mlm import blocks
from ftcli.tasks.base import IGNORE


class CausalLm(PretrainObjective):
    name = "clm"
    auto_model_class = "AutoModelForCausalLM"
    serves_as = "generation"

    def check_model(self, model_config, model_name: str) -> None:
        if is_masked_lm_encoder(model_config) or getattr(model_config, "is_encoder_decoder", False):
            raise UserError(f"clm needs a decoder (GPT-2, Llama...); {model_name} is a {model_config.model_type} "
                            "model that sees the whole input (use mlm)")

    def preprocess(self, dataset: Dataset, processor, columns, label2id, max_length: int, with_labels: bool = True):
        separator = [processor.eos_token_id] if processor.eos_token_id is not None else []
        ids, _ = tokenize_documents(processor, self.documents(dataset, columns))
        chunks, _, total = blocks(ids, None, separator, max_length)
        if not chunks or len(chunks[0]) < max_length:
            raise too_short(self.source_of(dataset), total, max_length)
        return Dataset.from_dict({"input_ids": chunks, "attention_mask": [[1] * len(c) for c in chunks]})

    def training_module(self, model, config):
        return CausalLmModule(model)

    def compute_metrics(self, gathered, data):
        tokens = float(gathered["tokens"].sum())
        nll = float(gathered["nll"].sum()) / tokens if tokens else 0.0
        return {"perplexity": float(torch.tensor(nll).exp()), "next_token_accuracy":
                float(gathered["right"].sum()) / tokens if tokens else 0.0}


class CausalLmModule(Objective):
    def forward(self, input_ids, attention_mask=None, **_):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
        targets = input_ids[:, 1:]
        if attention_mask is not None:
            targets = targets.masked_fill(attention_mask[:, 1:] == 0, IGNORE)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (batch, seq - 1)
        counted = targets != IGNORE
        loss = nll[counted].mean()
        return ObjectiveOutput(loss=loss, metrics={
            "nll": (nll * counted).sum(-1), "tokens": counted.sum(-1),
            "right": ((logits.argmax(-1) == targets) & counted).sum(-1)})
