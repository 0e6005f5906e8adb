"""The training module: the student wrapped with its frozen teacher (and, for TinyBERT, the learned
projection of its hidden states), returning the combined distillation loss in training."""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from ftcli.models.wrappers import TrainingWrapper
from ftcli.config import DistillConfig
from ftcli.distillation.attention import AttentionRecorder, head_count, hidden_width, layer_count
from ftcli.distillation.transfer import LABELLED, TEACHER_LOGITS
from ftcli.distillation.losses import attention_mse, cosine_loss, hidden_mse, layer_mapping, soft_target_loss
from ftcli.models.heads import sequence_classification_loss
from ftcli.tasks.base import IGNORE


class FrozenTeacher(nn.Module):
    """The teacher, in eval mode with no gradients, fed only the inputs its forward accepts (a
    DistilBERT teacher takes no token_type_ids, a BERT student's tokenizer makes them)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.config = model.config
        signature = inspect.signature(model.forward).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
        self.accepted = None if takes_any else set(signature)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always eval: no dropout

    def forward(self, **batch):
        if self.accepted is not None:
            batch = {k: v for k, v in batch.items() if k in self.accepted}
        with torch.no_grad():
            return self.model(**batch)


class Distillation(TrainingWrapper):
    """What the training loop trains: the student, plus (TinyBERT) the projection of its hidden
    states. In training its forward returns the student's output with the combined `.loss` and
    `loss_parts` (hard, soft, cosine, hidden, attention: logged as `<part>_loss`); in eval mode,
    or without labels, it returns the plain student output, so metrics are the student's. The
    student (`.model`) is what the run saves."""

    def __init__(self, student: nn.Module, teacher: FrozenTeacher, settings: DistillConfig, token_level: bool):
        super().__init__()
        self.model = student
        object.__setattr__(self, "teacher", teacher)  # not a submodule: not trained, counted or checkpointed
        self.settings = settings
        self.token_level = token_level
        self.config = student.config
        self.base_model_prefix = f"model.{student.base_model_prefix}"
        self.tinybert = settings.method == "tinybert"
        self.needs_states = self.tinybert or settings.cosine_weight > 0
        self.uses_teacher = settings.alpha > 0 or self.needs_states
        student_layers, teacher_layers = layer_count(student.config)[1], layer_count(teacher.config)[1]
        self.mapping = layer_mapping(student_layers, teacher_layers)
        student_width, teacher_width = hidden_width(student.config), hidden_width(teacher.config)
        # TinyBERT's W_h: one projection shared by every layer, only when the widths differ.
        self.projection = (nn.Linear(student_width, teacher_width) if self.tinybert and student_width != teacher_width
                           else nn.Identity())
        self.recorders = None
        if self.tinybert:
            self.recorders = (AttentionRecorder(student, head_count(student.config), student_layers),
                              AttentionRecorder(teacher.model, head_count(teacher.config), teacher_layers))

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def forward(self, **batch):
        labelled, cached = batch.pop(LABELLED, None), batch.pop(TEACHER_LOGITS, None)
        if not self.training or "labels" not in batch:
            return self.model(**batch)
        if labelled is not None:
            return self._with_transfer_set(batch, labelled.bool(), cached)
        if not self.uses_teacher:  # alpha 0, no hidden-state terms: plain fine-tuning
            out = self.model(**batch)
            out.loss_parts = {"hard": out.loss.detach()}
            return out
        self._teacher_to(batch["input_ids"].device)
        teacher_batch = {k: v for k, v in batch.items() if k != "labels"}
        extra = {"output_hidden_states": True} if self.needs_states else {}
        with self._recording():
            out = self.model(**batch, **extra)
            teacher_out = self.teacher(**teacher_batch, **extra)
        label_mask = batch["labels"] != IGNORE if self.token_level else None
        return self._combined(out, out.loss, teacher_out.logits, label_mask, teacher_out, batch.get("attention_mask"))

    def _teacher_to(self, device) -> None:
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)

    def _combined(self, out, hard, teacher_logits, label_mask, teacher_out, attention_mask):
        """`out` with the distillation loss: (1 - alpha) x hard + alpha x soft targets (+ the hidden-state terms),
        each part logged."""
        settings, parts = self.settings, {"hard": hard.detach()}
        loss = (1.0 - settings.alpha) * hard
        if settings.alpha > 0:
            soft = soft_target_loss(out.logits, teacher_logits, settings.temperature, label_mask,
                                    getattr(self.config, "problem_type", None))
            parts["soft"] = soft.detach()
            loss = loss + settings.alpha * soft
        if self.needs_states:
            loss = loss + self._state_losses(out, teacher_out, attention_mask, parts)
        out.loss, out.loss_parts, out.hidden_states = loss, parts, None
        return out

    def _state_losses(self, out, teacher_out, attention_mask, parts: dict) -> torch.Tensor:
        """The hidden-state terms: cosine on the last hidden states, and TinyBERT's hidden and attention MSE."""
        settings, loss = self.settings, 0.0
        token_mask = attention_mask.bool() if attention_mask is not None else None
        if settings.cosine_weight > 0:
            cosine = cosine_loss(self.projection(out.hidden_states[-1].float()), teacher_out.hidden_states[-1],
                                 token_mask)
            parts["cosine"] = cosine.detach()
            loss = loss + settings.cosine_weight * cosine
        if self.tinybert:
            hidden = hidden_mse(out.hidden_states, teacher_out.hidden_states, self.mapping, self.projection,
                                token_mask)
            student_recorder, teacher_recorder = self.recorders
            student_maps = student_recorder.maps(list(range(len(self.mapping) - 1)), token_mask)
            teacher_maps = teacher_recorder.maps([j - 1 for j in self.mapping[1:]], token_mask)
            attention = sum(attention_mse(s, t, token_mask) for s, t in zip(student_maps, teacher_maps))
            student_recorder.clear(), teacher_recorder.clear()
            parts["hidden"], parts["attention"] = hidden.detach(), attention.detach()
            loss = loss + settings.hidden_weight * (hidden + attention)
        return loss

    def _with_transfer_set(self, batch, labelled: torch.Tensor, cached: torch.Tensor):
        """A batch of labelled and transfer rows (sequence tasks): the hard-label loss on the labelled rows, the
        soft-target loss on all of them against the teacher's cached logits (or, when hidden states are compared
        too, its live outputs)."""
        labels = batch.pop("labels")
        extra = {"output_hidden_states": True} if self.needs_states else {}
        if self.needs_states:
            self._teacher_to(batch["input_ids"].device)
        with self._recording():
            out = self.model(**batch, **extra)
            teacher_out = self.teacher(**batch, **extra) if self.needs_states else None
        teacher_logits = teacher_out.logits if teacher_out is not None else cached.to(out.logits.dtype)
        hard = (sequence_classification_loss(out.logits[labelled], labels[labelled], self.config) if labelled.any()
                else out.logits.sum() * 0.0)  # a batch of transfer rows only
        return self._combined(out, hard, teacher_logits, None, teacher_out, batch.get("attention_mask"))

    @contextlib.contextmanager
    def _recording(self):
        if self.recorders is None:
            yield
            return
        with self.recorders[0].recording(), self.recorders[1].recording():
            yield
