"""Plain text: documents from blank-line separated text, and a small rule-based sentence splitter
(for next-sentence and sentence-order prediction; no nltk or model download needed)."""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "messrs", "dr", "prof", "st", "mt", "ft", "jr", "sr", "rev", "hon", "gen", "col",
    "lt", "capt", "cmdr", "sgt", "gov", "sen", "rep", "pres", "supt", "vs", "cf", "al", "approx", "dept",
    "est", "fig", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
})
"""Words whose trailing period does not end a sentence (compared in lower case). Dotted forms
(e.g., i.e., U.S., a.m.) and single-letter initials (J. Smith) are recognised by shape instead."""

_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*")
"""Sentence-final punctuation, with the closing quotes or brackets that may follow it."""
_CANDIDATE = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*\s+")
_LINE_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*$")
_OPENERS = "\"'“‘([«"
_DOTTED = re.compile(r"^(?:[^\W\d_]\.)*[^\W\d_]$")
"""`U.S`, `e.g`, `i.e`, `a.m` (without their last period) and single letters (initials, `I.`)."""
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")


def split_documents(text: str) -> list[str]:
    """Documents in a plain text: separated by one or more blank (or whitespace-only) lines, each
    stripped; empty ones dropped. Line breaks inside a document are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return [document.strip() for document in _BLANK_LINES.split(text) if document.strip()]


def split_sentences(document: str) -> list[str]:
    """The sentences of `document`, in order, each with its whitespace collapsed to single spaces.

    Rules (kept simple on purpose):
    - a sentence ends after `.`, `!`, `?` (or a run of them, or `…`), optionally followed by
      closing quotes or brackets, when whitespace and then an upper-case letter, a digit or an
      opening quote/bracket follow: `He left. She stayed.` is two sentences, `wait... what` one;
    - a period after a known abbreviation (`Mr.`, `Mrs.`, `Dr.`, `St.`, ... see `ABBREVIATIONS`),
      a dotted abbreviation (`e.g.`, `i.e.`, `U.S.`) or a single letter (an initial) ends nothing;
    - a line break ends a sentence when the line ends with sentence-final punctuation (the rule
      above without the look at the next word); other line breaks (verse, wrapped text, a heading
      without a period) join the lines with a space; a blank line always ends a sentence.
    """
    sentences: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            sentences.extend(_split_inline(" ".join(pending)))
            pending.clear()

    for line in document.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip()
        if not line:
            flush()
            continue
        pending.append(line)
        end = _LINE_END.search(line)
        if end is not None and _ends_sentence(line, end.start(), end.group()):
            flush()
    flush()
    return sentences


def _split_inline(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _CANDIDATE.finditer(text):
        following = text[match.end():match.end() + 1]
        if not following or not (following.isupper() or following.isdigit() or following in _OPENERS):
            continue
        punctuation = _END.match(text, match.start()).group()
        if not _ends_sentence(text, match.start(), punctuation):
            continue
        pieces.append(text[start:match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def _ends_sentence(text: str, at: int, punctuation: str) -> bool:
    """Whether the punctuation starting at `at` ends a sentence: a lone period after an
    abbreviation or an initial does not."""
    if not punctuation.startswith(".") or punctuation.startswith(".."):
        return True
    words = text[:at].split()
    if not words:
        return False  # a period with nothing before it
    word = words[-1].lstrip(_OPENERS)
    return not (word.lower() in ABBREVIATIONS or _DOTTED.match(word))
