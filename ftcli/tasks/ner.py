"""Named-entity recognition: tokens -> one BIO tag per token, scored at the entity level.

Words are split into sub-tokens by the tokenizer; the word's label goes on its first sub-token
and -100 (ignored by the loss) on the rest, or on every sub-token with
`options.label_all_subtokens` (a B- tag continues as I-). Predictions are read back from each
word's first sub-token, so metrics and `predict` work on the original words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import DataCollatorForTokenClassification

from ftcli.data.cache import cached_map
from ftcli.data.columns import file_row_numbers
from ftcli.data.images import data_file
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.tasks.base import IGNORE, EvalData, Task

BIO_TAG = re.compile(r"^(O|[BI]-.+)$")


def entity_type(tag: str) -> str | None:
    return tag[2:] if tag[:2] in ("B-", "I-") else None


def _first_row_with(dataset: Dataset, column: str, tag: Any) -> str:
    """'first in row N' (numbered as in the file) for a tag, for error messages."""
    rows = [number for number, tags in zip(file_row_numbers(dataset), dataset[column]) if tag in tags]
    return f"first in row {min(rows)}" if rows else "in the data"


class NerTask(Task):
    name = "ner"
    fields = {"tokens": "tokens", "tags": "tags"}
    required_fields = ("tokens", "tags")
    input_fields = ("tokens",)
    best_metric = "f1"
    metric_names = ("f1", "precision", "recall", "accuracy")
    auto_model_class = "AutoModelForTokenClassification"
    peft_task_type = "TOKEN_CLS"
    output_kind = "token"
    non_model_columns = ("word_ids",)

    # -- data --------------------------------------------------------------------------------

    def label_list(self, train: Dataset, columns: dict[str, str]) -> list[str]:
        source = data_file(train)
        where = f"training data {source}" if source is not None else "training data"
        self._check_lists(train, columns, where, with_tags=True)
        tags = {tag for row in train[columns["tags"]] for tag in row}
        self._check_tags(tags, known_types=None, where=where, dataset=train, column=columns["tags"])
        # "O" first, then the tags of each type together (B- before I-).
        return sorted(tags, key=lambda t: (t != "O", entity_type(t) or "", t))

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        with_tags = columns["tags"] in dataset.column_names
        self._check_lists(dataset, columns, where, with_tags)
        if with_tags and label2id is not None:
            tags = {tag for row in dataset[columns["tags"]] for tag in row}
            known_types = {entity_type(t) for t in label2id} - {None}
            self._check_tags(tags, known_types, where, dataset, columns["tags"])
            unseen = sorted(tags - set(label2id))
            if unseen:
                raise UserError(f"{where} has tag(s) never seen in training: {', '.join(unseen[:5])} "
                                f"({_first_row_with(dataset, columns['tags'], unseen[0])}; "
                                f"known: {', '.join(label2id)})")

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        yield from self._list_problems(dataset, columns, with_tags=columns["tags"] in dataset.column_names)

    def _check_lists(self, dataset: Dataset, columns: dict[str, str], where: str, with_tags: bool) -> None:
        for problem in self._list_problems(dataset, columns, with_tags):
            raise problem.error(where)

    @staticmethod
    def _list_problems(dataset: Dataset, columns: dict[str, str], with_tags: bool) -> Iterator[Problem]:
        """Rows whose tokens are not a list of words, or whose tags are not one string per token, in file order."""
        tokens_column, tags_column = columns["tokens"], columns["tags"]
        all_tags = dataset[tags_column] if with_tags else [None] * dataset.num_rows
        rows = zip(file_row_numbers(dataset), dataset[tokens_column], all_tags)
        for number, tokens, tags in sorted(rows, key=lambda row: row[0]):  # report in file order
            if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) and t for t in tokens):
                yield Problem("rows whose tokens are not a list of words",
                              f"'{tokens_column}' must be a non-empty list of words", number, tokens_column)
            elif with_tags and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
                yield Problem("rows whose tags are not a list of strings",
                              f"'{tags_column}' must be a list of BIO tags (strings)", number, tags_column)
            elif with_tags and len(tags) != len(tokens):
                yield Problem("rows with more or fewer tags than tokens", f"has {len(tokens)} tokens but "
                              f"{len(tags)} tags; give one tag per token", number, tags_column)

    @staticmethod
    def _check_tags(tags: set[str], known_types: set[str] | None, where: str, dataset: Dataset, column: str) -> None:
        bad = sorted((t for t in tags if not isinstance(t, str) or not BIO_TAG.match(t)), key=str)
        if bad:
            raise UserError(f"{where} has tag(s) that are not BIO (O, B-TYPE, I-TYPE): {', '.join(map(repr, bad[:5]))} "
                            f"({_first_row_with(dataset, column, bad[0])})")
        if known_types is None:  # training data: every I- type must also start somewhere with B-
            known_types = {t[2:] for t in tags if t.startswith("B-")}
        orphans = sorted(t for t in tags if t.startswith("I-") and t[2:] not in known_types)
        if orphans:
            raise UserError(f"{where} has I- tag(s) of an unknown type: {', '.join(orphans[:5])} "
                            f"({_first_row_with(dataset, column, orphans[0])}; "
                            f"known types: {', '.join(sorted(known_types)) or 'none'})")

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        tokenizer = processor
        if not getattr(tokenizer, "is_fast", False):
            raise UserError("NER needs a fast tokenizer (word alignment); this checkpoint has none")
        tokens_column, tags_column = columns["tokens"], columns["tags"]
        label_all = self.options.label_all_subtokens
        begin_to_inside = {i: label2id.get(f"I-{t[2:]}", i) for t, i in (label2id or {}).items() if t.startswith("B-")}

        def encode(batch):
            encoded = tokenizer(batch[tokens_column], is_split_into_words=True, truncation=True,
                                max_length=max_length)
            word_ids_rows, label_rows = [], []
            for row, _ in enumerate(batch[tokens_column]):
                word_ids = encoded.word_ids(row)
                word_ids_rows.append([-1 if w is None else w for w in word_ids])
                if with_labels:
                    tag_ids = [label2id[t] for t in batch[tags_column][row]]
                    labels, previous = [], None
                    for word in word_ids:
                        if word is None:
                            labels.append(IGNORE)
                        elif word != previous:
                            labels.append(tag_ids[word])
                        else:
                            labels.append(begin_to_inside.get(tag_ids[word], tag_ids[word]) if label_all else IGNORE)
                        previous = word
                    label_rows.append(labels)
            encoded["word_ids"] = word_ids_rows
            if with_labels:
                encoded["labels"] = label_rows
            return encoded

        return cached_map(dataset, encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")

    def collator(self, processor):
        return DataCollatorForTokenClassification(processor)

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        summary = super().summary(dataset, columns)
        summary["length_unit"] = "tokens"
        if columns["tags"] in dataset.column_names:
            # Entities per type (a B- tag starts one), more telling than raw tag counts.
            # Rows that are not lists of tags are reported by validate; they are left out here.
            rows = [row for row in dataset[columns["tags"]] if isinstance(row, list)]
            entities = Counter(t[2:] for row in rows for t in row if isinstance(t, str) and t.startswith("B-"))
            entities["O (tokens)"] = sum(t == "O" for row in rows for t in row)
            summary["labels"] = entities
        return summary

    # -- outputs -----------------------------------------------------------------------------

    def batch_outputs(self, model, batch):
        out = model(**batch)
        probabilities = out.logits.float().softmax(-1)
        scores, predictions = probabilities.max(-1)
        return {"predictions": predictions, "scores": scores}, getattr(out, "loss", None)

    def _word_tags(self, gathered: dict[str, np.ndarray], data: EvalData) -> list[tuple[list[str], list[float]]]:
        """Per example: a tag and a confidence per word, read at each word's first sub-token.
        Words cut off by truncation get "O"."""
        results = []
        tokens_column = data.columns["tokens"]
        for row, (word_ids, tokens) in enumerate(zip(data.features["word_ids"], data.examples[tokens_column])):
            tags, scores = ["O"] * len(tokens), [0.0] * len(tokens)
            seen = set()
            for position, word in enumerate(word_ids):
                if word < 0 or word in seen:
                    continue
                seen.add(word)
                tags[word] = data.labels[int(gathered["predictions"][row][position])]
                scores[word] = float(gathered["scores"][row][position])
            results.append((tags, scores))
        return results

    def compute_metrics(self, gathered, data):
        predictions = [tags for tags, _ in self._word_tags(gathered, data)]
        references = [list(tags) for tags in data.examples[data.columns["tags"]]]
        return load_metric("seqeval").compute(predictions=predictions, references=references)

    def format_predictions(self, gathered, data) -> list[dict[str, Any]]:
        from seqeval.metrics.sequence_labeling import get_entities

        records = []
        for (tags, scores), tokens in zip(self._word_tags(gathered, data), data.examples[data.columns["tokens"]]):
            entities = [
                {"type": kind, "text": " ".join(tokens[start:end + 1]), "start": start, "end": end + 1,
                 "score": round(float(np.mean(scores[start:end + 1])), 6)}
                for kind, start, end in get_entities(tags)
            ]
            records.append({"tags": tags, "entities": entities})
        return records

    def input_row(self, text: str) -> dict[str, Any]:
        return {"tokens": text.split()}

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        entities = "; ".join(f"{e['type']}: {e['text']} [{e['start']}:{e['end']}]" for e in record["entities"])
        return {"text": " ".join(record["tokens"]), "entities": entities or "-"}

