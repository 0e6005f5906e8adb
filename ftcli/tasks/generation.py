"""Text generation: causal language models (plain text, or prompt -> completion) and
encoder-decoder models (source -> target), scored with perplexity and ROUGE-L.

The layout comes from the columns the data has (DESIGN.md section 3):

  text                  plain language modelling: every text tokenized, concatenated (an EOS
                        after each) and cut into blocks of `model.max_length` tokens.
  prompt + completion   instruction tuning: the loss covers the completion tokens only (prompt
                        labels are -100). With a chat template, the prompt is the user turn and
                        the completion the assistant turn.
  source + target       sequence to sequence, for encoder-decoder models (AutoModelForSeq2SeqLM).
                        On a causal LM, source/target are read as prompt/completion and vice versa.

Perplexity is exp of the mean loss per predicted token over the whole evaluation set:
`batch_outputs` returns each example's summed token loss and token count, so batches of
different lengths weigh what they hold. Paired layouts also generate (greedy) from the
prompt/source and score ROUGE-L against the reference.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset

from ftcli.data.cache import cached_map
from ftcli.data.columns import file_row_numbers
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.models.loading import ensure_pad_token
from ftcli.metrics import load_metric
from ftcli.batching import left_pad
from ftcli.tasks.base import IGNORE, EvalData, Task

LAYOUTS: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt", "completion"),
    "source": ("source", "target"),
    "text": ("text",),
}
"""Layout (named by its input field) -> the fields training and evaluation need, checked in this order."""

LAYOUT_NAMES = {"prompt": "prompt/completion", "source": "source/target", "text": "plain text"}


def token_losses(logits: torch.Tensor, labels: torch.Tensor, shift: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: the summed cross-entropy over predicted tokens, and how many there are.
    Causal LMs predict token t+1 at position t (`shift`); seq2seq decoders are already aligned."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    # One row at a time: a float32 copy of a whole batch of logits can take gigabytes.
    sums = torch.stack([F.cross_entropy(row_logits.float(), row_labels, ignore_index=IGNORE, reduction="sum")
                        for row_logits, row_labels in zip(logits, labels)])
    return sums, (labels != IGNORE).sum(-1)


class GenerationCollator:
    """Right-pads each key to its own longest row: input_ids with the pad id, attention_mask
    with 0, labels with -100 (seq2seq labels are a different length from the inputs)."""

    def __init__(self, pad_token_id: int):
        self.padding = {"input_ids": pad_token_id, "attention_mask": 0, "labels": IGNORE}

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = {}
        for key, pad in self.padding.items():
            if key in features[0]:
                longest = max(len(f[key]) for f in features)
                batch[key] = torch.tensor([list(f[key]) + [pad] * (longest - len(f[key])) for f in features])
        return batch


class GenerationTask(Task):
    name = "generation"
    fields = {"prompt": "prompt", "completion": "completion", "text": "text", "source": "source", "target": "target"}
    required_fields = ("prompt", "completion")
    has_new_head = False  # the LM head is pretrained
    best_metric = "perplexity"
    greater_is_better = False
    metric_names = ("perplexity", "rougeL")  # rougeL where validation generates (seq2seq, prompt + completion)
    auto_model_class = "AutoModelForCausalLM"

    def __init__(self) -> None:
        self.seq2seq = False
        """Whether the checkpoint is an encoder-decoder: set on the copy `bind` returns."""
        self.tokenizer = None
        """Kept by `load_processor` / `preprocess` for generating during evaluation (pad and end-of-turn ids);
        metrics and predictions decode with the processor their `EvalData` carries."""

    # -- loading ---------------------------------------------------------------------------

    def bind(self, model_config) -> "GenerationTask":
        bound = copy.copy(self)
        bound.seq2seq = bool(getattr(model_config, "is_encoder_decoder", False))
        return bound

    def auto_class_for(self, model_config) -> str:
        seq2seq = bool(getattr(model_config, "is_encoder_decoder", False))
        return "AutoModelForSeq2SeqLM" if seq2seq else "AutoModelForCausalLM"

    @property
    def peft_task_type(self) -> str:
        return "SEQ_2_SEQ_LM" if self.seq2seq else "CAUSAL_LM"

    @property
    def output_kind(self) -> str:
        return "seq2seq" if self.seq2seq else "lm"

    def load_processor(self, checkpoint: str, trust_remote_code: bool = False):
        tokenizer = super().load_processor(checkpoint, trust_remote_code)  # pads with EOS when it has no pad
        self.tokenizer = tokenizer
        return tokenizer

    # -- data --------------------------------------------------------------------------------

    @property
    def input_fields(self) -> tuple[str, ...]:
        return ("source",) if self.seq2seq else ("prompt",)

    def layout_of(self, dataset: Dataset, columns: dict[str, str]) -> str:
        """'prompt', 'source' or 'text': the first layout whose input column the data has."""
        for layout in LAYOUTS:
            if columns[layout] in dataset.column_names:
                return layout
        raise UserError(
            f"generation data needs a 'text' column (plain LM), 'prompt' + 'completion' or 'source' + 'target' "
            f"(columns: {', '.join(dataset.column_names)}); map yours with --column prompt=NAME"
        )

    def required_for(self, dataset: Dataset, columns: dict[str, str]) -> list[str]:
        return list(LAYOUTS[self.layout_of(dataset, columns)])

    def inputs_for(self, dataset: Dataset, columns: dict[str, str]) -> list[str]:
        return [self.layout_of(dataset, columns)]

    def label_list(self, train: Dataset, columns: dict[str, str]) -> None:
        return None

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        for problem in self.row_problems(dataset, columns):
            raise problem.error(where)

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        """Rows without one of the layout's texts, column by column, each in file order."""
        layout = self.layout_of(dataset, columns)
        needed = [columns[f] for f in LAYOUTS[layout] if columns[f] in dataset.column_names]
        for column in needed:
            for number, value in sorted(zip(file_row_numbers(dataset), dataset[column]), key=lambda row: row[0]):
                if not isinstance(value, str) or not value.strip():
                    yield Problem("rows without a text", f"has no '{column}' text; every {LAYOUT_NAMES[layout]} row "
                                  f"needs {' and '.join(repr(c) for c in needed)}: fill or drop it", number, column)

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        tokenizer = processor
        ensure_pad_token(tokenizer)
        self.tokenizer = tokenizer
        layout = self.layout_of(dataset, columns)
        if layout == "text":
            if self.seq2seq:
                raise UserError("plain 'text' data trains a causal LM; give an encoder-decoder model "
                                "'source' + 'target' columns, or pick a decoder-only model")
            if with_labels:
                return self._blocks(dataset, tokenizer, columns["text"], max_length)
            return self._causal_pairs(dataset, tokenizer, columns["text"], None, max_length, chat=False)
        input_column = columns[layout]
        answer_column = columns[LAYOUTS[layout][1]] if with_labels else None
        if self.seq2seq:
            return self._seq2seq_pairs(dataset, tokenizer, input_column, answer_column, max_length)
        return self._causal_pairs(dataset, tokenizer, input_column, answer_column, max_length,
                                  chat=bool(getattr(tokenizer, "chat_template", None)))

    @staticmethod
    def _blocks(dataset: Dataset, tokenizer, column: str, max_length: int) -> Dataset:
        """Tokenize, concatenate (EOS after each text) and cut into `max_length` blocks. As in
        transformers' run_clm.py, texts are concatenated 1,000 rows at a time; the last, shorter
        block of each group is kept (dropping it would empty a small evaluation set)."""
        eos = tokenizer.eos_token_id

        def group(batch):
            stream: list[int] = []
            for ids in tokenizer(batch[column])["input_ids"]:
                stream += ids + ([eos] if eos is not None and ids[-1:] != [eos] else [])
            # A block of one token predicts nothing.
            blocks = [stream[i:i + max_length] for i in range(0, len(stream), max_length)]
            blocks = [b for b in blocks if len(b) > 1]
            return {"input_ids": blocks, "attention_mask": [[1] * len(b) for b in blocks], "labels": blocks}

        return cached_map(dataset, group, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")

    def _causal_pairs(self, dataset: Dataset, tokenizer, prompt_column: str, answer_column: str | None,
                      max_length: int, chat: bool) -> Dataset:
        """prompt (+ completion) ids; labels are -100 on the prompt so only the completion is learnt."""

        def encode(batch):
            prompts, answers = self._render(tokenizer, batch[prompt_column],
                                            batch[answer_column] if answer_column else None, chat)
            # Rendered chat text already holds its special tokens; a plain prompt gets the
            # tokenizer's (BOS for Llama), a plain completion gets an EOS so the model learns to stop.
            prompt_ids = tokenizer(prompts, add_special_tokens=not chat)["input_ids"]
            if answers is None:
                input_ids = [ids[-max_length:] for ids in prompt_ids]  # keep the end: it leads into the answer
                return {"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids]}
            answer_ids = tokenizer(answers, add_special_tokens=False)["input_ids"]
            if not chat and tokenizer.eos_token_id is not None:
                answer_ids = [ids + [tokenizer.eos_token_id] for ids in answer_ids]
            input_ids, labels = [], []
            for prompt, answer in zip(prompt_ids, answer_ids):
                prompt, answer = fit_pair(prompt, answer, max_length)
                input_ids.append(prompt + answer)
                labels.append([IGNORE] * len(prompt) + answer)
            return {"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids], "labels": labels}

        return cached_map(dataset, encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")

    @staticmethod
    def _render(tokenizer, prompts: list[str], answers: list[str] | None, chat: bool):
        """Texts to tokenize: with a chat template, the prompt rendered as the user turn plus the
        generation prompt, and the answer as the rest of the rendered conversation."""
        if not chat:
            return prompts, answers
        rendered_prompts, rendered_answers = [], []
        for i, prompt in enumerate(prompts):
            user = [{"role": "user", "content": prompt}]
            head = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
            rendered_prompts.append(head)
            if answers is not None:
                whole = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": answers[i]}],
                                                      tokenize=False)
                # Templates that rewrite earlier turns (rare) fall back to the bare answer + EOS.
                tail = whole[len(head):] if whole.startswith(head) else answers[i] + (tokenizer.eos_token or "")
                rendered_answers.append(tail)
        return rendered_prompts, (rendered_answers if answers is not None else None)

    @staticmethod
    def _seq2seq_pairs(dataset: Dataset, tokenizer, source_column: str, target_column: str | None,
                       max_length: int) -> Dataset:
        eos = tokenizer.eos_token_id

        def encode(batch):
            encoded = tokenizer(batch[source_column], truncation=True, max_length=max_length)
            if target_column:
                labels = tokenizer(text_target=batch[target_column])["input_ids"]
                # The decoder must learn to stop: end every target with EOS (most tokenizers add it).
                labels = [ids + [eos] if eos is not None and ids[-1:] != [eos] else ids for ids in labels]
                encoded["labels"] = [ids[:max_length - 1] + ids[-1:] if len(ids) > max_length else ids
                                     for ids in labels]
            return encoded

        return cached_map(dataset, encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")

    def collator(self, processor):
        ensure_pad_token(processor)
        return GenerationCollator(processor.pad_token_id)

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        from collections import Counter

        lengths = {field: [len(str(v or "").split()) for v in dataset[columns[field]]]
                   for field in LAYOUTS[self.layout_of(dataset, columns)] if columns[field] in dataset.column_names}
        return {"labels": Counter(), "lengths": lengths, "length_unit": "words"}

    # -- outputs -----------------------------------------------------------------------------

    def batch_outputs(self, model, batch):
        """With labels (evaluation): per-example token loss sums and counts, plus greedy
        generations for the paired layouts. Without (predict): generations with the sampling
        options."""
        if "labels" not in batch:
            return {"generated": self._generate(model, batch, sample=self.options.temperature > 0)}, None
        out = model(**batch)
        unwrapped = getattr(model, "module", model)
        shift = not getattr(unwrapped.config, "is_encoder_decoder", False)
        loss_sum, token_count = token_losses(out.logits, batch["labels"], shift)
        outputs = {"loss_sum": loss_sum, "token_count": token_count}
        # Text blocks have no prompt (every label is a token): nothing to generate from.
        prompted = shift and bool((batch["labels"][:, 0] == IGNORE).any())
        if not shift or prompted:
            outputs["generated"] = self._generate(model, batch, sample=False)
        return outputs, out.loss

    @torch.no_grad()
    def _generate(self, model, batch, sample: bool) -> torch.Tensor:
        """New token ids per row, -100 after the first EOS (and for padding)."""
        unwrapped = getattr(model, "module", model)  # DDP and friends have no .generate
        tokenizer = self.tokenizer
        config = copy.deepcopy(unwrapped.generation_config)
        config.update(max_new_tokens=self.options.max_new_tokens, do_sample=sample,
                      pad_token_id=tokenizer.pad_token_id)
        if sample:
            config.update(temperature=self.options.temperature, top_p=self.options.top_p)
        # Stop at the model's EOS ids and the tokenizer's (a chat model's end-of-turn token).
        configured = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
        eos_ids = sorted({tokenizer.eos_token_id, *configured} - {None})
        config.eos_token_id = eos_ids or None
        if getattr(unwrapped.config, "is_encoder_decoder", False):
            sequences = unwrapped.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                           generation_config=config)
            new_tokens = sequences[:, 1:]  # drop the decoder start token
        else:
            input_ids, attention_mask = left_padded_prompts(batch, tokenizer.pad_token_id)
            sequences = unwrapped.generate(input_ids=input_ids, attention_mask=attention_mask,
                                           generation_config=config)
            new_tokens = sequences[:, input_ids.shape[1]:]
        return mask_after_eos(new_tokens, eos_ids, tokenizer.pad_token_id)

    @staticmethod
    def _decode(ids: np.ndarray, data: EvalData) -> list[str]:
        return [data.processor.decode([int(t) for t in row if t >= 0], skip_special_tokens=True).strip()
                for row in ids]

    def compute_metrics(self, gathered: dict[str, np.ndarray], data: EvalData) -> dict[str, float]:
        tokens = float(gathered["token_count"].sum())
        mean_loss = float(gathered["loss_sum"].astype(np.float64).sum()) / tokens if tokens else float("nan")
        metrics = {"perplexity": float(np.exp(mean_loss))}
        if "generated" in gathered:
            layout = self.layout_of(data.examples, data.columns)
            references = list(data.examples[data.columns[LAYOUTS[layout][1]]])
            metrics.update(load_metric("rouge").compute(predictions=self._decode(gathered["generated"], data),
                                                        references=references))
        return metrics

    def format_predictions(self, gathered: dict[str, np.ndarray], data: EvalData) -> list[dict[str, Any]]:
        return [{"generated_text": text} for text in self._decode(gathered["generated"], data)]

    # -- the terminal ------------------------------------------------------------------------

    def input_row(self, text: str) -> dict[str, Any]:
        return {self.input_fields[0]: text}

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        field = next((f for f in LAYOUTS if f in record), self.input_fields[0])
        return {field: str(record.get(field, "")), "output": record["generated_text"]}


def fit_pair(prompt: list[int], answer: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """Cut prompt + answer to `max_length`: the answer keeps at least half the room (its start),
    the prompt keeps its end (the part that leads into the answer)."""
    if len(prompt) + len(answer) <= max_length:
        return prompt, answer
    answer = answer[:max(max_length - len(prompt), min(len(answer), max_length // 2))]
    return prompt[len(prompt) - (max_length - len(answer)):], answer


def left_padded_prompts(batch: dict[str, torch.Tensor], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The prompt part of each row (real tokens before the first label; all of them without
    labels), left-padded so that generation continues right after each prompt."""
    prompts = []
    for row, mask in enumerate(batch["attention_mask"].bool()):
        ids = batch["input_ids"][row][mask]
        if "labels" in batch:
            answer = (batch["labels"][row][mask] != IGNORE).nonzero()
            ids = ids[:int(answer[0])] if len(answer) else ids
        prompts.append(ids)
    input_ids, attention_mask = left_pad(prompts, pad_token_id)
    return input_ids.to(batch["input_ids"].device), attention_mask.to(batch["input_ids"].device)


def mask_after_eos(tokens: torch.Tensor, eos_ids: list[int], pad_token_id: int | None) -> torch.Tensor:
    """-100 from the first EOS on (generation pads finished rows), so decoding reads only the answer."""
    tokens = tokens.clone()
    stops = [*eos_ids, *([] if pad_token_id is None else [pad_token_id])]
    stop = torch.isin(tokens, torch.tensor(stops, dtype=tokens.dtype, device=tokens.device))
    tokens[stop.cumsum(-1) > 0] = IGNORE
    return tokens
