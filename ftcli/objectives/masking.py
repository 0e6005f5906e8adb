"""BERT's masking: choose a share of the tokens (never special tokens or padding); of the chosen,
most become [MASK], some a random token, the rest stay as they were. The model predicts every
chosen token. Optionally whole words are chosen, every sub-token of a word together."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ftcli.config import PretrainConfig
from ftcli.tasks.base import IGNORE


def choose_tokens(candidates: torch.Tensor, probability: float, word_start: torch.Tensor | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean (batch, seq): each candidate chosen with `probability`; with `word_start`, one draw
    per word (a word starts where word_start is 1) shared by all its sub-tokens."""
    draws = torch.rand(candidates.shape, generator=generator, device=candidates.device)
    if word_start is not None:
        positions = torch.arange(candidates.size(1), device=candidates.device).expand_as(candidates)
        # Each token reads the draw at its word's first sub-token (the last word start at or before it).
        first = torch.where(word_start.bool(), positions, torch.zeros_like(positions)).cummax(dim=1).values
        draws = draws.gather(1, first)
    return (draws < probability) & candidates


def mask_tokens(input_ids: torch.Tensor, candidates: torch.Tensor, mask_token_id: int, vocab_size: int,
                settings: PretrainConfig, word_start: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input ids, labels): labels hold the original id at chosen tokens, IGNORE elsewhere."""
    chosen = choose_tokens(candidates, settings.mlm_probability,
                           word_start if settings.whole_word_mask else None, generator)
    labels = input_ids.masked_fill(~chosen, IGNORE)
    action = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    to_mask = chosen & (action < settings.mask_replace)
    to_random = chosen & (action >= settings.mask_replace) & (action < settings.mask_replace + settings.random_replace)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    masked = input_ids.masked_fill(to_mask, mask_token_id)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


def candidates_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Tokens that may be chosen: real (attention mask 1) and not special ([CLS], [SEP], ...)."""
    candidates = batch["special_tokens_mask"] == 0
    if "attention_mask" in batch:
        candidates &= batch["attention_mask"].bool()
    return candidates


def chosen_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Masked-LM logits at the chosen tokens, (chosen, vocab): as a model with sparse prediction returns them
    (`ftcli.models.outputs`), or picked out of every position's (batch, seq, vocab)."""
    return logits if logits.dim() == 2 else logits[labels != IGNORE]


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at the chosen tokens (labels of IGNORE are skipped); `logits` are every position's or,
    with sparse prediction, the chosen tokens' only."""
    if logits.dim() == 2:
        return F.cross_entropy(logits.float(), labels[labels != IGNORE])
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten())


def masked_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per row: chosen tokens predicted right, and chosen tokens (`logits` as for `masked_lm_loss`)."""
    chosen = labels != IGNORE
    if logits.dim() == 2:  # the chosen tokens' logits, row after row
        right = torch.zeros_like(chosen)
        right[chosen] = logits.argmax(-1) == labels[chosen]
    else:
        right = (logits.argmax(-1) == labels) & chosen
    return {"masked_right": right.sum(-1), "masked_total": chosen.sum(-1)}


def masked_metrics(gathered) -> dict[str, float]:
    total = int(gathered["masked_total"].sum())
    return {"masked_accuracy": float(gathered["masked_right"].sum()) / total if total else 0.0,
            "masked_tokens": total}
