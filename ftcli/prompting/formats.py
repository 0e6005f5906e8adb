"""What each task puts into a prompt and how its answer is scored.

A `PromptFormat` turns a row (default column names) into the fields its template reads
(`{text}`, `{premise}`, `{question}`, `{sentence}`...), the gold answer text a demonstration
shows, the way the model answers (ranking label words, or generating), and the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.prompting import stats
from ftcli.prompting.parsers import (entities_to_tags, parse_answer, parse_entities, span_from_context,
                                     tags_to_entities)


@dataclass
class PromptFormat:
    task: str
    scoring: str
    """"rank" (score each label word), or "generate" (greedy text, parsed)."""

    def fields(self, row: dict) -> dict[str, Any]:
        return dict(row)

    def instruction(self, settings) -> str:
        return settings.instruction

    def gold_text(self, row: dict, settings) -> str:
        raise NotImplementedError

    def parse(self, text: str, row: dict, settings) -> Any:
        return text.strip()

    def metrics(self, predictions: list, rows: list[dict], settings) -> dict[str, float]:
        raise NotImplementedError


class LabelFormat(PromptFormat):
    """classification and nli: one of the label words."""

    def gold_text(self, row, settings):
        return label_word(settings, row["label"])

    def metrics(self, predictions, rows, settings):
        """Accuracy and macro-F1 with their standard errors, beside the baselines they must beat:
        always the majority label, and uniformly random labels (macro-F1)."""
        labels = sorted({str(r["label"]) for r in rows} | {str(p) for p in predictions})
        ids = {label: i for i, label in enumerate(labels)}
        references = [ids[str(r["label"])] for r in rows]
        predicted = [ids[str(p)] for p in predictions]
        accuracy = load_metric("accuracy").compute(predictions=predicted, references=references)["accuracy"]
        f1 = load_metric("f1").compute(predictions=predicted, references=references, average="macro",
                                       labels=list(range(len(labels))))["f1"]
        return {"accuracy": accuracy, "accuracy_stderr": stats.binomial_stderr(accuracy, len(rows)),
                "f1": f1, "f1_stderr": stats.bootstrap_stderr(references, predicted, len(labels)),
                "majority_accuracy": stats.majority_accuracy(references),
                "random_f1": stats.random_macro_f1(references, len(labels))}


class QaFormat(PromptFormat):
    def gold_text(self, row, settings):
        texts = row["answers"]["text"]
        return texts[0] if texts else settings.no_answer

    def parse(self, text, row, settings):
        answer = parse_answer(text, settings.no_answer)
        return span_from_context(answer, row.get("context", "")) if settings.span_from_context else answer

    def metrics(self, predictions, rows, settings):
        references = [list(r["answers"]["text"]) for r in rows]
        return load_metric("squad").compute(predictions=predictions, references=references)


@dataclass
class NerFormat(PromptFormat):
    types: frozenset = frozenset()
    """Entity types the parser accepts (those in the data)."""

    def fields(self, row):
        return {**row, "sentence": " ".join(row["tokens"])}

    def instruction(self, settings) -> str:
        return settings.instruction.replace("{types}", ", ".join(sorted(self.types)))

    def gold_text(self, row, settings):
        entities = tags_to_entities(row["tokens"], row["tags"])
        return "\n".join(f"{entity} — {kind}" for entity, kind in entities) or settings.no_answer

    def parse(self, text, row, settings):
        return entities_to_tags(row["tokens"], parse_entities(text, set(self.types), settings.no_answer))

    def metrics(self, predictions, rows, settings):
        return load_metric("seqeval").compute(predictions=predictions, references=[list(r["tags"]) for r in rows])


class GenerationFormat(PromptFormat):
    def gold_text(self, row, settings):
        return str(row.get("completion", row.get("target", "")))

    def metrics(self, predictions, rows, settings):
        references = [self.gold_text(r, settings) for r in rows]
        return load_metric("rouge").compute(predictions=predictions, references=references)


def format_for(task: str, entity_types: frozenset[str] = frozenset()) -> PromptFormat:
    """The task's format; NER's accepts the `entity_types` given (see `entity_types`), the others ignore them."""
    formats = {
        "classification": LabelFormat("classification", "rank"),
        "nli": LabelFormat("nli", "rank"),
        "qa": QaFormat("qa", "generate"),
        "ner": NerFormat("ner", "generate", types=entity_types),
        "generation": GenerationFormat("generation", "generate"),
    }
    if task not in formats:
        raise UserError(f"ftcli prompt does not support {task}; it supports {', '.join(formats)}")
    return formats[task]


def entity_types(rows: list[dict]) -> frozenset[str]:
    """The entity types the rows' BIO tags name (none for rows without tags)."""
    return frozenset(tag[2:] for row in rows for tag in row.get("tags", ()) if tag != "O")


def label_word(settings, label: Any) -> str:
    """The verbalizer: `prompt.label_words` maps a label to its word (default: the label)."""
    return settings.label_words.get(str(label), str(label))
