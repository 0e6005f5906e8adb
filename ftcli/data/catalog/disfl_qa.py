"""disfl-qa: Disfl-QA, SQuAD 2.0 questions rewritten with disfluencies
("What do petrologists use rock samples or rather electron microprobes ... for ?").

Each of the 8,000 BIG-bench examples is `{"input": "<question> \\ncontext: <context>", "target":
<answer>}`; unanswerable questions have the target "unknown" (2,107 of them) and are kept with
empty answers. The texts are SQuAD's tokenized ones ("40 , 000", "Earth ' s") while some targets
keep the original spelling ("40,000"), so answers are located with whitespace ignored and take the
context's own span as their text (4,774 are spelled exactly as `context.find` would find them,
1,118 respaced). An answer found nowhere would drop its row: none is, but one example has an
empty question and is dropped, leaving 7,999 rows (5,892 answerable). A fixed seeded split holds
out 1,000 of them (283 unanswerable) for testing.

From the Hub (google-research-datasets/disfl_qa, when no BIG-bench copy is here): its train and
test splits, the disfluent question as the question, SQuAD's answers as they are.
"""

from __future__ import annotations

from datasets import DatasetDict

from ftcli.data.catalog import hub_splits, seeded_split
from ftcli.data.catalog.bigbench import examples

TEST_ROWS = 1000
NO_ANSWER = "unknown"
CONTEXT_MARKER = " \ncontext: "


def load(asset):
    hub = hub_splits(asset)
    if hub is not None:
        return DatasetDict({name: split.filter(lambda row: bool(row["disfluent question"].strip())).map(
            lambda row: {"id": row["squad_v2_id"], "question": row["disfluent question"].strip(),
                         "context": row["context"], "answers": row["answers"]},
            remove_columns=split.column_names) for name, split in hub.items()})
    rows = []
    for number, example in enumerate(examples(asset.bigbench_tasks[0])):
        question, _, context = example["input"].partition(CONTEXT_MARKER)
        question, context, target = question.strip(), context.strip(), example["target"].strip()
        if not question:  # one example has lost its question
            continue
        if target == NO_ANSWER:
            answers = {"text": [], "answer_start": []}
        else:
            found = locate(target, context)
            if found is None:
                continue
            start, text = found
            answers = {"text": [text], "answer_start": [start]}
        rows.append({"id": f"disfl-qa-{number}", "question": question, "context": context, "answers": answers})
    return seeded_split(rows, TEST_ROWS)


def locate(answer: str, context: str) -> tuple[int, str] | None:
    """(start, text) of `answer` in `context`, whitespace ignored (the text is then the context's
    own span); among several occurrences, one that starts and ends on word boundaries and is
    spelled exactly like the answer is preferred ("violent" inside "nonviolent" is a last resort).
    None when the answer does not occur."""
    kept = [i for i, ch in enumerate(context) if not ch.isspace()]
    squeezed, target = "".join(context[i] for i in kept), "".join(answer.split())
    spans, at = [], squeezed.find(target) if target else -1
    while at >= 0:
        spans.append((kept[at], kept[at + len(target) - 1] + 1))
        at = squeezed.find(target, at + 1)
    if not spans:
        return None

    def preference(span: tuple[int, int]) -> tuple[bool, bool]:
        start, end = span
        inside_word = (start > 0 and context[start - 1].isalnum() and context[start].isalnum()) or \
                      (end < len(context) and context[end].isalnum() and context[end - 1].isalnum())
        return inside_word, context[start:end] != answer

    start, end = min(spans, key=preference)  # min is stable: the first of equally good spans
    return start, context[start:end]
