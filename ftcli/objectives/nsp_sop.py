"""`mlm+nsp` (BERT) and `sop` (ALBERT): masked-language modelling on segment pairs, plus a
two-way prediction from [CLS] about the pair.

Pairs are built once per run, seeded, after BERT's `create_pretraining_data.py`: a document's
sentences are gathered until they fill a pair, then cut at a random sentence boundary into A and B.
- next-sentence prediction: half the time B is replaced by a segment of another document
  (label 1 = random, 0 = the true continuation);
- sentence-order prediction: A and B are always consecutive, and half the time swapped
  (label 1 = swapped, 0 = in order), which a model cannot solve by topic alone.
"""

from __future__ import annotations

import bisect

import numpy as np
import torch.nn.functional as F
from datasets import Dataset

from ftcli.errors import UserError
from ftcli.objectives.base import ObjectiveOutput
from ftcli.objectives.masking import masked_accuracy, masked_lm_loss, masked_metrics
from ftcli.objectives.mlm import MaskedLm, MaskedLmModule, require_mask_token

PAIR_LOGITS = {"bert": "seq_relationship_logits", "albert": "sop_logits"}
"""Architectures whose pre-training class has a two-way [CLS] head, and the output that holds it."""


def build_pairs(documents: list[list[list[int]]], target: int, rng: np.random.RandomState, kind: str,
                probability: float) -> list[tuple[list[int], list[int], int]]:
    """(A, B, label) from documents given as lists of tokenized sentences; len(A) + len(B) <= target."""
    usable = [d for d, doc in enumerate(documents) if sum(len(s) for s in doc) > 0]
    if kind == "nsp" and len(usable) < 2:
        raise UserError("next-sentence prediction needs at least two documents (separate them with a blank line)")
    pairs = []
    for d, doc in enumerate(documents):
        chunk, length = [], 0
        for i, sentence in enumerate(doc):
            chunk.append(sentence)
            length += len(sentence)
            if i < len(doc) - 1 and length < target:
                continue
            pair = _pair(chunk, d, documents, usable, target, rng, kind, probability)
            if pair is not None:
                pairs.append(pair)
            chunk, length = [], 0
    return pairs


def _pair(chunk, d, documents, usable, target, rng, kind, probability):
    if len(chunk) == 1:  # one long sentence: its two halves are the consecutive segments
        tokens = chunk[0]
        if len(tokens) < 2:
            return None
        cut = rng.randint(1, len(tokens))
        chunk = [tokens[:cut], tokens[cut:]]
    cut = rng.randint(1, len(chunk))
    a = [t for s in chunk[:cut] for t in s]
    b = [t for s in chunk[cut:] for t in s]
    label = int(rng.random_sample() < probability)
    if kind == "nsp" and label:
        b = _random_segment(documents, _other_document(usable, d, rng), max(target - len(a), 1), rng)
    elif kind == "sop" and label:
        a, b = b, a
    while len(a) + len(b) > target:  # trim the longer segment from its end
        (a if len(a) >= len(b) else b).pop()
    return (a, b, label) if a and b else None


def _other_document(usable: list[int], d: int, rng: np.random.RandomState) -> int:
    """A uniform draw from the usable documents other than `d` (sorted ids), without building the
    list of others for every pair (that made building pairs quadratic in the documents)."""
    position = bisect.bisect_left(usable, d)
    skip = position < len(usable) and usable[position] == d
    k = rng.randint(len(usable) - skip)
    return usable[k + 1] if skip and k >= position else usable[k]


def _random_segment(documents, other: int, length, rng) -> list[int]:
    """Sentences of document `other`, from a random start, until `length` tokens."""
    doc = documents[other]
    start = rng.randint(len(doc))
    segment = []
    for sentence in doc[start:]:
        segment += sentence
        if len(segment) >= length:
            break
    return segment


class SentencePairObjective(MaskedLm):
    auto_model_class = "AutoModelForPreTraining"
    kind: str
    label_name: str

    def probability(self) -> float:
        raise NotImplementedError

    def check_model(self, model_config, model_name: str) -> None:
        if model_config.model_type not in PAIR_LOGITS:
            raise UserError(f"{self.name} needs a pre-training head that reads a sentence pair from [CLS] "
                            f"({', '.join(PAIR_LOGITS)} models); {model_name} is a {model_config.model_type} model")

    def preprocess(self, dataset: Dataset, processor, columns, label2id, max_length: int, with_labels: bool = True):
        from ftcli.data.text import split_sentences

        self.mask_token_id = require_mask_token(processor, getattr(processor, "name_or_path", "the model"))
        if processor.cls_token_id is None or processor.sep_token_id is None:
            raise UserError(f"{self.name} needs a tokenizer with [CLS] and [SEP] tokens (a WordPiece tokenizer)")
        sentences = [split_sentences(doc) for doc in self.documents(dataset, columns)]
        flat = [s for doc in sentences for s in doc]
        ids = iter(processor(flat, add_special_tokens=False, return_attention_mask=False, verbose=False)["input_ids"])
        documents = [[next(ids) for _ in doc] for doc in sentences]
        rng = np.random.RandomState(self.seed + len(flat))  # the held-out split draws differently from training
        pairs = build_pairs(documents, max_length - 3, rng, self.kind, self.probability())
        if not pairs:
            raise UserError(f"{self.source_of(dataset)} gives no sentence pair: it needs documents of two or more tokens")
        cls, sep = processor.cls_token_id, processor.sep_token_id
        return Dataset.from_dict({
            "input_ids": [[cls] + a + [sep] + b + [sep] for a, b, _ in pairs],
            "token_type_ids": [[0] * (len(a) + 2) + [1] * (len(b) + 1) for a, b, _ in pairs],
            "special_tokens_mask": [[1] + [0] * len(a) + [1] + [0] * len(b) + [1] for a, b, _ in pairs],
            "attention_mask": [[1] * (len(a) + len(b) + 3) for a, b, _ in pairs],
            self.label_name: [label for _, _, label in pairs],
        })

    def training_module(self, model, config):
        return SentencePairModule(model, self)

    def compute_metrics(self, gathered, data):
        right = gathered["pair_right"]
        return {**masked_metrics(gathered), f"{self.kind}_accuracy": float(right.mean()) if len(right) else 0.0}


class MaskedLmNextSentence(SentencePairObjective):
    name = "mlm+nsp"
    kind = "nsp"
    label_name = "next_sentence_label"

    def probability(self) -> float:
        return self.settings.nsp_probability


class MaskedLmSentenceOrder(SentencePairObjective):
    name = "sop"
    kind = "sop"
    label_name = "sentence_order_label"

    def probability(self) -> float:
        return self.settings.sop_probability


class SentencePairModule(MaskedLmModule):
    def forward(self, **batch):
        pair_labels = batch[self.objective.label_name]
        masked, labels = self.mask(batch, self.rng(batch["input_ids"]))
        out = self.model(input_ids=masked, attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
                         **self.with_labels(labels))
        logits, pair_logits = out.prediction_logits, getattr(out, PAIR_LOGITS[self.config.model_type])
        mlm_loss = masked_lm_loss(logits, labels)
        pair_loss = F.cross_entropy(pair_logits.float(), pair_labels)
        return ObjectiveOutput(
            loss=mlm_loss + pair_loss,
            loss_parts={"mlm": mlm_loss.detach(), self.objective.kind: pair_loss.detach()},
            metrics={**masked_accuracy(logits, labels), "pair_right": (pair_logits.argmax(-1) == pair_labels).float()},
        )
