"""Reading a model's free-text answer back into a task's prediction. Generations can be
anything: every parser returns a well-formed (possibly empty) prediction, never raises."""

from __future__ import annotations

import re

# "entity — type", also with "-", "–", ":" or "(type)"; bullets and numbering are ignored.
_ENTITY_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])?\s*(?P<entity>.+?)\s*(?:[—–:]|\s-\s|\()\s*(?P<type>[\w-]+)\)?\s*$")


def parse_entities(text: str, types: set[str], none_word: str = "none") -> list[tuple[str, str]]:
    """(entity text, type) pairs from "entity — type" lines; lines naming an unknown type, the
    none word, or nothing parseable are skipped."""
    lowered = {t.lower(): t for t in types}
    found = []
    for line in (text or "").splitlines():
        if not line.strip() or line.strip().lower().strip(".") == none_word.lower():
            continue
        match = _ENTITY_LINE.match(line)
        if not match:
            continue
        entity, kind = match.group("entity").strip(" \"'"), match.group("type").lower()
        if entity and kind in lowered:
            found.append((entity, lowered[kind]))
    return found


def entities_to_tags(tokens: list[str], entities: list[tuple[str, str]]) -> list[str]:
    """BIO tags for `tokens`: each entity marks its first not-yet-tagged occurrence as a token
    sequence (case-insensitive); entities that are not in the sentence are dropped."""
    tags = ["O"] * len(tokens)
    lowered = [t.lower() for t in tokens]
    for entity, kind in entities:
        words = entity.lower().split()
        if not words:
            continue
        for start in range(len(tokens) - len(words) + 1):
            if lowered[start:start + len(words)] == words and all(t == "O" for t in tags[start:start + len(words)]):
                tags[start] = f"B-{kind}"
                for i in range(start + 1, start + len(words)):
                    tags[i] = f"I-{kind}"
                break
    return tags


def tags_to_entities(tokens: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """The gold side of an NER demonstration: (entity text, type) in order."""
    entities, current, kind = [], [], None
    for token, tag in zip(tokens, tags):
        if tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != kind):
            if current:
                entities.append((" ".join(current), kind))
            current, kind = [token], tag[2:]
        elif tag.startswith("I-"):
            current.append(token)
        else:
            if current:
                entities.append((" ".join(current), kind))
            current, kind = [], None
    if current:
        entities.append((" ".join(current), kind))
    return entities


def parse_answer(text: str, no_answer_word: str) -> str:
    """A QA answer: the first line, stripped of quotes and a trailing period; the no-answer word
    (any case) becomes "" (SQuAD's no answer)."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    answer = lines[0] if lines else ""
    answer = answer.strip().strip("\"'").rstrip(".").strip()
    return "" if answer.lower() == no_answer_word.lower() else answer
