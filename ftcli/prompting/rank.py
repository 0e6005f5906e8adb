"""Rank classification with a causal LM: the log-likelihood of each candidate answer's tokens
after the prompt; the highest wins (optionally divided by the candidate's token count).

The prompt of every query is `shared prefix + query`: the instruction and the demonstrations
are the same for all queries (unless demos are re-drawn per query). The prefix, extended by
whatever tokens all of a group's queries start with (a zero-shot template's "Review:"), runs
through the model once and its key/value cache is copied for each batch, so neither the queries
nor the candidates pay for it again. When every candidate is a single token, one forward pass per query
scores all of them (they share the position after the query); otherwise each (query, candidate)
pair is a row of the batch. Rows are left-padded with explicit position ids, so only the last
positions' logits are computed.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import torch

from ftcli.progress import progress_bar
from ftcli.batching import left_pad


@dataclass
class RankRequest:
    prefix: str
    """Text every query of a group shares (instruction, demonstrations, chat header)."""
    query: str
    """The rest of the prompt, up to where the answer starts."""


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def leading_special_tokens(tokenizer) -> list[int]:
    """What the tokenizer puts before a text on its own (Llama-2's <s>; nothing for GPT-2 and
    SmolLM2), so a prompt starts as the model saw text in training."""
    with_specials = tokenizer("a")["input_ids"]
    without = encode(tokenizer, "a")
    return with_specials[:len(with_specials) - len(without)] if with_specials[-len(without):] == without else []


@torch.no_grad()
def rank_scores(model, tokenizer, requests: list[RankRequest], candidates: list[str], batch_size: int,
                accelerator=None) -> list[list[float]]:
    """Per request, the summed log-probability of each candidate's tokens after prefix + query."""
    device = next(model.parameters()).device
    candidate_ids = [encode(tokenizer, c) for c in candidates]
    if any(not ids for ids in candidate_ids):
        raise ValueError("a candidate answer encodes to no tokens")
    single = all(len(ids) == 1 for ids in candidate_ids)
    start = leading_special_tokens(tokenizer)
    scores = [[0.0] * len(candidates) for _ in requests]
    groups: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(request.prefix, []).append(index)
    total = sum(-(-len(members) * (1 if single else len(candidates)) // batch_size) for members in groups.values())
    with progress_bar(accelerator, "Scoring", total=total) as bar:
        for prefix, members in groups.items():
            prefix_ids = start + encode(tokenizer, prefix)
            queries = {index: encode(tokenizer, requests[index].query) for index in members}
            if not all(queries.values()):
                raise ValueError("a prompt encodes to no tokens")
            if len(members) > 1:  # tokens every query starts with join the prefix (a lone query gains nothing)
                shared = common_prefix_length(list(queries.values()))
                prefix_ids = prefix_ids + queries[members[0]][:shared]
                queries = {index: ids[shared:] for index, ids in queries.items()}
            rows = []  # (request index, candidate index or None, token ids after the prefix)
            for index, query_ids in queries.items():
                if single:
                    rows.append((index, None, query_ids))
                else:
                    rows.extend((index, c, query_ids + ids[:-1]) for c, ids in enumerate(candidate_ids))
            prefix_cache = None
            if prefix_ids:
                prefix_cache = returned_cache(model(input_ids=torch.tensor([prefix_ids], device=device), use_cache=True,
                                                    **keep_logits(model, 1)))
            # Similar lengths together: less padding.
            rows.sort(key=lambda row: len(row[2]))
            kept = 1 if single else max(len(ids) for ids in candidate_ids)
            for begin in range(0, len(rows), batch_size):
                chunk = rows[begin:begin + batch_size]
                log_probs = _forward(model, chunk, len(prefix_ids), prefix_cache, kept, device)
                for row, (index, candidate, ids) in enumerate(chunk):
                    if candidate is None:  # every candidate is one token, predicted by the last position
                        scores[index] = [float(log_probs[row, -1, c[0]]) for c in candidate_ids]
                    else:  # answer token k is predicted by the position k places before the row's end
                        answer = candidate_ids[candidate]
                        offset = kept - len(answer)
                        scores[index][candidate] = float(sum(log_probs[row, offset + k, token]
                                                             for k, token in enumerate(answer)))
                bar.advance()
    return scores


def common_prefix_length(sequences: list[list[int]]) -> int:
    """How many leading tokens all sequences share, leaving each at least its last token (the
    position that predicts the answer's first token)."""
    limit = min(len(ids) for ids in sequences) - 1
    first = sequences[0]
    for length in range(max(limit, 0)):
        if any(ids[length] != first[length] for ids in sequences):
            return length
    return max(limit, 0)


def keep_logits(model, count: int) -> dict:
    """Ask for the last `count` positions' logits only, where the model supports it (the LM head
    over a 50k vocabulary at every position costs as much as several layers)."""
    return {"logits_to_keep": count} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}


def cache_argument(model) -> str:
    """The key/value cache's argument name: `cache` in recent transformers (which warns on the old
    name), `past_key_values` in older ones and in ftcli's own GPT-2."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def returned_cache(output):
    return output["cache"] if "cache" in output.keys() else output.past_key_values


def _forward(model, chunk, prefix_length: int, prefix_cache, kept: int, device) -> torch.Tensor:
    """Log-probabilities (batch, kept, vocab) at the last `kept` positions of left-padded rows that
    continue the cached prefix. Explicit position ids make every row's positions what they would
    be without padding."""
    longest = max(kept, max(len(ids) for _, _, ids in chunk))  # rows shorter than the kept window: more padding
    input_ids, row_mask = left_pad([ids for _, _, ids in chunk], 0, longest)
    mask = torch.cat([torch.ones((len(chunk), prefix_length), dtype=torch.long), row_mask], 1)
    positions = (row_mask.cumsum(1) - 1 + prefix_length) * row_mask  # 0 on padding
    kwargs = keep_logits(model, kept)
    if prefix_cache is not None:
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(len(chunk))
        kwargs[cache_argument(model)] = cache
    logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                   use_cache=prefix_cache is not None, **kwargs).logits
    return logits[:, -kept:].float().log_softmax(-1)


@torch.no_grad()
def rank_scores_from_scratch(model, tokenizer, requests: list[RankRequest], candidates: list[str]) -> list[list[float]]:
    """The reference: each (prompt, candidate) scored in a fresh forward pass, no cache."""
    device = next(model.parameters()).device
    start = leading_special_tokens(tokenizer)
    results = []
    for request in requests:
        context = start + encode(tokenizer, request.prefix) + encode(tokenizer, request.query)
        row = []
        for candidate in candidates:
            answer = encode(tokenizer, candidate)
            ids = torch.tensor([context + answer], device=device)
            log_probs = model(input_ids=ids).logits[0].float().log_softmax(-1)
            row.append(float(sum(log_probs[len(context) - 1 + k, token] for k, token in enumerate(answer))))
        results.append(row)
    return results
