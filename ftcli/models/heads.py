"""The task heads' losses, written once for every architecture (and for the heads ftcli builds
itself: feature extraction, prompt tuning). Each matches transformers' `*For<Task>` loss exactly,
so a model file only computes logits and calls one of these."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """Regression (one label), single-label or multi-label classification, inferred from the
    labels as transformers does and recorded in `config.problem_type`. With `config.ftcli_class_weights`
    (one weight per label id, `train.class_weights`), single-label cross-entropy weighs each row by its
    label's weight (a weighted mean, as torch's `weight=`) and multi-label BCE takes them as `pos_weight`;
    without it the loss is transformers' exactly."""
    num_labels = logits.size(-1)
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    weights = getattr(config, "ftcli_class_weights", None)
    weight = torch.tensor(weights, dtype=torch.float32, device=logits.device) if weights else None
    if config.problem_type == "regression":
        return F.mse_loss(logits.squeeze(), labels.squeeze()) if num_labels == 1 else F.mse_loss(logits, labels)
    if config.problem_type == "single_label_classification":
        if weight is None:
            return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
        return F.cross_entropy(logits.view(-1, num_labels).float(), labels.view(-1), weight=weight)
    if weight is None:
        return F.binary_cross_entropy_with_logits(logits, labels)
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float(), pos_weight=weight)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the last dimension at every labelled position; labels of -100 are
    skipped. Token classification (sub-tokens, padding), masked LM (unmasked tokens), and the
    two-way sentence heads (next-sentence, sentence-order, replaced-token) all use it."""
    return F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))


def labelled_positions(sequence_output: torch.Tensor, labels: torch.Tensor | None,
                       sparse: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A masked-LM head's input: with `sparse` (the model's `sparse_prediction`) and labels, the hidden states
    at the labelled positions only, (labelled tokens, hidden), and their labels; else both unchanged."""
    if not sparse or labels is None:
        return sequence_output, labels
    kept = labels.reshape(-1) != -100
    return sequence_output.reshape(-1, sequence_output.size(-1))[kept], labels.reshape(-1)[kept]


def masked_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The labelled positions of each row in ascending order, (batch, k), k the most any row has, and their
    labels; a row with fewer is filled with position 0 labelled -100. For a sparse masked-LM head, whose last
    layer then runs at those positions only (`positions_to_keep`). None when nothing is labelled."""
    chosen = labels != -100
    k = int(chosen.sum(1).max()) if chosen.numel() else 0
    if k == 0:
        return None
    order = torch.arange(labels.size(1), device=labels.device)
    positions = torch.where(chosen, order, order + labels.size(1)).argsort(dim=1)[:, :k]
    kept = chosen.gather(1, positions)
    return positions.masked_fill(~kept, 0), labels.gather(1, positions).masked_fill(~kept, -100)


def split_span_logits(logits: torch.Tensor, padding_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, seq, 2) -> start and end logits, each (batch, seq). With `padding_mask` (the attention mask of a
    packed batch, whose padding positions hold no computed state) the padding cannot be a span boundary: its
    logits are the dtype's minimum, so each row scores and trains as it would alone."""
    start_logits, end_logits = logits.split(1, dim=-1)
    start_logits, end_logits = start_logits.squeeze(-1).contiguous(), end_logits.squeeze(-1).contiguous()
    if padding_mask is not None:
        padding = padding_mask == 0
        start_logits = start_logits.masked_fill(padding, torch.finfo(start_logits.dtype).min)
        end_logits = end_logits.masked_fill(padding, torch.finfo(end_logits.dtype).min)
    return start_logits, end_logits


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """Extractive QA: the mean of the start and end cross-entropies; positions outside the
    sequence (answers truncated out of the window) are ignored."""
    if start_positions.dim() > 1:
        start_positions = start_positions.squeeze(-1)
    if end_positions.dim() > 1:
        end_positions = end_positions.squeeze(-1)
    limit = start_logits.size(1)
    start, end = start_positions.clamp(0, limit), end_positions.clamp(0, limit)
    return (F.cross_entropy(start_logits.float(), start, ignore_index=limit)
            + F.cross_entropy(end_logits.float(), end, ignore_index=limit)) / 2


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token prediction: position t predicts label t + 1 (labels of -100 are skipped)."""
    shifted = logits[..., :-1, :].contiguous()
    return F.cross_entropy(shifted.view(-1, shifted.size(-1)).float(), labels[..., 1:].contiguous().view(-1))
