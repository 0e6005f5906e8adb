"""Demonstrations ("shots") for in-context learning: drawn with a seed from a pool that never
contains an evaluated row, the same for every query by default, or re-drawn per query."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable


def exclude_evaluated(pool: list[dict], evaluated: list[dict], key: Callable[[dict], Any]) -> list[dict]:
    """The pool without any row whose input equals an evaluated row's (a demo must never show
    the answer to the question being asked)."""
    asked = {key(row) for row in evaluated}
    return [row for row in pool if key(row) not in asked]


def draw(pool: list[dict], shots: int, rng: random.Random, label_of: Callable[[dict], Any] | None = None,
         balanced: bool = False, exclude: Any = None, key: Callable[[dict], Any] | None = None) -> list[dict]:
    """`shots` rows from `pool`. Balanced: labels take turns (round-robin over the labels in a
    seeded order), as far as each label has rows. A row whose `key(row)` equals `exclude` is never drawn."""
    if shots <= 0:
        return []
    candidates = [row for row in pool if exclude is None or key(row) != exclude]
    if not balanced or label_of is None:
        return rng.sample(candidates, min(shots, len(candidates)))
    by_label: dict[Any, list[dict]] = defaultdict(list)
    for row in candidates:
        by_label[label_of(row)].append(row)
    labels = sorted(by_label, key=str)
    rng.shuffle(labels)
    queues = {label: rng.sample(rows, len(rows)) for label, rows in by_label.items()}
    chosen = take_turns([queues[label] for label in labels], shots)
    rng.shuffle(chosen)  # no label always first
    return chosen


def take_turns(queues: list[list[dict]], shots: int) -> list[dict]:
    """Up to `shots` rows, the queues taking turns in order, each giving its last remaining row
    (the queues are emptied as they give)."""
    chosen: list[dict] = []
    while len(chosen) < shots and any(queues):
        for queue in queues:
            if queue and len(chosen) < shots:
                chosen.append(queue.pop())
    return chosen


def shuffled(demos: list[dict], rng: random.Random) -> list[dict]:
    """The same demonstrations in a seeded order (so no label is always shown last)."""
    return rng.sample(demos, len(demos))


def most_similar(pool: list[dict], queries: list[dict], shots: int, text_of: Callable[[dict], str],
                 key: Callable[[dict], Any], label_of: Callable[[dict], Any] | None = None,
                 balanced: bool = False) -> list[list[dict]]:
    """Per query, the `shots` pool rows nearest to it by TF-IDF cosine similarity (bag of words),
    the nearest last (right before the query); never a row with the query's own input. Balanced:
    the labels take turns, each giving its nearest rows."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    if shots <= 0 or not pool:
        return [[] for _ in queries]
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit([text_of(row) for row in pool])
    pool_vectors = vectorizer.transform([text_of(row) for row in pool])
    pool_keys = [key(row) for row in pool]
    chosen_per_query = []
    for begin in range(0, len(queries), 256):  # similarity rows in chunks: queries x pool can be large
        chunk = queries[begin:begin + 256]
        similarity = (vectorizer.transform([text_of(q) for q in chunk]) @ pool_vectors.T).toarray()
        for query, row in zip(chunk, similarity):
            own = key(query)
            # The nearest few dozen per demonstration are plenty to take labels in turns from.
            ranked = [pool[i] for i in np.argsort(-row, kind="stable")[:50 * shots + 1] if pool_keys[i] != own]
            if balanced and label_of is not None:
                picked = draw_round_robin(ranked, shots, label_of)
            else:
                picked = ranked[:shots]
            chosen_per_query.append(picked[::-1])
    return chosen_per_query


def draw_round_robin(ranked: list[dict], shots: int, label_of: Callable[[dict], Any]) -> list[dict]:
    """The first `shots` rows of `ranked` taking the labels in turns (in order of first appearance),
    each label its best remaining row; best first."""
    by_label: dict[Any, list[dict]] = defaultdict(list)
    for row in ranked:
        by_label[label_of(row)].append(row)
    return take_turns([rows[::-1] for rows in by_label.values()], shots)
