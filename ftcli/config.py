"""Typed run configuration: dataclasses, YAML recipes and `--set a.b=value` overrides.

Resolution order (later wins): dataclass defaults < recipe file < `--set` < explicit flags
such as `--lr`. Unknown keys and values of the wrong type are user errors, never ignored.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ftcli.errors import UserError

MixedPrecision = Literal["auto", "no", "bf16", "fp16"]


@dataclass
class ModelConfig:
    name: str = "minilm"
    """Catalogue alias (`ftcli models ls`), local checkpoint directory, or Hub id (online)."""
    max_length: int = 128
    """Longest tokenized input; longer inputs are truncated."""
    trust_remote_code: bool = False
    """Run code shipped with a Hub checkpoint. Off unless you trust its author."""


@dataclass
class DataConfig:
    train: str = "rt-sentiment"
    """Training data: a file (csv, tsv, jsonl, json, parquet) or a catalogue alias."""
    eval: str | None = None
    """Test data, scored once with the kept model. Default: the alias's test split, or a
    held-out fraction of a file (`eval_fraction`)."""
    validation: str | None = None
    """Validation data: chooses the best epoch and drives early stopping. Default: a seeded
    `validation_fraction` of the training rows, or none (the last epoch is kept)."""
    columns: dict[str, str] = field(default_factory=dict)
    """Map a task field to a column name, e.g. {text: review, label: sentiment}."""
    eval_fraction: float = 0.1
    """Share of a plain training file held out for testing when no eval data is given."""
    validation_fraction: float = 0.0
    """Share of the training rows held out (seeded) to choose the best epoch when no validation
    data is given; 0 = no validation split: the last epoch is kept, as the Trainer does."""
    limit_train: int | None = None
    """Use only the first N training rows (after shuffling with the seed)."""
    limit_eval: int | None = None
    """Use only the first N evaluation rows."""


@dataclass
class OptimConfig:
    lr: float = 5e-5
    """Peak learning rate of the pretrained body."""
    head_lr: float | None = None
    """Learning rate of the newly initialised head; None means the same as `lr`."""
    weight_decay: float = 0.0
    """AdamW weight decay; never applied to biases and LayerNorm weights."""
    warmup_ratio: float = 0.0
    """Fraction of the optimizer steps spent warming the learning rate up from 0."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this value (0 disables clipping)."""
    layer_decay: float = 1.0
    """Layer-wise learning-rate decay: layer l of L gets lr * layer_decay ** (L - l) (embeddings
    l = 0, the head L + 1 keeps its own rate); 1.0 = every layer gets `lr`."""
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8


@dataclass
class TrainConfig:
    epochs: int = 2
    """Passes over the training data."""
    batch_size: int = 32
    """Examples per device per forward pass."""
    eval_batch_size: int = 64
    """Examples per device per evaluation forward pass."""
    grad_accum_steps: int = 1
    """Forward passes accumulated into one optimizer step."""
    mixed_precision: MixedPrecision = "auto"
    """'auto': bf16 where the hardware runs it fast (a CUDA GPU with bf16, a CPU with AMX or
    AVX-512 BF16), float32 elsewhere; 'no', 'bf16' and 'fp16' force a choice."""
    seed: int = 42
    """Seeds data shuffling, head initialisation, dropout and held-out splits."""
    logging_steps: int = 20
    """Write a line to log.jsonl every N optimizer steps."""
    save_checkpoint: bool = True
    """Save the training state in checkpoints/ (every `save_every` steps and at each epoch end)
    so `--resume` can continue an interrupted run."""
    save_every: int = 500
    """Also checkpoint every N optimizer steps inside an epoch (0 = at epoch ends only)."""
    keep_checkpoints: int = 0
    """Checkpoints left in checkpoints/ once the run has finished (the newest N; 0 removes the folder,
    the model being in model/). While it runs, the newest max(N, 1) are kept for --resume."""
    report_to: Literal["none", "tensorboard", "wandb", "mlflow"] = "none"
    """Also send the logged losses and metrics to an experiment tracker, through accelerate's
    trackers (tensorboard writes event files to the run's logs/; wandb and mlflow when installed)."""
    early_stopping_patience: int | None = None
    """Stop after N evaluations without improvement of the validation metric (needs a validation
    split); None = train every epoch."""
    nan_policy: Literal["stop", "skip"] = "stop"
    """A NaN or infinite loss: 'stop' the run (the last good checkpoint stays; noticed at the next
    logging step or checkpoint), or 'skip' that batch's update (checked every step)."""
    group_by_length: bool | Literal["auto"] = False
    """Batch training rows of similar length together (shuffled mega-batches sorted by length): a
    little faster, but it trades accuracy, so it is off by default (the Trainer's default too).
    Rows of one length are often near-duplicates (one premise with its hypotheses, one template),
    so grouped batches are far less varied than random ones: it cost 4 accuracy points on an NLI
    set and 5 entity-F1 points on wnut16. auto: the former default, on where the loss is a mean
    over rows (classification, NLI, QA, images), off where it is a mean over tokens."""
    compile: bool = False
    """Run the model through torch.compile (pays off on long runs; the first steps compile)."""
    dataloader_workers: int = 0
    """Worker processes that collate batches (0: in the training process, best for tokenized text)."""


@dataclass
class TaskOptions:
    """Settings that only some tasks read; the others ignore them."""

    label_all_subtokens: bool = False
    """NER: label every sub-token of a word (default: only the first; the rest get -100)."""
    doc_stride: int | None = None
    """QA: tokens shared by consecutive windows of a long context (must leave room for the context);
    None: a third of model.max_length (128 at 384, as in transformers' QA example)."""
    max_answer_length: int = 30
    """QA: longest answer span, in tokens."""
    n_best: int = 20
    """QA: start and end candidates considered per window."""
    null_answers: Literal["auto", "yes", "no"] = "auto"
    """QA: may an answer be "no answer" (SQuAD v2)? auto: yes when the training data holds an
    unanswerable question (decided when training starts and stored in the run's config), or,
    when evaluating a model ftcli did not train, when the evaluation data holds one."""
    null_score_threshold: float = 0.0
    """QA: answer "no answer" when the null score beats the best span by more than this."""
    max_new_tokens: int = 64
    """Generation: tokens generated per prompt when scoring ROUGE-L or predicting."""
    temperature: float = 0.0
    """Generation: 0 = greedy decoding; above 0 samples."""
    top_p: float = 1.0
    """Generation: nucleus sampling mass (with temperature > 0)."""
    image_size: int | None = None
    """Image classification: resize to this square size (default: the processor's)."""


@dataclass
class FullConfig:
    """Strategy `full`: which pretrained weights stay fixed, and GPT-1's auxiliary LM loss."""

    freeze_embeddings: bool = False
    """Keep the (token, position, segment) embeddings fixed."""
    freeze_layers: int = 0
    """Keep the first N transformer layers fixed."""
    lm_loss_weight: float = 0.0
    """Decoder models on classification/NLI: add this weight x the language-modelling loss on
    the input (GPT-1 used 0.5); 0 = off."""


@dataclass
class PretrainConfig:
    """`ftcli pretrain OBJECTIVE`: how unlabelled text is turned into training examples."""

    mlm_probability: float = 0.15
    """Share of the (non-special, non-padding) tokens chosen for masked-language modelling."""
    mask_replace: float = 0.8
    """Of the chosen tokens, the share replaced by [MASK] (BERT: 80%)."""
    random_replace: float = 0.1
    """Of the chosen tokens, the share replaced by a random token (BERT: 10%; the rest stay)."""
    whole_word_mask: bool = False
    """Choose whole words: every sub-token of a chosen word is masked."""
    nsp_probability: float = 0.5
    """mlm+nsp: the share of pairs whose second segment comes from another document."""
    sop_probability: float = 0.5
    """sop: the share of pairs whose two consecutive segments are swapped."""
    discriminator_weight: float = 50.0
    """rtd: the replaced-token-detection loss weight beside the generator's MLM loss (ELECTRA: 50)."""
    generator_size: float = 0.25
    """rtd: the generator's hidden size as a fraction of the discriminator's (ELECTRA: 1/4 to 1/3)."""


@dataclass
class DistillConfig:
    """`ftcli distill`: what the student learns from the teacher."""

    teacher: str | None = None
    """The teacher: a run directory, its model/ folder, or a checkpoint with the task's head."""
    method: Literal["soft-targets", "tinybert"] = "soft-targets"
    """soft-targets (DistilBERT: KL to the teacher's softened outputs + hard labels [+ cosine on
    hidden states]) or tinybert (also MSE on intermediate hidden states and attention maps)."""
    temperature: float = 2.0
    """Softens both output distributions in the KL term (the loss is scaled by T^2)."""
    alpha: float = 0.5
    """Weight of the soft-target loss; the hard-label loss gets 1 - alpha."""
    cosine_weight: float = 0.0
    """Weight of the cosine loss between the student's and teacher's last hidden states (DistilBERT
    used it; 0 = off). soft-targets needs equal hidden sizes; tinybert compares after its projection."""
    hidden_weight: float = 1.0
    """tinybert: weight of the hidden-state and attention MSE losses (each summed over the mapped layers)."""
    init_from_teacher: Literal["none", "every-other-layer"] = "none"
    """Build the student from the teacher: keep every other layer (no --student needed)."""


@dataclass
class FeatureConfig:
    """Strategy `feature-extraction`: what the frozen body hands the new head."""

    pooling: Literal["cls", "mean", "pooler"] = "cls"
    """Sequence tasks: the first ([CLS]) token's vector, the mask-weighted mean of all tokens, or
    the model's pooler output (BERT's tanh layer over [CLS])."""
    layers: Literal["last", "sum4", "concat4"] = "last"
    """Which hidden states: the last layer, the sum of the last four, or their concatenation."""
    head: Literal["linear", "mlp"] = "linear"
    """The new head: one linear layer, or Linear-GELU-Dropout-Linear."""
    mlp_hidden: int = 256
    """Width of the MLP head's hidden layer."""
    dropout: float = 0.1
    """Dropout on the features before the head."""
    cache: bool = True
    """Compute the features once and train on the cached tensors (False: run the frozen body on
    every batch of every epoch; same result, slower)."""


@dataclass
class PeftSettings:
    """Strategies `prompt-tuning` and `lora` (peft)."""

    num_virtual_tokens: int = 20
    """Prompt tuning: soft-prompt vectors prepended to every input."""
    prompt_init: Literal["random", "text"] = "random"
    """Prompt tuning: random vectors, or the embeddings of `prompt_init_text`."""
    prompt_init_text: str | None = None
    """Prompt tuning: the text whose token embeddings start the prompt (prompt_init: text)."""
    lora_r: int = 8
    """LoRA: rank of the update matrices."""
    lora_alpha: int = 16
    """LoRA: scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.1
    """LoRA: dropout on the adapter's input."""
    target_modules: str | None = None
    """LoRA: comma-separated module names to adapt, e.g. "query,value"; default: peft's choice
    for the architecture (attention query and value projections)."""


@dataclass
class PromptSettings:
    """`ftcli prompt` (in-context learning): the template and how answers are read."""

    instruction: str = ""
    """Text before the demonstrations (NER: {types} lists the entity types)."""
    query: str = "{text}"
    """One example's input. Placeholders are the task's fields: {text}; {premise}, {hypothesis};
    {question}, {context}; {sentence} (NER tokens joined); {prompt} or {source}."""
    answer: str = " {answer}"
    """Follows the query: demonstrations show their answer here, the model gives its own."""
    separator: str = "\n\n"
    """After the instruction and after each demonstration."""
    label_words: dict[str, str] = field(default_factory=dict)
    """Classification / NLI verbalizer, label -> word; unlisted labels stand for themselves."""
    cloze: str = "{text} It was {mask}."
    """Encoders (masked LMs): the template whose {mask} slot each label word fills."""
    chat_template: bool = True
    """Wrap the prompt in the tokenizer's chat template when it has one."""
    length_normalize: bool = False
    """Rank classification: divide each candidate's log-likelihood by its token count."""
    calibrate: Literal["auto", "none", "contextual", "pmi"] = "auto"
    """Classification / NLI: correct the label words' prior. contextual: divide by the label
    distribution on content-free inputs ("N/A", "[MASK]", ""); pmi: subtract each label's
    log-likelihood after the answer cue alone; none: raw scores; auto: contextual with
    demonstrations, none at 0 shots (what measured best on held-out training rows)."""
    balanced: bool = True
    """Demonstrations take turns over the labels (at least one per label when shots >= labels)."""
    select: Literal["random", "similar"] = "random"
    """Which demonstrations: drawn at random with the seed, or each query's most similar
    training rows (TF-IDF bag of words)."""
    order: Literal["shuffled", "fixed"] = "shuffled"
    """The demonstrations' order: shuffled per query with the seed, or the same for every query."""
    resample: bool = False
    """Draw new random demonstrations for every query (default: the same set for all)."""
    max_new_tokens: int = 32
    """Generated answers (QA, NER, generation): the most tokens written."""
    stop: str = "\n"
    """Generated answers end at this text."""
    no_answer: str = "unknown"
    """QA: the word meaning "no answer" (NER: "none")."""
    span_from_context: bool = True
    """QA: replace a generated answer by the context span that matches it best (word-overlap F1)."""


@dataclass
class RunConfig:
    task: str = "classification"
    """Downstream task: classification, nli, ner, qa, generation, image-classification."""
    strategy: str = "full"
    """How pretrained weights are reused: full, feature-extraction, prompt-tuning, lora
    (in-context: `ftcli prompt`)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    options: TaskOptions = field(default_factory=TaskOptions)
    full: FullConfig = field(default_factory=FullConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    peft: PeftSettings = field(default_factory=PeftSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    output_dir: str | None = None
    """Run directory. Default: runs/<task>-<strategy>-<model>-<timestamp>."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# Ranges of the numeric settings, checked before anything is loaded or created. Interval
# notation: "[1, inf)" is at least 1, "(0, 1)" strictly between 0 and 1. None is always allowed
# for optional settings.

RANGES: dict[str, str] = {
    "model.max_length": "[1, inf)",
    "data.eval_fraction": "(0, 1)",
    "data.validation_fraction": "[0, 1)",
    "data.limit_train": "[1, inf)",
    "data.limit_eval": "[1, inf)",
    "optim.lr": "(0, inf)",
    "optim.head_lr": "(0, inf)",
    "optim.weight_decay": "[0, inf)",
    "optim.warmup_ratio": "[0, 1)",
    "optim.max_grad_norm": "[0, inf)",
    "optim.layer_decay": "(0, 1]",
    "optim.adam_beta1": "[0, 1)",
    "optim.adam_beta2": "[0, 1)",
    "optim.adam_epsilon": "(0, inf)",
    "train.epochs": "[1, inf)",
    "train.seed": "[0, 4294967295]",  # numpy's and the data shuffles' seeds are 32-bit
    "train.batch_size": "[1, inf)",
    "train.eval_batch_size": "[1, inf)",
    "train.grad_accum_steps": "[1, inf)",
    "train.logging_steps": "[1, inf)",
    "train.dataloader_workers": "[0, inf)",
    "train.save_every": "[0, inf)",
    "train.keep_checkpoints": "[0, inf)",
    "train.early_stopping_patience": "[1, inf)",
    "options.doc_stride": "[0, inf)",
    "options.max_answer_length": "[1, inf)",
    "options.n_best": "[1, inf)",
    "options.max_new_tokens": "[1, inf)",
    "options.temperature": "[0, inf)",
    "options.top_p": "(0, 1]",
    "options.image_size": "[1, inf)",
    "full.freeze_layers": "[0, inf)",
    "full.lm_loss_weight": "[0, inf)",
    "features.mlp_hidden": "[1, inf)",
    "features.dropout": "[0, 1)",
    "peft.num_virtual_tokens": "[1, inf)",
    "peft.lora_r": "[1, inf)",
    "peft.lora_alpha": "(0, inf)",
    "peft.lora_dropout": "[0, 1)",
    "prompt.max_new_tokens": "[1, inf)",
    "pretrain.mlm_probability": "(0, 1)",
    "pretrain.mask_replace": "[0, 1]",
    "pretrain.random_replace": "[0, 1]",
    "pretrain.nsp_probability": "[0, 1]",
    "pretrain.sop_probability": "[0, 1]",
    "pretrain.discriminator_weight": "(0, inf)",
    "pretrain.generator_size": "(0, 1]",
    "distill.temperature": "(0, inf)",
    "distill.alpha": "[0, 1]",
    "distill.cosine_weight": "[0, inf)",
    "distill.hidden_weight": "[0, inf)",
}

_FLAGS = {"model.max_length": "--max-length", "train.epochs": "--epochs", "train.batch_size": "--batch-size",
          "optim.lr": "--lr", "optim.head_lr": "--head-lr", "data.limit_train": "--limit-train",
          "data.limit_eval": "--limit-eval", "train.seed": "--seed"}


def in_range(value: float, interval: str) -> bool:
    low, high = (part.strip() for part in interval[1:-1].split(","))
    low_ok = value >= float(low) if interval[0] == "[" else value > float(low)
    high_ok = value <= float(high) if interval[-1] == "]" else value < float(high)
    return low_ok and high_ok


def check_ranges(config: RunConfig) -> None:
    """Raise UserError for the first numeric setting outside its range (see RANGES)."""
    for key, interval in RANGES.items():
        section, name = _field_at(config, key)
        value = getattr(section, name)
        if value is None:
            continue
        finite = not isinstance(value, float) or math.isfinite(value)  # ints of any size are finite
        if not finite or not in_range(value, interval):
            flag = _FLAGS.get(key)
            shown = f"{flag} ({key})" if flag else key
            raise UserError(f"{shown} must be {'' if finite else 'a finite number '}{_describe(interval)}, got {value}")


def _describe(interval: str) -> str:
    low, high = (part.strip() for part in interval[1:-1].split(","))
    if high == "inf":
        return f"{'at least' if interval[0] == '[' else 'greater than'} {low}"
    return f"in the interval {interval}"


# ---------------------------------------------------------------------------------------------
# Typed assignment


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Return `value` converted to `annotation`, or raise UserError naming `key`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except UserError as err:
                errors.append(err)
        raise errors[0]
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise UserError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{key} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, typing.get_args(annotation)[1], f"{key}.{k}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{key} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UserError(f"{key} must be an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UserError(f"{key} must be a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{key} must be a string, got {value!r}")
    raise TypeError(f"unsupported config type {annotation!r} for {key}")


def _field_types(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def set_value(config: RunConfig, dotted_key: str, value: Any) -> None:
    """Assign `value` at `a.b.c`, checking that the key exists and the type fits."""
    parts = dotted_key.split(".")
    target: Any = config
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(target, dict):
            # Free-form mappings (data.columns) take any key, with string values.
            if not last:
                raise UserError(f"unknown config key '{dotted_key}': {here} is a string")
            target[part] = _coerce(value, str, dotted_key)
            return
        hints = _field_types(target)
        if part not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(target))
            raise UserError(f"unknown config key '{here}' (known here: {known})")
        if last:
            current = getattr(target, part)
            if dataclasses.is_dataclass(current):
                if not isinstance(value, dict):
                    raise UserError(f"{here} is a section; set its keys, e.g. {here}.<key>=...")
                for sub_key, sub_value in value.items():
                    set_value(config, f"{here}.{sub_key}", sub_value)
                return
            setattr(target, part, _coerce(value, hints[part], dotted_key))
            return
        target = getattr(target, part)
        if not (dataclasses.is_dataclass(target) or isinstance(target, dict)):
            raise UserError(f"unknown config key '{dotted_key}': {here} is not a section")


def apply_mapping(config: RunConfig, mapping: dict[str, Any], prefix: str = "") -> None:
    """Apply a nested mapping (a parsed recipe) key by key, with the same checks as --set."""
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_free_mapping(config, dotted):
            apply_mapping(config, value, prefix=f"{dotted}.")
        else:
            set_value(config, dotted, value)


def _field_at(config: RunConfig, dotted_key: str) -> tuple[Any, str] | None:
    """The dataclass section holding `a.b.c` and the field's name, or None when the key names
    no field."""
    section: Any = config
    *path, name = dotted_key.split(".")
    for part in path:
        if not dataclasses.is_dataclass(section) or part not in _field_types(section):
            return None
        section = getattr(section, part)
    if not dataclasses.is_dataclass(section) or name not in _field_types(section):
        return None
    return section, name


def _expects_text(config: RunConfig, dotted_key: str) -> bool:
    found = _field_at(config, dotted_key)
    if found is None:
        return False
    annotation = _field_types(found[0])[found[1]]
    return annotation is str or (typing.get_origin(annotation) in (typing.Union, types.UnionType)
                                 and str in typing.get_args(annotation))


def _is_free_mapping(config: RunConfig, dotted_key: str) -> bool:
    found = _field_at(config, dotted_key)
    return found is not None and isinstance(getattr(*found), dict)


def parse_set_argument(argument: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", parsed value). Values are read as YAML scalars (3e-5, true, null)."""
    key, sep, raw = argument.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value, got {argument!r}")
    try:
        value = parse_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML reads "5e-5" (no dot) as a string; accept it as the number the user meant.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value.lower() for c in ".e") else value
        except ValueError:
            pass
    return key.strip(), value


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: settings never need them, and nested aliases (a "billion laughs"
    file of a few hundred bytes) expand to gigabytes as soon as anything prints or copies them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed here",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a recipe, a run's config.yaml, an accelerate config):
    invalid YAML, aliases, Python tags and anything but a mapping are one-line UserErrors."""
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{what} {path} is not valid YAML{where}: {problem[:200]}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must be a mapping of keys to values, not a {type(data).__name__}")
    return data


def load_recipe(path: Path) -> dict[str, Any]:
    """Read a recipe YAML file into a mapping (validated when applied)."""
    if not path.is_file():
        raise UserError(f"recipe file not found: {path}")
    return read_yaml_mapping(path, "recipe")


def build_config(
    recipe: dict[str, Any] | None = None,
    sets: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> RunConfig:
    """Defaults < recipe < --set arguments < explicit flags (already typed, None = not given).
    `config.given` keeps the keys the command line set (--set and flags): what `--resume` checks."""
    config = RunConfig()
    given: dict[str, Any] = {}
    if recipe:
        apply_mapping(config, recipe)
    for argument in sets or []:
        key, value = parse_set_argument(argument)
        if not isinstance(value, str) and _expects_text(config, key):
            # "prompt.query=Review: {text}" reads as a YAML mapping; a text field takes it verbatim.
            value = argument.partition("=")[2]
        set_value(config, key, value)
        given[key] = get_value(config, key)
    for key, value in (flags or {}).items():
        if value is not None:
            set_value(config, key, value)
            given[key] = get_value(config, key)
    config.given = given  # not a field: never saved in config.yaml
    return config


def get_value(config: RunConfig, dotted_key: str) -> Any:
    target: Any = config
    for part in dotted_key.split("."):
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    return target


def config_from_yaml(path: Path) -> RunConfig:
    """Rebuild a RunConfig from a run directory's config.yaml."""
    config = RunConfig()
    apply_mapping(config, load_recipe(path))
    return config
