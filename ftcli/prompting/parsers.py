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


_WORD = re.compile(r"\S+")
_EDGE_PUNCTUATION = "\"'.,;:!?()[]{}"


def _normal_word(word: str) -> str:
    return word.strip(_EDGE_PUNCTUATION).lower()


def span_from_context(answer: str, context: str, slack: int = 5) -> str:
    """The context's own text for a generated answer: the answer itself where the context holds
    it (any case), else the shortest run of context words with the best word-overlap F1 against
    it (SQuAD's measure); the answer unchanged when no word overlaps. Small models paraphrase,
    re-case and run on; extractive QA is scored against context spans."""
    if not answer.strip() or not context:
        return answer
    at = context.lower().find(answer.lower())
    if at >= 0:
        return context[at:at + len(answer)]
    words = [(m.start(), m.end(), _normal_word(m.group())) for m in _WORD.finditer(context)]
    wanted = [w for w in map(_normal_word, answer.split()) if w]
    if not wanted or not words:
        return answer
    wanted_counts: dict[str, int] = {}
    for w in wanted:
        wanted_counts[w] = wanted_counts.get(w, 0) + 1
    best, best_span = 0.0, None
    for start in range(len(words)):
        if words[start][2] not in wanted_counts:
            continue  # the best spans start (and end) on a shared word
        seen: dict[str, int] = {}
        common = 0
        for end in range(start, min(len(words), start + len(wanted) + slack)):
            word = words[end][2]
            seen[word] = seen.get(word, 0) + 1
            if seen[word] <= wanted_counts.get(word, 0):
                common += 1
            if word not in wanted_counts:
                continue
            f1 = 2 * common / (end - start + 1 + len(wanted))
            if f1 > best:  # strictly better: ties keep the shorter, earlier span
                best, best_span = f1, (words[start][0], words[end][1])
    if best_span is None:
        return answer
    return context[best_span[0]:best_span[1]].strip(_EDGE_PUNCTUATION + " ")
