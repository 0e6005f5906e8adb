"""Distillation losses, pure functions of tensors: DistilBERT's soft targets and cosine loss, TinyBERT's
hidden-state and attention-map MSEs, and TinyBERT's uniform layer mapping."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                     mask: torch.Tensor | None = None, problem_type: str | None = None) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), summed over classes and averaged over
    rows (sequence tasks) or over the positions where `mask` is true (token tasks). Label sets
    (multi_label_classification) take each label's own yes/no distribution, sigmoid for softmax; numbers
    (regression) have no distribution to soften: the student's output matches the teacher's (MSE)."""
    if problem_type == "regression":
        return F.mse_loss(student_logits.float(), teacher_logits.float())
    if problem_type == "multi_label_classification":
        student, teacher = student_logits.float() / temperature, teacher_logits.float() / temperature
        target = torch.sigmoid(teacher)
        # KL of two Bernoullis = cross-entropy - the teacher's entropy: zero when the student agrees.
        kl = (F.binary_cross_entropy_with_logits(student, target, reduction="none")
              - F.binary_cross_entropy_with_logits(teacher, target, reduction="none")).sum(-1)
        return kl.mean() * temperature ** 2
    log_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1)
    if mask is not None:
        kl = kl[mask]
    if kl.numel() == 0:
        return student_logits.sum() * 0.0
    return kl.mean() * temperature ** 2


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over positions (batch, seq) where `mask` is true; `values` is (batch, seq) or (batch, seq, dim)."""
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    if values.ndim == 3:
        return (values * weights[..., None]).sum() / (weights.sum() * values.size(-1)).clamp_min(1.0)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """DistilBERT's cosine embedding loss (target 1): mean of 1 - cos over the real tokens."""
    similarity = F.cosine_similarity(student_hidden.float(), teacher_hidden.float(), dim=-1)
    return _masked_mean(1.0 - similarity, mask)


def hidden_mse(student_states, teacher_states, mapping: list[int], projection: nn.Module,
               mask: torch.Tensor | None) -> torch.Tensor:
    """TinyBERT's hidden-state loss: sum over student states i of MSE(projection(h_s[i]), h_t[mapping[i]])."""
    total = 0.0
    for i, j in enumerate(mapping):
        diff = projection(student_states[i].float()) - teacher_states[j].float()
        total = total + _masked_mean(diff.pow(2), mask)
    return total


def layer_mapping(student_layers: int, teacher_layers: int) -> list[int]:
    """Student hidden state i (0 = embeddings, 1..M the layers) -> teacher hidden state i * N // M
    (TinyBERT's uniform mapping: 3 of 6 layers -> [0, 2, 4, 6])."""
    return [i * teacher_layers // student_layers for i in range(student_layers + 1)]


def attention_probabilities(query: torch.Tensor, key: torch.Tensor, num_heads: int,
                            key_mask: torch.Tensor | None) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) from the query/key projections' outputs (batch, seq, heads * d):
    (batch, heads, queries, keys); padding keys get probability 0."""
    batch, q_len, width = query.shape
    head_dim = width // num_heads
    q = query.float().view(batch, q_len, num_heads, head_dim).transpose(1, 2)
    k = key.float().view(batch, key.size(1), num_heads, head_dim).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / head_dim ** 0.5
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :].bool(), float("-inf"))
    return scores.softmax(-1)


def attention_mse(student_map: torch.Tensor, teacher_map: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """MSE between two layers' attention probabilities over real (query, key) pairs; with different
    head counts the head-averaged maps are compared."""
    if student_map.size(1) != teacher_map.size(1):
        student_map, teacher_map = student_map.mean(1, keepdim=True), teacher_map.mean(1, keepdim=True)
    diff = (student_map - teacher_map).pow(2)
    if mask is None:
        return diff.mean()
    pairs = (mask[:, None, :, None] & mask[:, None, None, :]).to(diff.dtype)
    return (diff * pairs).sum() / (pairs.sum() * diff.size(1)).clamp_min(1.0)
