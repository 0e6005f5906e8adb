"""How the model's answers are read: each label's score by ranking the label words (causal LM) or
filling a [MASK] (encoder), calibrated against reference prompts; or text generated up to a stop
sequence."""

from __future__ import annotations

from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ftcli.batching import left_pad
from ftcli.distributed import sharded
from ftcli.errors import UserError
from ftcli.progress import progress_bar
from ftcli.prompting.calibration import CONTENT_FREE, answer_cue, blank_fields, calibrate, contextual_prior
from ftcli.prompting.formats import label_word
from ftcli.prompting.rank import RankRequest, encode, leading_special_tokens, rank_scores
from ftcli.prompting.rows import ANSWER_FIELDS
from ftcli.prompting.templates import answer_text, render

# -- label scores and their calibration ---------------------------------------------------------


def label_scores(model, tokenizer, prompt_format, settings, rows, demos_per_row, prompts, labels, chat: bool,
                 scoring: str, methods: list[str], batch_size: int, device):
    """Every row's raw score per label, and per calibration method the prior of each distinct
    set of demonstrations (`groups[i]` says which is row i's). The reference prompts (content-free
    inputs, the answer cue) share the demonstrations, so they run with the rows' cached prefix."""
    words = [label_word(settings, label) for label in labels]
    candidates = [answer_text(settings, word, chat) for word in words]
    check_distinct(tokenizer, candidates if scoring == "rank" else words)
    groups, representatives, group_of = [], [], {}
    for i, demos in enumerate(demos_per_row):
        key = tuple(map(id, demos))  # the same rows in the same order
        if key not in group_of:
            group_of[key] = len(representatives)
            representatives.append(i)
        groups.append(group_of[key])
    references: dict[str, list[list[RankRequest]]] = {}
    for method in methods:
        if method == "none":
            continue
        per_group = []
        for i in representatives:
            if method == "pmi" and scoring == "rank":  # the answer cue alone after the demonstrations
                cue = answer_cue(settings.query)
                per_group.append([render(prompt_format, settings, rows[i], demos_per_row[i], tokenizer, chat, scoring,
                                         query_template=cue)])
            else:  # content-free inputs ("[MASK]" would fill the cloze slot itself)
                fillers = [f for f in CONTENT_FREE if scoring == "rank" or f != "[MASK]"]
                per_group.append([render(prompt_format, settings, blank_fields(rows[i], f, keep=ANSWER_FIELDS),
                                         demos_per_row[i], tokenizer, chat, scoring) for f in fillers])
            # A template that is only "{text}" leaves nothing to score for the empty filler.
            per_group[-1] = [request for request in per_group[-1] if request.query.strip()]
            if not per_group[-1]:
                raise UserError(f"prompt.calibrate={method} needs a query template with text around the input "
                                f"(got {settings.query!r}); set prompt.calibrate=none")
        references[method] = per_group
    extra = [request for per_group in references.values() for group in per_group for request in group]
    everything = list(prompts) + extra
    if scoring == "rank":
        scores = sharded(lambda part: rank_scores(model, tokenizer, part, candidates, batch_size), everything)
        if settings.length_normalize:
            lengths = [len(encode(tokenizer, c)) for c in candidates]
            scores = [[s / n for s, n in zip(row, lengths)] for row in scores]
    else:
        scores = sharded(lambda part: cloze_scores(model, tokenizer, part, words, batch_size, device),
                         [p.prefix + p.query for p in everything])
    raw, rest = scores[:len(prompts)], iter(scores[len(prompts):])
    priors: dict[str, list[list[float]]] = {}
    for method, per_group in references.items():
        group_scores = [[next(rest) for _ in group] for group in per_group]
        priors[method] = [contextual_prior(g) if method == "contextual" else g[0] for g in group_scores]
    return raw, priors, groups


def predict_labels(raw: list[list[float]], priors: list[list[float]] | None, groups: list[int], labels: list,
                   method: str) -> tuple[list[list[float]], list]:
    """The calibrated scores and the label each row's highest score names."""
    calibrated = [calibrate(row, method, priors[group] if priors else None) for row, group in zip(raw, groups)]
    return calibrated, [labels[max(range(len(labels)), key=row.__getitem__)] for row in calibrated]


def rounded(labels: list, scores: list[float]) -> dict[str, float]:
    return {str(label): round(score, 6) for label, score in zip(labels, scores)}


def check_distinct(tokenizer, candidates: list[str]) -> None:
    """Two labels whose answers encode to the same tokens cannot be told apart."""
    seen: dict[tuple, str] = {}
    for candidate in candidates:
        ids = tuple(encode(tokenizer, candidate))
        if ids in seen:
            raise UserError(f"label words {seen[ids].strip()!r} and {candidate.strip()!r} encode to the same tokens; "
                            "give distinct ones with --set prompt.label_words.LABEL=WORD")
        seen[ids] = candidate


def describe_prior(method: str, priors: list[list[float]] | None, labels: list) -> dict:
    """What `--output` records about calibration: the method and the prior it estimated (the mean
    over the distinct demonstration sets when there are several)."""
    described: dict[str, Any] = {"method": method}
    if priors:
        mean = [sum(column) / len(priors) for column in zip(*priors)]
        kind = "probability" if method == "contextual" else "log-likelihood of the label after the answer cue"
        described.update({"prior": {str(label): round(v, 6) for label, v in zip(labels, mean)}, "prior_is": kind,
                          "demonstration_sets": len(priors)})
    return described


# -- the model passes: generating text, filling a mask --------------------------------------------


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], settings, batch_size: int, device) -> list[str]:
    """Greedy continuations, cut at the stop sequence."""
    start = leading_special_tokens(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    texts = []
    with progress_bar(None, "Generating", total=-(-len(prompts) // batch_size)) as bar:
        for begin in range(0, len(prompts), batch_size):
            input_ids, mask = left_pad([start + encode(tokenizer, p) for p in prompts[begin:begin + batch_size]], pad)
            longest = input_ids.size(1)
            stopping = StoppingCriteriaList([StopOnText(tokenizer, settings.stop, longest)]) if settings.stop else None
            out = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device), do_sample=False,
                                 max_new_tokens=settings.max_new_tokens, pad_token_id=pad, stopping_criteria=stopping)
            for row in out[:, longest:]:
                text = tokenizer.decode(row, skip_special_tokens=True)
                texts.append(text.split(settings.stop)[0] if settings.stop else text)
            bar.advance()
    return texts


class StopOnText(StoppingCriteria):
    """Ends each row once its generated text contains the stop sequence (decoded text, so it
    works whatever the tokenizer makes of the stop string)."""

    def __init__(self, tokenizer, stop: str, prompt_length: int):
        self.tokenizer, self.stop, self.prompt_length = tokenizer, stop, prompt_length

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:], skip_special_tokens=True)
        return torch.tensor([self.stop in text for text in texts], device=input_ids.device)


@torch.no_grad()
def cloze_scores(model, tokenizer, prompts: list[str], words: list[str], batch_size: int, device) -> list[list[float]]:
    """The masked LM's log-probability of each label word at the (first) mask position."""
    if tokenizer.mask_token_id is None:
        raise UserError("this model's tokenizer has no mask token; cloze scoring needs a masked LM")
    word_ids = []
    for word in words:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise UserError(f"label word {word!r} is {len(ids)} tokens for this tokenizer; cloze scoring needs "
                            "single-token words (set them with --set prompt.label_words.LABEL=WORD)")
        word_ids.append(ids[0])
    scores = []
    with progress_bar(None, "Scoring", total=-(-len(prompts) // batch_size)) as bar:
        for begin in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[begin:begin + batch_size], padding=True, truncation=True, return_tensors="pt")
            positions = (batch["input_ids"] == tokenizer.mask_token_id).int().argmax(-1)
            if not (batch["input_ids"] == tokenizer.mask_token_id).any(-1).all():
                raise UserError("a cloze prompt has no mask slot (after truncation); put {mask} in prompt.cloze")
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
            picked = logits[torch.arange(len(positions)), positions.to(device)].log_softmax(-1)
            scores.extend(picked[:, word_ids].tolist())
            bar.advance()
    return scores
