"""`ftcli prompt`: evaluate a pretrained model by in-context learning, with no weight update.

    rows to evaluate + a pool of demonstrations (never the evaluated rows)
      -> prompts: instruction, K solved demonstrations, the query (chat template if any)
      -> answers: rank the label words (causal LM), fill a [MASK] (encoder, cloze), or
         generate greedily up to a stop sequence and parse the text
      -> the task's metrics, as `ftcli evaluate` prints them
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate import PartialState
from transformers import StoppingCriteria, StoppingCriteriaList

from ftcli import assets
from ftcli.config import RunConfig, check_ranges
from ftcli.data.columns import check_columns, resolve_columns
from ftcli.data.sources import load_single, load_train_split
from ftcli.distributed import sharded, world_size
from ftcli.errors import UserError
from ftcli.models.loading import is_masked_lm_encoder, load_model, load_tokenizer, read_config
from ftcli.paths import check_huggingface_caches
from ftcli.precision import half_dtype, resolve_mixed_precision
from ftcli.progress import console, progress_bar, warn
from ftcli.prompting import stats
from ftcli.prompting.calibration import (CONTENT_FREE, answer_cue, blank_fields, calibrate, contextual_prior,
                                         resolve_method)
from ftcli.prompting.demos import draw, exclude_evaluated, most_similar, shuffled
from ftcli.prompting.formats import NerFormat, format_for, label_word
from ftcli.prompting.rank import RankRequest, encode, leading_special_tokens, rank_scores
from ftcli.tasks import get_task
from ftcli.batching import left_pad


ANSWER_FIELDS = ("label", "tags", "answers", "completion", "target", "id")
"""Row fields that hold the answer (or an id), not the input."""


@dataclass
class PromptRun:
    metrics: dict[str, float]
    records: list[dict[str, Any]]
    settings: dict[str, Any]
    by_calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    """With `compare_calibrations`: per method, the metrics and predicted-label counts, from the same scores."""


def run_prompt(config: RunConfig, data: str, demos: str | None, shots: int, limit: int | None,
               batch_size: int, compare_calibrations: tuple[str, ...] = ()) -> PromptRun:
    settings = config.prompt
    if shots < 0:
        raise UserError(f"--shots must be 0 or more, got {shots}")
    check_ranges(config)
    check_huggingface_caches()  # the metric is loaded after the model pass
    prompt_format = format_for(config.task)
    task = get_task(config.task)
    columns = resolve_columns(task.fields, config.data.columns, task.name)

    dataset, where = load_single(data)
    if limit is not None:
        dataset = dataset.select(range(min(limit, dataset.num_rows)))
    check_columns(dataset, columns, task.required_for(dataset, columns), where)
    rows = canonical_rows(dataset, columns)
    pool: list[dict] = []
    if shots > 0:
        source = demos or (data if data in assets.DATASETS else None)
        if source is None:
            raise UserError(f"--shots {shots} needs demonstrations: give --demos DATA (a file or alias)")
        pool_dataset = load_train_split(source)
        check_columns(pool_dataset, columns, task.required_for(pool_dataset, columns), f"demos {source}")
        pool = exclude_evaluated(canonical_rows(pool_dataset, columns), rows, row_key)
        if len(pool) < shots:
            raise UserError(f"demos {source} has {len(pool)} usable rows (evaluated rows excluded); "
                            f"--shots {shots} needs at least that many")
    if isinstance(prompt_format, NerFormat):
        prompt_format.types = frozenset(tag[2:] for r in rows + pool for tag in r["tags"] if tag != "O")

    checkpoint = assets.resolve_model(config.model.name)
    model_config = read_config(checkpoint, config.model.trust_remote_code)
    scoring = "cloze" if is_masked_lm_encoder(model_config) else prompt_format.scoring
    if scoring == "cloze" and prompt_format.scoring != "rank":
        raise UserError(f"{config.model.name} is an encoder: it answers {config.task} prompts only by filling "
                        "a [MASK] for classification or nli; use a causal LM (e.g. --model smollm2)")
    tokenizer = load_tokenizer(checkpoint, config.model.trust_remote_code)
    auto_class = "AutoModelForMaskedLM" if scoring == "cloze" else "AutoModelForCausalLM"
    model = load_model(checkpoint, auto_class, config.model.trust_remote_code).eval()
    untrained = getattr(model, "ftcli_new_weights", [])
    if untrained:
        warn(f"{config.model.name} has no trained {auto_class.removeprefix('AutoModelFor')} "
             f"head ({len(untrained)} weights, e.g. {untrained[0]}, start random); its answers are "
             "close to chance")
    # Each process of a launched job scores its share of the prompts (`sharded`), on its own device.
    device = PartialState().device if world_size() > 1 else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision, why = resolve_mixed_precision(config.train.mixed_precision)
    if precision == "fp16" and device.type != "cuda":
        raise UserError("--mixed-precision fp16 needs a GPU; on a CPU use bf16 or no")
    # Inference only: the weights themselves in half precision (scores are read in float32).
    model.to(device, dtype=half_dtype(precision) or torch.float32)

    demos_per_row = choose_demonstrations(pool, rows, shots, settings, config.train.seed)
    chat = settings.chat_template and bool(getattr(tokenizer, "chat_template", None)) and scoring != "cloze"
    prompts = [render(prompt_format, settings, row, row_demos, tokenizer, chat, scoring)
               for row, row_demos in zip(rows, demos_per_row)]
    prompt_texts = [p.prefix + p.query for p in prompts]

    console.print(f"[bold]{task.name}[/] in-context on [bold]{config.model.name}[/]: {len(rows)} rows from {where}, "
                  f"{shots} shot(s), scoring: {scoring}{', chat template' if chat else ''}; "
                  f"precision: {'float32' if precision == 'no' else precision} ({why})")
    start = time.perf_counter()
    calibration, by_calibration = None, {}
    if scoring == "generate":
        texts = sharded(lambda part: generate(model, tokenizer, part, settings, batch_size, device), prompt_texts)
        predictions = [prompt_format.parse(text, row, settings) for text, row in zip(texts, rows)]
        outputs = [{"generated": text} for text in texts]
    else:
        labels = label_set(rows, pool, settings)
        method = resolve_method(settings.calibrate, shots)
        methods = list(dict.fromkeys([method, *compare_calibrations]))
        raw, priors, groups = label_scores(model, tokenizer, prompt_format, settings, rows, demos_per_row, prompts,
                                           labels, chat, scoring, methods, batch_size, device)
        by_calibration = {method: predict_labels(raw, priors.get(method), groups, labels, method) for method in methods}
        calibrated, predictions = by_calibration[method]
        outputs = [{"scores": rounded(labels, row), **({"calibrated": rounded(labels, fixed)} if method != "none" else {})}
                   for row, fixed in zip(raw, calibrated)]
        calibration = {**describe_prior(method, priors.get(method), labels), "setting": settings.calibrate}
    seconds = time.perf_counter() - start
    metrics = prompt_format.metrics(predictions, rows, settings)
    metrics.update({"eval_rows": len(rows), "seconds": round(seconds, 3)})
    records = [{"prompt": text, **out, "prediction": prediction, "gold": gold(prompt_format, row, settings)}
               for text, out, prediction, row in zip(prompt_texts, outputs, predictions, rows)]
    described = {"model": config.model.name, "task": config.task, "data": data, "shots": shots,
                 "demo_seed": config.train.seed, "demos": demos or (data if shots else None),
                 "scoring": scoring + (" (length-normalised)" if settings.length_normalize and scoring == "rank" else ""),
                 "chat_template": chat, "template": asdict(settings), "mixed_precision": precision,
                 "mixed_precision_reason": why}
    if calibration is not None:
        described["calibration"] = calibration
        described["distributions"] = {"predicted": stats.distribution(predictions),
                                      "gold": stats.distribution([row["label"] for row in rows])}
        label, share = stats.dominant_share(predictions)
        if share > stats.SKEW_WARNING:
            warn(f"{share:.0%} of the predictions are {label!r}: the model barely "
                 "tells the labels apart (try prompt.calibrate, other label words or more shots)")
    comparisons = {method: {"metrics": prompt_format.metrics(method_predictions, rows, settings),
                            "predicted": stats.distribution(method_predictions)}
                   for method, (_, method_predictions) in by_calibration.items() if method in compare_calibrations}
    return PromptRun(metrics=metrics, records=records, settings=described, by_calibration=comparisons)


# -- rows and prompts ------------------------------------------------------------------------------


def canonical_rows(dataset, columns: dict[str, str]) -> list[dict]:
    """Rows keyed by the task's field names (the template's placeholders)."""
    present = {field: column for field, column in columns.items() if column in dataset.column_names}
    return [{field: row[column] for field, column in present.items()} for row in dataset]


def label_of(row: dict) -> Any:
    """What balanced demonstrations take turns over (None for tasks without labels)."""
    return row.get("label")


def row_key(row: dict) -> str:
    """What identifies a row's input (everything but its answer)."""
    return repr(sorted((k, repr(v)) for k, v in row.items() if k not in ANSWER_FIELDS))


def input_text(row: dict) -> str:
    """A row's input as one text (what similar demonstrations are matched on)."""
    return " ".join(str(v) for k, v in row.items() if k not in ANSWER_FIELDS)


def choose_demonstrations(pool: list[dict], rows: list[dict], shots: int, settings, seed: int) -> list[list[dict]]:
    """Each row's demonstrations: one seeded draw for all rows (class-balanced by default), new
    draws per row (`resample`) or each row's most similar pool rows (`select=similar`); then,
    with `order=shuffled`, put in a seeded order per row."""
    if shots <= 0:
        return [[] for _ in rows]
    if settings.select == "similar":
        per_row = most_similar(pool, rows, shots, input_text, row_key, label_of, settings.balanced)
    elif settings.resample:
        per_row = [draw(pool, shots, random.Random(seed * 100_003 + i), label_of=label_of, balanced=settings.balanced,
                        exclude=row_key(row), key=row_key) for i, row in enumerate(rows)]
    else:
        fixed = draw(pool, shots, random.Random(seed), label_of=label_of, balanced=settings.balanced)
        per_row = [fixed] * len(rows)
    if settings.order == "shuffled":
        per_row = [shuffled(demos, random.Random(f"order-{seed}-{i}")) for i, demos in enumerate(per_row)]
    return per_row


def label_scores(model, tokenizer, prompt_format, settings, rows, demos_per_row, prompts, labels, chat: bool,
                 scoring: str, methods: list[str], batch_size: int, device):
    """Every row's raw score per label, and per calibration method the prior of each distinct
    set of demonstrations (`groups[i]` says which is row i's). The reference prompts (content-free
    inputs, the answer cue) share the demonstrations, so they run with the rows' cached prefix."""
    words = [label_word(settings, label) for label in labels]
    candidates = [answer_text(settings, word, chat) for word in words]
    check_distinct(tokenizer, candidates if scoring == "rank" else words)
    groups, representatives, group_of = [], [], {}
    for i, demos in enumerate(demos_per_row):
        key = tuple(map(id, demos))  # the same rows in the same order
        if key not in group_of:
            group_of[key] = len(representatives)
            representatives.append(i)
        groups.append(group_of[key])
    references: dict[str, list[list[RankRequest]]] = {}
    for method in methods:
        if method == "none":
            continue
        per_group = []
        for i in representatives:
            if method == "pmi" and scoring == "rank":  # the answer cue alone after the demonstrations
                cue = answer_cue(settings.query)
                per_group.append([render(prompt_format, settings, rows[i], demos_per_row[i], tokenizer, chat, scoring,
                                         query_template=cue)])
            else:  # content-free inputs ("[MASK]" would fill the cloze slot itself)
                fillers = [f for f in CONTENT_FREE if scoring == "rank" or f != "[MASK]"]
                per_group.append([render(prompt_format, settings, blank_fields(rows[i], f, keep=ANSWER_FIELDS),
                                         demos_per_row[i], tokenizer, chat, scoring) for f in fillers])
            # A template that is only "{text}" leaves nothing to score for the empty filler.
            per_group[-1] = [request for request in per_group[-1] if request.query.strip()]
            if not per_group[-1]:
                raise UserError(f"prompt.calibrate={method} needs a query template with text around the input "
                                f"(got {settings.query!r}); set prompt.calibrate=none")
        references[method] = per_group
    extra = [request for per_group in references.values() for group in per_group for request in group]
    everything = list(prompts) + extra
    if scoring == "rank":
        scores = sharded(lambda part: rank_scores(model, tokenizer, part, candidates, batch_size), everything)
        if settings.length_normalize:
            lengths = [len(encode(tokenizer, c)) for c in candidates]
            scores = [[s / n for s, n in zip(row, lengths)] for row in scores]
    else:
        scores = sharded(lambda part: cloze_scores(model, tokenizer, part, words, batch_size, device),
                         [p.prefix + p.query for p in everything])
    raw, rest = scores[:len(prompts)], iter(scores[len(prompts):])
    priors: dict[str, list[list[float]]] = {}
    for method, per_group in references.items():
        group_scores = [[next(rest) for _ in group] for group in per_group]
        priors[method] = [contextual_prior(g) if method == "contextual" else g[0] for g in group_scores]
    return raw, priors, groups


def predict_labels(raw: list[list[float]], priors: list[list[float]] | None, groups: list[int], labels: list,
                   method: str) -> tuple[list[list[float]], list]:
    """The calibrated scores and the label each row's highest score names."""
    calibrated = [calibrate(row, method, priors[group] if priors else None) for row, group in zip(raw, groups)]
    return calibrated, [labels[max(range(len(labels)), key=row.__getitem__)] for row in calibrated]


def rounded(labels: list, scores: list[float]) -> dict[str, float]:
    return {str(label): round(score, 6) for label, score in zip(labels, scores)}


def check_distinct(tokenizer, candidates: list[str]) -> None:
    """Two labels whose answers encode to the same tokens cannot be told apart."""
    seen: dict[tuple, str] = {}
    for candidate in candidates:
        ids = tuple(encode(tokenizer, candidate))
        if ids in seen:
            raise UserError(f"label words {seen[ids].strip()!r} and {candidate.strip()!r} encode to the same tokens; "
                            "give distinct ones with --set prompt.label_words.LABEL=WORD")
        seen[ids] = candidate


def describe_prior(method: str, priors: list[list[float]] | None, labels: list) -> dict:
    """What `--output` records about calibration: the method and the prior it estimated (the mean
    over the distinct demonstration sets when there are several)."""
    described: dict[str, Any] = {"method": method}
    if priors:
        mean = [sum(column) / len(priors) for column in zip(*priors)]
        kind = "probability" if method == "contextual" else "log-likelihood of the label after the answer cue"
        described.update({"prior": {str(label): round(v, 6) for label, v in zip(labels, mean)}, "prior_is": kind,
                          "demonstration_sets": len(priors)})
    return described


class _FieldsOnly(string.Formatter):
    """str.format that fills named fields only: `{text.__class__}` or `{text[0]}` would reach into
    Python objects from a template a user (or a shared recipe) wrote."""

    def get_field(self, field_name, args, kwargs):
        if not field_name.isidentifier():
            raise UserError(f"the prompt template field {{{field_name}}} is not a plain name; a template names "
                            "fields only, like {text}")
        return super().get_field(field_name, args, kwargs)


def fill(template: str, **fields) -> str:
    try:
        return _FieldsOnly().vformat(template, (), fields)
    except (ValueError, IndexError) as err:
        raise UserError(f"the prompt template {template[:60]!r} is not a valid template ({err})") from None


def answer_text(settings, answer: str, chat: bool) -> str:
    text = fill(settings.answer, answer=answer)
    return text.lstrip() if chat else text  # the assistant turn starts fresh


def render(prompt_format, settings, row: dict, demos: list[dict], tokenizer, chat: bool, scoring: str,
           query_template: str | None = None) -> RankRequest:
    """The prompt split into the part every query shares (instruction, demonstrations, chat
    header) and the query's own part (`query_template`, when given, replaces the template for the
    query only)."""
    template = settings.cloze if scoring == "cloze" else settings.query
    mask = getattr(tokenizer, "mask_token", None) or "[MASK]"

    def query_of(example: dict, own_template: str = template) -> str:
        try:
            return fill(own_template, **prompt_format.fields(example), mask=mask)
        except KeyError as err:
            raise UserError(f"the prompt template names {err} but the rows have "
                            f"{', '.join(prompt_format.fields(example))}; fix --set prompt.query") from None

    def demo_text(example: dict) -> str:
        answer = prompt_format.gold_text(example, settings)
        if scoring == "cloze":  # the demonstration fills its own slot
            return fill(template, **prompt_format.fields(example), mask=answer)
        return query_of(example) + fill(settings.answer, answer=answer)

    shown = [demo_text(d) for d in demos]
    instruction = prompt_format.instruction(settings)
    prefix = "".join(part + settings.separator for part in ([instruction] if instruction else []) + shown)
    query = query_of(row, query_template or template)
    if not chat:
        return RankRequest(prefix, query)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": prefix + query}], tokenize=False,
                                             add_generation_prompt=True)
    at = rendered.rfind(query) if query else len(rendered)
    if at < 0:  # a template that rewrites the text: no shared part
        return RankRequest("", rendered)
    return RankRequest(rendered[:at], rendered[at:])


def label_set(rows: list[dict], pool: list[dict], settings) -> list:
    labels = {r["label"] for r in rows + pool if "label" in r}
    labels |= set(settings.label_words) if settings.label_words else set()
    return sorted(labels, key=str)


def gold(prompt_format, row: dict, settings) -> Any:
    if "label" in row:
        return row["label"]
    if "answers" in row:
        return list(row["answers"]["text"])
    if "tags" in row:
        return list(row["tags"])
    return prompt_format.gold_text(row, settings)


# -- answering by generating and by filling a mask -------------------------------------------------


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], settings, batch_size: int, device) -> list[str]:
    """Greedy continuations, cut at the stop sequence."""
    start = leading_special_tokens(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    texts = []
    with progress_bar(None, "Generating", total=-(-len(prompts) // batch_size)) as bar:
        for begin in range(0, len(prompts), batch_size):
            input_ids, mask = left_pad([start + encode(tokenizer, p) for p in prompts[begin:begin + batch_size]], pad)
            longest = input_ids.size(1)
            stopping = StoppingCriteriaList([StopOnText(tokenizer, settings.stop, longest)]) if settings.stop else None
            out = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device), do_sample=False,
                                 max_new_tokens=settings.max_new_tokens, pad_token_id=pad, stopping_criteria=stopping)
            for row in out[:, longest:]:
                text = tokenizer.decode(row, skip_special_tokens=True)
                texts.append(text.split(settings.stop)[0] if settings.stop else text)
            bar.advance()
    return texts


class StopOnText(StoppingCriteria):
    """Ends each row once its generated text contains the stop sequence (decoded text, so it
    works whatever the tokenizer makes of the stop string)."""

    def __init__(self, tokenizer, stop: str, prompt_length: int):
        self.tokenizer, self.stop, self.prompt_length = tokenizer, stop, prompt_length

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:], skip_special_tokens=True)
        return torch.tensor([self.stop in text for text in texts], device=input_ids.device)


@torch.no_grad()
def cloze_scores(model, tokenizer, prompts: list[str], words: list[str], batch_size: int, device) -> list[list[float]]:
    """The masked LM's log-probability of each label word at the (first) mask position."""
    if tokenizer.mask_token_id is None:
        raise UserError("this model's tokenizer has no mask token; cloze scoring needs a masked LM")
    word_ids = []
    for word in words:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise UserError(f"label word {word!r} is {len(ids)} tokens for this tokenizer; cloze scoring needs "
                            "single-token words (set them with --set prompt.label_words.LABEL=WORD)")
        word_ids.append(ids[0])
    scores = []
    with progress_bar(None, "Scoring", total=-(-len(prompts) // batch_size)) as bar:
        for begin in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[begin:begin + batch_size], padding=True, truncation=True, return_tensors="pt")
            positions = (batch["input_ids"] == tokenizer.mask_token_id).int().argmax(-1)
            if not (batch["input_ids"] == tokenizer.mask_token_id).any(-1).all():
                raise UserError("a cloze prompt has no mask slot (after truncation); put {mask} in prompt.cloze")
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
            picked = logits[torch.arange(len(positions)), positions.to(device)].log_softmax(-1)
            scores.extend(picked[:, word_ids].tolist())
            bar.advance()
    return scores
