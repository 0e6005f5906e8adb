"""Extractive question answering: question + context -> a span of the context, or no answer.

A context longer than `model.max_length` is cut into overlapping windows ("features") that share
`options.doc_stride` tokens; each window holds the whole question first and a slice of the
context second (`truncation="only_second"`). Training labels a window with the tokens where the
first answer starts and ends, or with the [CLS] token (index 0) when the answer is not wholly
inside the window or there is none. To predict, the `options.n_best` start and end logits of
every window of an example are paired into spans of at most `options.max_answer_length` tokens;
the best span over all windows wins unless the null score ([CLS] start + end logit) beats it by
more than `options.null_score_threshold`, in which case the answer is "" (no answer). Null
answers are only allowed where the data has unanswerable questions (`options.null_answers`):
with SQuAD-v1-style data, whose windows without the answer are still trained towards [CLS],
letting the null score answer cost F1 (run_qa.py's v1 post-processing never answers null).
The post-processing follows transformers' examples/pytorch/question-answering/utils_qa.py.

`ftcli predict RUN --input "QUESTION ||| CONTEXT"` answers one question; --data FILE takes many.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import DataCollatorWithPadding

from ftcli.data.cache import cached_map
from ftcli.data.columns import check_texts, file_row_numbers
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.metrics import load_metric
from ftcli.tasks.base import EvalData, Task, text_problems

CLS_INDEX = 0
"""Where "no answer" points: the first token ([CLS] for BERT-style tokenizers)."""
INPUT_SEPARATOR = "|||"
"""`ftcli predict --input "QUESTION ||| CONTEXT"`."""


class QaTask(Task):
    name = "qa"
    fields = {"id": "id", "question": "question", "context": "context", "answers": "answers"}
    required_fields = ("question", "context", "answers")
    input_fields = ("question", "context")
    best_metric = "f1"
    metric_names = ("f1", "exact_match")
    auto_model_class = "AutoModelForQuestionAnswering"
    peft_task_type = "QUESTION_ANS"
    output_kind = "span"
    non_model_columns = ("offset_mapping", "example_index")

    # -- loading ---------------------------------------------------------------------------

    def load_processor(self, checkpoint: str, trust_remote_code: bool = False):
        tokenizer = super().load_processor(checkpoint, trust_remote_code)
        # Token positions in the gathered logits must match the offsets: pad on the right.
        tokenizer.padding_side = "right"
        return tokenizer

    def model_kwargs(self, labels: list[str] | None) -> dict[str, Any]:
        return {"num_labels": 2}  # one start and one end logit per token, whatever the checkpoint had

    # -- data --------------------------------------------------------------------------------

    def label_list(self, train: Dataset, columns: dict[str, str]) -> None:
        # Not labels, but the one thing the training data decides: whether "no answer" is an answer.
        if self.options.null_answers == "auto" and columns["answers"] in train.column_names:
            self.options.null_answers = "yes" if has_unanswerable(train[columns["answers"]]) else "no"
        return None

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        check_texts(dataset, columns, ("question", "context"), where)
        if columns["answers"] not in dataset.column_names:
            return  # predicting: no answers needed
        rows = zip(file_row_numbers(dataset), example_ids(dataset, columns), dataset[columns["context"]],
                   dataset[columns["answers"]])
        for number, id_, context, answers in sorted(rows, key=lambda row: row[0]):  # report in file order
            self._check_answers(answers, context, f"{where}: row {number} (id {id_})", columns["answers"])

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        texts = list(text_problems(dataset, columns, ("question", "context")))
        yield from texts
        column = columns["answers"]
        if column not in dataset.column_names:
            return
        no_context = {problem.row for problem in texts if problem.column == columns["context"]}
        for number, context, answers in zip(file_row_numbers(dataset), dataset[columns["context"]], dataset[column]):
            if number in no_context:
                continue  # nothing to find the answer in
            try:
                self._check_answers(answers, context, "", column)
            except UserError as err:  # the check training makes, row by row
                yield Problem("rows whose answers are malformed or not in the context", str(err).lstrip(": "),
                              number, column)

    @staticmethod
    def _check_answers(answers: Any, context: str, where: str, column: str) -> None:
        if not (isinstance(answers, dict) and isinstance(answers.get("text"), list)
                and isinstance(answers.get("answer_start"), list)):
            raise UserError(f'{where}: \'{column}\' must be {{"text": [...], "answer_start": [...]}} '
                            "(SQuAD format; empty lists for no answer)")
        texts, starts = answers["text"], answers["answer_start"]
        if len(texts) != len(starts):
            raise UserError(f"{where} has {len(texts)} answer text(s) but {len(starts)} answer_start(s); "
                            "give one start per answer")
        for text, start in zip(texts, starts):
            if not isinstance(text, str) or not text or not isinstance(start, int) or isinstance(start, bool):
                raise UserError(f"{where}: each answer needs a non-empty text and an integer answer_start, "
                                f"got {text!r} at {start!r}")
            found = context[start:start + len(text)] if start >= 0 else ""
            if found != text:
                elsewhere = context.find(text)
                hint = f" (the text occurs at {elsewhere})" if elsewhere >= 0 else " (the text is not in the context)"
                raise UserError(f"{where}: answer_start {start} does not match the context: expected {text!r}, "
                                f"found {found!r}{hint}")

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        tokenizer = processor
        if not getattr(tokenizer, "is_fast", False):
            raise UserError("question answering needs a fast tokenizer (character offsets); this checkpoint has none")
        question_column, context_column, answers_column = (columns[f] for f in ("question", "context", "answers"))
        # Leading spaces in questions only waste window room (some SQuAD questions have many).
        questions = [q.lstrip() for q in dataset[question_column]]
        self._check_window_room(tokenizer, questions, max_length, file_row_numbers(dataset))

        def encode(batch, indices):
            encoded = tokenizer(
                [q.lstrip() for q in batch[question_column]], batch[context_column],
                truncation="only_second", max_length=max_length, stride=self.doc_stride(max_length),
                return_overflowing_tokens=True, return_offsets_mapping=True,
            )
            sample_map = encoded.pop("overflow_to_sample_mapping")
            all_offsets = encoded.pop("offset_mapping")
            offsets_rows, example_rows, starts, ends = [], [], [], []
            for feature, sample in enumerate(sample_map):
                # Offsets only for context tokens; None marks the question and special tokens.
                offsets = [list(o) if segment == 1 else None
                           for o, segment in zip(all_offsets[feature], encoded.sequence_ids(feature))]
                offsets_rows.append(offsets)
                example_rows.append(indices[sample])
                if with_labels:
                    start, end = answer_tokens(offsets, batch[answers_column][sample])
                    starts.append(start)
                    ends.append(end)
            encoded["offset_mapping"] = offsets_rows
            encoded["example_index"] = example_rows
            if with_labels:
                encoded["start_positions"], encoded["end_positions"] = starts, ends
            return encoded

        return cached_map(dataset, encode, batched=True, with_indices=True, remove_columns=dataset.column_names,
                           desc="Tokenizing")

    def _check_window_room(self, tokenizer, questions: list[str], max_length: int, rows: list[int]) -> None:
        """Each window must fit the question, the special tokens and more context tokens than
        the stride (the tokenizer panics otherwise). `rows` numbers the questions as in the file."""
        if not questions:
            return
        lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
        longest = int(np.argmax(lengths))
        row = rows[longest]
        specials = tokenizer.num_special_tokens_to_add(pair=True)
        room = max_length - specials - lengths[longest]
        if room <= 0:
            raise UserError(f"the longest question (row {row}, {lengths[longest]} tokens) leaves no room for "
                            f"the context in model.max_length {max_length}; raise model.max_length")
        stride = self.doc_stride(max_length)
        if stride >= room:
            raise UserError(
                f"options.doc_stride ({stride}) must be smaller than the room left for the context ({room} tokens: "
                f"model.max_length {max_length} - {specials} special tokens - {lengths[longest]} tokens of the "
                f"longest question, row {row}); lower it (e.g. --set options.doc_stride={room // 3}) "
                "or raise model.max_length"
            )

    def doc_stride(self, max_length: int) -> int:
        """options.doc_stride, or a third of max_length when it is not set (so it follows --max-length)."""
        return self.options.doc_stride if self.options.doc_stride is not None else max_length // 3

    def collator(self, processor):
        return DataCollatorWithPadding(processor)

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        summary = super().summary(dataset, columns)
        if columns["answers"] in dataset.column_names:
            summary["labels"] = Counter(
                "answerable" if is_answerable(a) else "unanswerable" for a in dataset[columns["answers"]]
            )
        return summary

    # -- outputs -----------------------------------------------------------------------------

    def batch_outputs(self, model, batch):
        out = model(**batch)
        return ({"start_logits": out.start_logits.float(), "end_logits": out.end_logits.float()},
                getattr(out, "loss", None))

    def predicted_answers(self, gathered: dict[str, np.ndarray], data: EvalData) -> list[dict[str, Any]]:
        """One {answer, score, start} per example: the best span over its windows, or "" (start
        None) when the null score wins by more than the threshold. `score` is the probability
        of the chosen answer under a softmax over the candidate spans and the null score."""
        options = self.options
        windows = defaultdict(list)
        for feature, example in enumerate(data.features["example_index"]):
            windows[example].append(feature)
        all_offsets = data.features["offset_mapping"]
        contexts = data.examples[data.columns["context"]]
        allow_null = self.allows_null_answers(data)
        results = []
        for example, context in enumerate(contexts):
            candidates: dict[tuple[int, int], float] = {}
            null_score = None
            for feature in windows[example]:
                offsets = all_offsets[feature]
                start_logits = np.asarray(gathered["start_logits"][feature][:len(offsets)], dtype=np.float64)
                end_logits = np.asarray(gathered["end_logits"][feature][:len(offsets)], dtype=np.float64)
                # The most confident window decides whether there is an answer (lowest null score).
                window_null = start_logits[CLS_INDEX] + end_logits[CLS_INDEX]
                null_score = window_null if null_score is None else min(null_score, window_null)
                for span, score in window_spans(start_logits, end_logits, offsets, options.n_best,
                                                options.max_answer_length):
                    candidates[span] = max(score, candidates.get(span, -np.inf))
            results.append(choose_answer(candidates, null_score if allow_null else None, context,
                                         options.null_score_threshold, options.n_best))
        return results

    def allows_null_answers(self, data: EvalData) -> bool:
        """`options.null_answers`; still `auto` (a model ftcli did not train): whether the data's
        own answers include an unanswerable question, or yes when it has no answers (predict)."""
        if self.options.null_answers != "auto":
            return self.options.null_answers == "yes"
        answers = data.columns.get("answers")
        if answers in data.examples.column_names:
            return has_unanswerable(data.examples[answers])
        return True

    def compute_metrics(self, gathered, data):
        predictions = [a["answer"] for a in self.predicted_answers(gathered, data)]
        references = [list(a["text"]) for a in data.examples[data.columns["answers"]]]
        return load_metric("squad").compute(predictions=predictions, references=references)

    def format_predictions(self, gathered, data) -> list[dict[str, Any]]:
        ids = example_ids(data.examples, data.columns)
        return [{"id": ids[row], **answer} for row, answer in enumerate(self.predicted_answers(gathered, data))]

    # -- the terminal ------------------------------------------------------------------------

    def input_row(self, text: str) -> dict[str, Any]:
        question, separator, context = text.partition(INPUT_SEPARATOR)
        if not separator or not question.strip() or not context.strip():
            raise UserError(f'qa needs a question and a context: --input "QUESTION {INPUT_SEPARATOR} CONTEXT", '
                            "or a file with question and context columns via --data")
        return {"question": question.strip(), "context": context.strip()}

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        return {"question": str(record["question"]), "answer": record["answer"] or "(no answer)",
                "score": f"{record['score']:.4f}"}


def is_answerable(answer) -> bool:
    return isinstance(answer, dict) and bool(answer.get("text"))


def has_unanswerable(answers) -> bool:
    return not all(is_answerable(a) for a in answers)


def example_ids(dataset: Dataset, columns: dict[str, str]) -> list[str]:
    """The rows' ids as strings; row numbers (from 1) when the data has no id column."""
    column = columns.get("id")
    if column in dataset.column_names:
        return [str(i) for i in dataset[column]]
    return [str(n) for n in range(1, dataset.num_rows + 1)]


def answer_tokens(offsets: list[list[int] | None], answers: dict[str, list]) -> tuple[int, int]:
    """Start and end token of the first answer in one window, or (CLS, CLS) when there is no
    answer or it is not wholly inside the window."""
    if not answers["text"]:
        return CLS_INDEX, CLS_INDEX
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    context = [i for i, o in enumerate(offsets) if o is not None]
    if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
        return CLS_INDEX, CLS_INDEX
    start = next(i for i in context if offsets[i][1] > start_char)
    end = next(i for i in reversed(context) if offsets[i][0] < end_char)
    return start, end


def window_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list[list[int] | None],
                 n_best: int, max_answer_length: int) -> list[tuple[tuple[int, int], float]]:
    """Candidate answers of one window: ((start char, end char), start + end logit) for the
    n-best start and end tokens inside the context, in order, at most `max_answer_length` tokens."""
    in_context = np.array([o is not None for o in offsets])
    if not in_context.any():
        return []
    masked_start = np.where(in_context, start_logits, -np.inf)
    masked_end = np.where(in_context, end_logits, -np.inf)
    top_starts = np.argsort(masked_start)[::-1][:n_best]
    top_ends = np.argsort(masked_end)[::-1][:n_best]
    spans = []
    for start in top_starts:
        for end in top_ends:
            if not (in_context[start] and in_context[end]) or end < start or end - start + 1 > max_answer_length:
                continue
            spans.append(((offsets[start][0], offsets[end][1]), float(start_logits[start] + end_logits[end])))
    return spans


def choose_answer(candidates: dict[tuple[int, int], float], null_score: float | None, context: str,
                  threshold: float, n_best: int) -> dict[str, Any]:
    """The best candidate span, or no answer ("") when null score - best span score > threshold."""
    ranked = sorted(candidates.items(), key=lambda item: item[1], reverse=True)[:n_best]
    scores = np.array([s for _, s in ranked] + ([null_score] if null_score is not None else []))
    if scores.size == 0:
        return {"answer": "", "score": 0.0, "start": None}
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    no_answer = not ranked or (null_score is not None and null_score - ranked[0][1] > threshold)
    if no_answer:
        return {"answer": "", "score": round(float(probabilities[-1]), 6), "start": None}
    (start, end), _ = ranked[0]
    return {"answer": context[start:end], "score": round(float(probabilities[0]), 6), "start": start}

