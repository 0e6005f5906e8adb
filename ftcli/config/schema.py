"""The settings of a run as typed dataclasses: one section per concern (model, data, optim, train,
task options, each strategy's and command's own settings), gathered in `RunConfig`; the dataclass
defaults are the first step of the resolution order (see `ftcli.config`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

MixedPrecision = Literal["auto", "no", "bf16", "fp16"]
ProblemType = Literal["auto", "single_label_classification", "multi_label_classification", "regression"]


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
    """Write a line to log.jsonl every N optimizer steps; a short run logs more often, so that it has about
    10 points: every min(N, total steps // 10) steps (at least every step)."""
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
    select_metric: str | None = None
    """The validation metric that keeps the best epoch and drives early stopping, e.g. loss, f1,
    exact_match (its direction is known: loss lower, f1 higher); None = the task's own (accuracy,
    entity F1, SQuAD F1, perplexity, held-out loss)."""
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
    class_weights: Literal["none", "balanced"] | dict[str, float] = "none"
    """Classification and NLI: weigh the loss by label. none; balanced (single-label: n_rows / (n_labels x
    rows of the label), as scikit-learn's; multi-label: each label's BCE pos_weight = rows without it / rows
    with it); or a mapping {label: weight} (labels left out weigh 1). Not for regression."""


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
    problem_type: ProblemType = "auto"
    """Classification / NLI, named as transformers' `config.problem_type`: single_label_classification (one
    label per row, softmax + cross-entropy), multi_label_classification (a set of labels per row: a list,
    or a string split on `label_separator`; sigmoid + BCE, one threshold per label), or regression (one
    number per row; MSE). auto: from the training labels (at least half lists: multi-label; every label a
    number, at least half fractional: regression; else single-label), printed and stored in config.yaml."""
    label_separator: str = "|"
    """Multi-label classification: the separator of labels written as one string (a CSV cell "drama|comedy")."""


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
    transfer: str | None = None
    """A transfer set: unlabelled text the teacher labels for the student, beside the labelled rows (a text
    file or folder, a catalogue alias's training split, or a data file whose labels are not read)."""
    transfer_limit: int | None = None
    """At most this many transfer rows (a seeded sample); None: all of them."""


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
class ContrastiveConfig:
    """Strategy `contrastive` (SetFit): sentence pairs of the labelled rows fine-tune the body, a linear head
    classifies its mean-pooled embeddings."""

    num_iterations: int = 20
    """Pair rounds: each round pairs every training row once with a row of its own label (similar) and
    once with a row of another label (dissimilar), so 2 x num_iterations pairs per row (SetFit's name)."""
    max_pairs: int | None = None
    """At most this many pairs (balanced, drawn first to last round); None: no limit. The pairs grow with
    the rows (40 per row by default): cap them on large training sets."""
    normalize: bool = True
    """The head reads unit-length embeddings (as sentence-transformers' all-MiniLM-L6-v2 serves them)."""


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
    """How pretrained weights are reused: full, feature-extraction, prompt-tuning, lora, contrastive
    (in-context: `ftcli prompt`)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    options: TaskOptions = field(default_factory=TaskOptions)
    full: FullConfig = field(default_factory=FullConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    contrastive: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    peft: PeftSettings = field(default_factory=PeftSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    output_dir: str | None = None
    """Run directory. Default: runs/<task>-<strategy>-<model>-<timestamp>."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
