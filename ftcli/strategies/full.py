"""Full fine-tuning: every weight trains (ULMFiT / BERT / GPT-1 practice).

Extras a fine-tuning practitioner reaches for:
- `optim.head_lr`: the new head's own (usually higher) learning rate, as GPT-1 did;
- `optim.layer_decay`: lower layers learn more slowly (applied by the optimizer, training.py);
- `full.freeze_embeddings`, `full.freeze_layers`: keep the bottom of the network fixed;
- `full.lm_loss_weight`: GPT-1's auxiliary language-modelling loss on the input text when a
  decoder is fine-tuned for classification (the loss is loss_task + weight * loss_lm).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from ftcli.config import RunConfig
from ftcli.errors import UserError
from ftcli.models.loading import is_masked_lm_encoder
from ftcli.strategies.base import Strategy
from ftcli.models.layers import freeze_lower_layers
from ftcli.models.wrappers import TrainingWrapper
from ftcli.tasks.base import IGNORE, Task



class FullStrategy(Strategy):
    name = "full"

    def check(self, task: Task, config: RunConfig, model_config) -> None:
        super().check(task, config, model_config)
        if config.full.lm_loss_weight < 0:
            raise UserError(f"full.lm_loss_weight must be 0 or more, got {config.full.lm_loss_weight}")
        if config.full.lm_loss_weight > 0:
            if task.output_kind != "sequence" or task.modality != "text":
                raise UserError("full.lm_loss_weight applies to text classification tasks (classification, nli) "
                                f"with a decoder model, not {task.name}")
            if not is_decoder(model_config):
                raise UserError(f"full.lm_loss_weight needs a decoder (GPT-style) model; {model_config.model_type} "
                                "sees the whole input, so predicting the next token would be trivial")

    def build(self, checkpoint, task, labels, config):
        model = super().build(checkpoint, task, labels, config)
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        freeze_lower_layers(model, config.full.freeze_embeddings, config.full.freeze_layers)
        if config.full.lm_loss_weight > 0:
            model = AuxiliaryLmLoss(model, config.full.lm_loss_weight)
        return model


def is_decoder(model_config) -> bool:
    """A left-to-right model: neither encoder-decoder nor a masked-LM (bidirectional) encoder."""
    return not getattr(model_config, "is_encoder_decoder", False) and not is_masked_lm_encoder(model_config)


class AuxiliaryLmLoss(TrainingWrapper):
    """Adds GPT-1's auxiliary LM loss while training: the last hidden states, projected onto the
    (tied) input embedding matrix, predict each next input token. Evaluation reports the task
    loss alone; the wrapped model is what gets saved."""

    def __init__(self, model: nn.Module, weight: float):
        super().__init__()
        self.model = model
        self.weight = weight
        self.config = model.config
        self.base_model_prefix = f"model.{model.base_model_prefix}"

    def forward(self, **batch):
        if not self.training or "labels" not in batch:
            return self.model(**batch)
        out = self.model(**batch, output_hidden_states=True)
        hidden = out.hidden_states[-1][:, :-1]
        logits = hidden @ self.model.get_input_embeddings().weight.T
        targets = batch["input_ids"][:, 1:]
        if "attention_mask" in batch:
            targets = targets.masked_fill(batch["attention_mask"][:, 1:] == 0, IGNORE)
        lm_loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
        out.loss_parts = {"task": out.loss.detach(), "lm": lm_loss.detach()}  # both reach log.jsonl
        out.loss = out.loss + self.weight * lm_loss
        out.hidden_states = None
        return out

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.model.get_input_embeddings()
