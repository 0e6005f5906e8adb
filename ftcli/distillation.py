"""Knowledge distillation (`ftcli distill`): a smaller student learns a task from a fine-tuned teacher.

Two methods, both on top of the student's own (hard-label) task loss:

- `soft-targets` (DistilBERT, Sanh et al. 2019):
      loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * hard
             [+ cosine_weight * (1 - cos(student_last_hidden, teacher_last_hidden))]
  The T^2 factor keeps the soft term's gradients at the same scale whatever the temperature
  (Hinton et al. 2015). Token tasks (NER) take the KL per labelled token (labels != -100). The
  cosine term needs equal hidden sizes (with `tinybert`, it is taken after the projection).
- `tinybert` (Jiao et al. 2020), trained jointly rather than in TinyBERT's two stages: the
  soft-target loss above plus hidden_weight x (hidden + attention), where
      hidden    = sum over student hidden states i = 0..M (0 = embeddings) of
                  MSE(W h_s[i], h_t[g(i)]),  g(i) = i * N // M  (N teacher, M student layers)
      attention = sum over student layers m = 1..M of MSE(A_s[m], A_t[g(m)])
  W is one learned linear projection shared by all layers (TinyBERT's), present only when the
  widths differ; it trains with the student and is not part of the saved model. Padding is left
  out of both means. A are attention probabilities softmax(Q K^T / sqrt(d)) over the real
  (unmasked) keys, at the real query positions. ftcli's models run attention through SDPA, which
  returns no probabilities, so they are recomputed from the query and key projections' outputs,
  caught with forward hooks: this works for encoders with separate query/key projections (BERT,
  MiniLM, ELECTRA, ALBERT, DistilBERT, RoBERTa...) and is refused for the others (GPT-2's fused
  c_attn, encoder-decoders). When the two models have different head counts, the head-averaged
  maps are compared.

The teacher runs frozen, in eval mode and without gradients, on the student's device; it is not
a submodule of the training module, so it is neither trained, counted, nor checkpointed.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ftcli.config import DistillConfig, RunConfig
from ftcli.errors import UserError
from ftcli.precision import half_dtype
from ftcli.strategies.layers import DEPTH_KEYS, config_depth
from ftcli.tasks.base import IGNORE, Task

METHODS = ("soft-targets", "tinybert")
METHOD_ALIASES = {"distilbert": "soft-targets"}
"""`--method distilbert` (DESIGN.md's name) means soft-targets."""
TASK_KINDS = frozenset({"sequence", "token"})
"""Task output kinds distillation supports: classification and NLI (one label), NER (one per token)."""


# ---------------------------------------------------------------------------------------------
# Losses (pure functions of tensors)


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), summed over classes and averaged over
    rows (sequence tasks) or over the positions where `mask` is true (token tasks)."""
    log_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1)
    if mask is not None:
        kl = kl[mask]
    if kl.numel() == 0:
        return student_logits.sum() * 0.0
    return kl.mean() * temperature ** 2


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over positions (batch, seq) where `mask` is true; `values` is (batch, seq) or (batch, seq, dim)."""
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    if values.ndim == 3:
        return (values * weights[..., None]).sum() / (weights.sum() * values.size(-1)).clamp_min(1.0)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """DistilBERT's cosine embedding loss (target 1): mean of 1 - cos over the real tokens."""
    similarity = F.cosine_similarity(student_hidden.float(), teacher_hidden.float(), dim=-1)
    return _masked_mean(1.0 - similarity, mask)


def hidden_mse(student_states, teacher_states, mapping: list[int], projection: nn.Module,
               mask: torch.Tensor | None) -> torch.Tensor:
    """TinyBERT's hidden-state loss: sum over student states i of MSE(projection(h_s[i]), h_t[mapping[i]])."""
    total = 0.0
    for i, j in enumerate(mapping):
        diff = projection(student_states[i].float()) - teacher_states[j].float()
        total = total + _masked_mean(diff.pow(2), mask)
    return total


def layer_mapping(student_layers: int, teacher_layers: int) -> list[int]:
    """Student hidden state i (0 = embeddings, 1..M the layers) -> teacher hidden state i * N // M
    (TinyBERT's uniform mapping: 3 of 6 layers -> [0, 2, 4, 6])."""
    return [i * teacher_layers // student_layers for i in range(student_layers + 1)]


def attention_probabilities(query: torch.Tensor, key: torch.Tensor, num_heads: int,
                            key_mask: torch.Tensor | None) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) from the query/key projections' outputs (batch, seq, heads * d):
    (batch, heads, queries, keys); padding keys get probability 0."""
    batch, q_len, width = query.shape
    head_dim = width // num_heads
    q = query.float().view(batch, q_len, num_heads, head_dim).transpose(1, 2)
    k = key.float().view(batch, key.size(1), num_heads, head_dim).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / head_dim ** 0.5
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :].bool(), float("-inf"))
    return scores.softmax(-1)


def attention_mse(student_map: torch.Tensor, teacher_map: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """MSE between two layers' attention probabilities over real (query, key) pairs; with different
    head counts the head-averaged maps are compared."""
    if student_map.size(1) != teacher_map.size(1):
        student_map, teacher_map = student_map.mean(1, keepdim=True), teacher_map.mean(1, keepdim=True)
    diff = (student_map - teacher_map).pow(2)
    if mask is None:
        return diff.mean()
    pairs = (mask[:, None, :, None] & mask[:, None, None, :]).to(diff.dtype)
    return (diff * pairs).sum() / (pairs.sum() * diff.size(1)).clamp_min(1.0)


# ---------------------------------------------------------------------------------------------
# What a model's config says about its shape


def layer_count(config) -> tuple[str, int]:
    """(the config key holding the depth, its value)."""
    depth = config_depth(config)
    if depth is None:
        raise UserError(f"cannot tell how many layers a {config.model_type} model has (none of {', '.join(DEPTH_KEYS)})")
    return depth


def hidden_width(config) -> int:
    for key in ("hidden_size", "dim", "n_embd", "d_model"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise UserError(f"cannot tell the hidden size of a {config.model_type} model")


def head_count(config) -> int:
    for key in ("num_attention_heads", "n_heads", "n_head"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    raise UserError(f"cannot tell how many attention heads a {config.model_type} model has")


def attention_projections(model: nn.Module) -> list[tuple[nn.Linear, nn.Linear]]:
    """The (query, key) projections of each self-attention module, in layer order: BERT's naming
    (query/key: BERT, MiniLM, ELECTRA, ALBERT, RoBERTa) or DistilBERT's (q_lin/k_lin)."""
    found = []
    for module in model.modules():
        for q_name, k_name in (("query", "key"), ("q_lin", "k_lin")):
            q, k = module._modules.get(q_name), module._modules.get(k_name)
            if isinstance(q, nn.Linear) and isinstance(k, nn.Linear):
                found.append((q, k))
    return found


class AttentionRecorder:
    """Catches the query and key projections' outputs of every attention call (forward hooks) while
    `recording()`, so attention probabilities can be rebuilt. A layer shared by every depth
    (ALBERT) is caught once per call, so the calls still line up with the layers."""

    def __init__(self, model: nn.Module, num_heads: int, num_layers: int):
        self.num_heads, self.num_layers = num_heads, num_layers
        self.active = False
        self.queries: list[torch.Tensor] = []
        self.keys: list[torch.Tensor] = []
        self.handles = []
        for query, key in attention_projections(model):
            self.handles.append(query.register_forward_hook(self._catch(self.queries)))
            self.handles.append(key.register_forward_hook(self._catch(self.keys)))

    def _catch(self, into: list):
        def hook(module, inputs, output):
            if self.active:
                into.append(output)
        return hook

    @contextlib.contextmanager
    def recording(self):
        self.queries.clear(), self.keys.clear()
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def maps(self, layers: list[int], key_mask: torch.Tensor | None) -> list[torch.Tensor]:
        """Attention probabilities of the given layers (0-based) from the last recorded forward pass."""
        if len(self.queries) != self.num_layers or len(self.keys) != self.num_layers:
            raise RuntimeError(f"caught {len(self.queries)} attention calls for {self.num_layers} layers")
        return [attention_probabilities(self.queries[i], self.keys[i], self.num_heads, key_mask) for i in layers]

    def clear(self) -> None:
        self.queries.clear(), self.keys.clear()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def check_attention_support(model: nn.Module, role: str, name: str) -> None:
    """Refuse (one line) a model whose attention maps cannot be rebuilt from query/key projections."""
    config = model.config
    pairs = attention_projections(model)
    _, layers = layer_count(config)
    if getattr(config, "is_encoder_decoder", False) or not pairs or len(pairs) not in (1, layers):
        raise UserError(f"--method tinybert matches attention maps, which ftcli rebuilds for BERT-family encoders "
                        f"(bert, minilm, electra, albert, distilbert); the {role} {name} is a "
                        f"{config.model_type} model: use --method soft-targets")


# ---------------------------------------------------------------------------------------------
# The training module


class FrozenTeacher(nn.Module):
    """The teacher, in eval mode with no gradients, fed only the inputs its forward accepts (a
    DistilBERT teacher takes no token_type_ids, a BERT student's tokenizer makes them)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.config = model.config
        signature = inspect.signature(model.forward).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
        self.accepted = None if takes_any else set(signature)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always eval: no dropout

    def forward(self, **batch):
        if self.accepted is not None:
            batch = {k: v for k, v in batch.items() if k in self.accepted}
        with torch.no_grad():
            return self.model(**batch)


class Distillation(nn.Module):
    """What the training loop trains: the student, plus (TinyBERT) the projection of its hidden
    states. In training its forward returns the student's output with the combined `.loss` and
    `loss_parts` (hard, soft, cosine, hidden, attention: logged as `<part>_loss`); in eval mode,
    or without labels, it returns the plain student output, so metrics are the student's. The
    student (`.model`) is what the run saves."""

    def __init__(self, student: nn.Module, teacher: FrozenTeacher, settings: DistillConfig, token_level: bool):
        super().__init__()
        self.model = student
        object.__setattr__(self, "teacher", teacher)  # not a submodule: not trained, counted or checkpointed
        self.settings = settings
        self.token_level = token_level
        self.config = student.config
        self.base_model_prefix = f"model.{student.base_model_prefix}"
        self.tinybert = settings.method == "tinybert"
        self.needs_states = self.tinybert or settings.cosine_weight > 0
        self.uses_teacher = settings.alpha > 0 or self.needs_states
        student_layers, teacher_layers = layer_count(student.config)[1], layer_count(teacher.config)[1]
        self.mapping = layer_mapping(student_layers, teacher_layers)
        student_width, teacher_width = hidden_width(student.config), hidden_width(teacher.config)
        # TinyBERT's W_h: one projection shared by every layer, only when the widths differ.
        self.projection = (nn.Linear(student_width, teacher_width) if self.tinybert and student_width != teacher_width
                           else nn.Identity())
        self.recorders = None
        if self.tinybert:
            self.recorders = (AttentionRecorder(student, head_count(student.config), student_layers),
                              AttentionRecorder(teacher.model, head_count(teacher.config), teacher_layers))

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def forward(self, **batch):
        if not self.training or "labels" not in batch:
            return self.model(**batch)
        settings = self.settings
        if not self.uses_teacher:  # alpha 0, no hidden-state terms: plain fine-tuning
            out = self.model(**batch)
            out.loss_parts = {"hard": out.loss.detach()}
            return out
        teacher = self.teacher
        device = batch["input_ids"].device
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        teacher_batch = {k: v for k, v in batch.items() if k != "labels"}
        extra = {"output_hidden_states": True} if self.needs_states else {}
        with self._recording():
            out = self.model(**batch, **extra)
            teacher_out = teacher(**teacher_batch, **extra)
        attention_mask = batch.get("attention_mask")
        token_mask = attention_mask.bool() if attention_mask is not None else None
        hard = out.loss
        parts = {"hard": hard.detach()}
        loss = (1.0 - settings.alpha) * hard
        if settings.alpha > 0:
            label_mask = batch["labels"] != IGNORE if self.token_level else None
            soft = soft_target_loss(out.logits, teacher_out.logits, settings.temperature, label_mask)
            parts["soft"] = soft.detach()
            loss = loss + settings.alpha * soft
        if settings.cosine_weight > 0:
            cosine = cosine_loss(self.projection(out.hidden_states[-1].float()), teacher_out.hidden_states[-1],
                                 token_mask)
            parts["cosine"] = cosine.detach()
            loss = loss + settings.cosine_weight * cosine
        if self.tinybert:
            hidden = hidden_mse(out.hidden_states, teacher_out.hidden_states, self.mapping, self.projection,
                                token_mask)
            student_recorder, teacher_recorder = self.recorders
            student_maps = student_recorder.maps(list(range(len(self.mapping) - 1)), token_mask)
            teacher_maps = teacher_recorder.maps([j - 1 for j in self.mapping[1:]], token_mask)
            attention = sum(attention_mse(s, t, token_mask) for s, t in zip(student_maps, teacher_maps))
            student_recorder.clear(), teacher_recorder.clear()
            parts["hidden"], parts["attention"] = hidden.detach(), attention.detach()
            loss = loss + settings.hidden_weight * (hidden + attention)
        out.loss = loss
        out.loss_parts = parts
        out.hidden_states = None
        return out

    @contextlib.contextmanager
    def _recording(self):
        if self.recorders is None:
            yield
            return
        with self.recorders[0].recording(), self.recorders[1].recording():
            yield


# ---------------------------------------------------------------------------------------------
# The teacher


@dataclass
class TeacherRef:
    spec: str
    """As the user gave it."""
    checkpoint: str
    """The folder holding its weights (a run's model/), an alias's folder, or a Hub id."""
    run_dir: Path | None = None


def resolve_teacher(spec: str) -> TeacherRef:
    """A run directory, its model/ folder, a checkpoint directory, a catalogue alias or a Hub id."""
    from ftcli import assets
    from ftcli.rundir import CONFIG_FILE, is_run_directory

    path = Path(spec).expanduser()
    if is_run_directory(path):
        return TeacherRef(spec, str(path / "model"), path)
    if path.name == "model" and is_run_directory(path.parent):
        return TeacherRef(spec, str(path), path.parent)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            raise UserError(f"teacher {spec} is an unfinished run (no model/ yet)")
        if not (path / "config.json").is_file():
            raise UserError(f"teacher {spec} is neither an ftcli run directory (config.yaml and model/) nor a "
                            "checkpoint directory (config.json)")
        return TeacherRef(spec, str(path))
    if path.exists():
        raise UserError(f"teacher {spec} is a file; give a run directory or a checkpoint directory")
    if spec in assets.MODELS:
        return TeacherRef(spec, assets.resolve_model(spec))
    first = Path(spec.split("/")[0]).expanduser()
    looks_like_hub_id = spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and not first.is_dir()
    if not looks_like_hub_id:
        raise UserError(f"teacher {spec} not found: give a run directory (from `ftcli finetune`), its model/ "
                        "folder, or a checkpoint directory with the task's head")
    return TeacherRef(spec, spec)


def teacher_task(teacher: TeacherRef) -> str | None:
    """The task a teacher run was trained for (None for a bare checkpoint)."""
    if teacher.run_dir is None:
        return None
    from ftcli.config import config_from_yaml
    from ftcli.rundir import CONFIG_FILE

    return config_from_yaml(teacher.run_dir / CONFIG_FILE).task


def load_teacher(teacher: TeacherRef, task: Task, labels: list[str], data_name: str,
                 trust_remote_code: bool = False) -> nn.Module:
    """The teacher with its trained head, its logits in the order of `labels` (the data's)."""
    from ftcli.models.loading import check_weights_file, load_model

    if teacher.run_dir is not None:
        from ftcli.config import config_from_yaml
        from ftcli.rundir import CONFIG_FILE
        from ftcli.strategies import get_strategy

        saved = config_from_yaml(teacher.run_dir / CONFIG_FILE)
        if saved.task != task.name:
            raise UserError(f"teacher {teacher.spec} is a {saved.task} run; distilling for {task.name} needs a "
                            f"{task.name} teacher")
        check_weights_file(teacher.checkpoint)
        model = get_strategy(saved.strategy).load(Path(teacher.checkpoint), task, saved)
    else:
        model = load_model(teacher.checkpoint, task.auto_class_for, trust_remote_code)
        missing = getattr(model, "ftcli_new_weights", [])
        if missing:
            raise UserError(f"teacher {teacher.spec} has no trained {task.name} head (its checkpoint lacks "
                            f"{', '.join(missing[:3])}); fine-tune it first: ftcli finetune {task.name} "
                            f"--model {teacher.spec}")
    id2label = getattr(model.config, "id2label", None) or {}
    teacher_labels = [str(id2label[i]) for i in sorted(id2label)]
    if sorted(teacher_labels) != sorted(labels):
        raise UserError(f"teacher {teacher.spec} was trained on labels {teacher_labels} but {data_name} has "
                        f"{list(labels)}")
    if teacher_labels != list(labels):
        reorder_outputs(model, [teacher_labels.index(label) for label in labels], f"teacher {teacher.spec}")
        model.config.id2label = dict(enumerate(labels))
        model.config.label2id = {label: i for i, label in enumerate(labels)}
    return model


def reorder_outputs(model: nn.Module, order: list[int], what: str) -> None:
    """Permute the head's output layer so that output j is the old output order[j]."""
    from ftcli.strategies.base import head_module_names

    heads = set(head_module_names(model))
    layers = [m for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and m.out_features == len(order) and name.split(".")[0] in heads]
    if len(layers) != 1:
        raise UserError(f"{what} lists the data's labels in another order and its output layer could not be "
                        "found to reorder them; fine-tune the teacher on this data")
    with torch.no_grad():
        layers[0].weight.copy_(layers[0].weight[order].clone())
        if layers[0].bias is not None:
            layers[0].bias.copy_(layers[0].bias[order].clone())


def check_same_tokenizer(student_checkpoint: str, teacher: TeacherRef, trust_remote_code: bool = False) -> None:
    """Both models read the same token ids, so their vocabularies must be the same."""
    from ftcli.models.loading import load_tokenizer

    student_vocab = load_tokenizer(student_checkpoint, trust_remote_code).get_vocab()
    teacher_vocab = load_tokenizer(teacher.checkpoint, trust_remote_code).get_vocab()
    if student_vocab != teacher_vocab:
        raise UserError(f"the student {student_checkpoint} and the teacher {teacher.spec} have different "
                        f"tokenizers ({len(student_vocab):,} vs {len(teacher_vocab):,} tokens); distillation feeds "
                        "both the same token ids: choose a student with the teacher's tokenizer, or "
                        "--init-from-teacher every-other-layer")


def build_distillation(student: nn.Module, student_checkpoint: str, task: Task, labels: list[str],
                       config: RunConfig) -> Distillation:
    """Load and check the teacher against the data and the student; wrap the student."""
    settings = config.distill
    teacher_ref = resolve_teacher(settings.teacher)
    teacher = load_teacher(teacher_ref, task, labels, config.data.train, config.model.trust_remote_code)
    check_same_tokenizer(student_checkpoint, teacher_ref, config.model.trust_remote_code)
    positions = (getattr(teacher.config, "max_position_embeddings", None)
                 or getattr(teacher.config, "n_positions", None))
    if isinstance(positions, int) and config.model.max_length > positions:
        raise UserError(f"--max-length {config.model.max_length} is more than the teacher {settings.teacher} has "
                        f"positions for ({positions})")
    if settings.init_from_teacher != "none":
        # The student's head was copied from the teacher's as saved: put it in the data's label order too.
        saved_order = json.loads((Path(student_checkpoint) / "config.json").read_text()).get("id2label") or {}
        saved_labels = [str(saved_order[k]) for k in sorted(saved_order, key=int)]
        if saved_labels and saved_labels != list(labels) and sorted(saved_labels) == sorted(labels):
            reorder_outputs(student, [saved_labels.index(label) for label in labels], "the student")
    student_width, teacher_width = hidden_width(student.config), hidden_width(teacher.config)
    if settings.cosine_weight > 0 and settings.method != "tinybert" and student_width != teacher_width:
        raise UserError(f"distill.cosine_weight compares hidden states, but the student's are {student_width} wide "
                        f"and the teacher's {teacher_width}; use --method tinybert (which learns a projection) "
                        "or set distill.cosine_weight=0")
    if settings.method == "tinybert":
        check_attention_support(student, "student", config.model.name)
        check_attention_support(teacher, "teacher", settings.teacher)
    return Distillation(student, FrozenTeacher(teacher), settings, token_level=task.output_kind == "token")


# ---------------------------------------------------------------------------------------------
# A student made from the teacher


def every_other_layer(teacher: nn.Module) -> nn.Module:
    """A copy of `teacher` with layers 0, 2, 4, ... (half the depth, rounded up), its embeddings and
    its head. An architecture sharing one set of layer weights (ALBERT) keeps them and applies
    them half as many times."""
    from ftcli.models.registry import architecture_of
    from ftcli.strategies.layers import _LAYER

    config = copy.deepcopy(teacher.config)
    key, depth = layer_count(config)
    if depth < 2:
        raise UserError(f"the teacher has {depth} layer; --init-from-teacher every-other-layer needs at least 2")
    kept = list(range(0, depth, 2))
    setattr(config, key, len(kept))
    architecture = architecture_of(teacher)
    pattern = re.compile(architecture.layer_pattern) if architecture is not None else _LAYER
    shared = architecture is not None and architecture.shared_layers
    student = type(teacher)(config)
    source = teacher.state_dict()
    weights = {}
    for name in student.state_dict():
        match = None if shared else pattern.search(name)
        origin = name if match is None else f"{name[:match.start(1)]}{kept[int(match.group(1))]}{name[match.end(1):]}"
        weights[name] = source[origin]
    student.load_state_dict(weights, strict=True)
    return student


def student_from_teacher(teacher: TeacherRef, task: Task, trust_remote_code: bool = False) -> Path:
    """Write (once) the every-other-layer student of `teacher` as a normal checkpoint directory under
    the ftcli cache, keyed by the teacher's path and file times, and return it."""
    from accelerate import PartialState

    from ftcli.models.loading import load_model, load_tokenizer
    from ftcli.ownership import atomic_directory
    from ftcli.paths import cache_dir

    if teacher.run_dir is not None:
        from ftcli.config import config_from_yaml
        from ftcli.rundir import CONFIG_FILE

        strategy = config_from_yaml(teacher.run_dir / CONFIG_FILE).strategy
        if strategy not in ("full", "distill"):
            raise UserError(f"--init-from-teacher copies the teacher's weights; {teacher.spec} is a {strategy} run "
                            "whose model/ holds no full checkpoint: export it first (ftcli export RUN --to DIR) "
                            "and pass that folder")
    folder = Path(teacher.checkpoint).expanduser()
    if not folder.is_dir():
        raise UserError(f"--init-from-teacher needs a local teacher (run or checkpoint directory), not {teacher.spec}")
    folder = folder.resolve()
    stamp = [str(folder)] + [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                             for p in sorted(folder.iterdir()) if p.suffix in (".json", ".safetensors")]
    digest = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:12]
    name = teacher.run_dir.name if teacher.run_dir is not None else folder.name
    target = cache_dir() / "students" / f"{name}-every-other-layer-{digest}"
    with PartialState().main_process_first():
        if not ((target / "config.json").is_file() and any(target.glob("*.safetensors"))):
            model = load_model(str(folder), task.auto_class_for, trust_remote_code)
            missing = getattr(model, "ftcli_new_weights", [])
            if missing:
                raise UserError(f"teacher {teacher.spec} has no trained {task.name} head (its checkpoint lacks "
                                f"{', '.join(missing[:3])})")
            student = every_other_layer(model)
            tokenizer = load_tokenizer(str(folder), trust_remote_code)
            with atomic_directory(target) as staging:
                student.save_pretrained(staging, safe_serialization=True)
                tokenizer.save_pretrained(staging)
    return target


# ---------------------------------------------------------------------------------------------
# The command: run, then score the teacher on the same test rows and time both models


def distill(config: RunConfig, overwrite: bool = False, resume: bool = False):
    """`ftcli distill`: train the student with `ftcli.runner.run` (strategy `distill`), then add the
    teacher's test metrics and both models' inference speed to metrics.json."""
    from datetime import datetime

    from ftcli.runner import run
    from ftcli.tasks import get_task

    settings = config.distill
    if settings.teacher is None:
        raise UserError("distillation needs a teacher: --teacher RUN_OR_MODEL")
    teacher = resolve_teacher(settings.teacher)
    task = get_task(config.task, config.options)
    if task.output_kind not in TASK_KINDS or task.modality != "text":
        raise UserError(f"ftcli distill supports the classification, nli and ner tasks, not {task.name}")
    if settings.init_from_teacher == "every-other-layer":
        from ftcli.progress import console

        config.model.name = str(student_from_teacher(teacher, task, config.model.trust_remote_code))
        console.print(f"Student: every other layer of the teacher {teacher.spec}, saved as {config.model.name}")
        label = f"{teacher.run_dir.name if teacher.run_dir else Path(teacher.checkpoint).name}-half"
    else:
        label = Path(config.model.name.rstrip("/")).name
    if config.output_dir is None and not resume:
        config.output_dir = str(Path("runs") / f"{config.task}-distill-{label}-{datetime.now():%Y%m%d-%H%M%S}")
    result = run(config, overwrite=overwrite, resume=resume)
    result.metrics = add_teacher_report(result.path, teacher)
    return result


def add_teacher_report(run_path: Path, teacher: TeacherRef) -> dict[str, Any]:
    """Score the teacher on the run's test rows (the same features, batches and metric code as the
    student's), time both models, and write it all into metrics.json (and the model card)."""
    from accelerate import PartialState

    from ftcli.config import config_from_yaml
    from ftcli.data.columns import resolve_columns
    from ftcli.data.sources import load_splits
    from ftcli.evaluation import collect_outputs
    from ftcli.models.loading import load_model
    from ftcli.paths import write_text_atomically
    from ftcli.rundir import CONFIG_FILE
    from ftcli.strategies.base import parameter_counts
    from ftcli.tasks import get_task
    from ftcli.tasks.base import EvalData, model_inputs
    from ftcli.training import make_accelerator
    from torch.utils.data import DataLoader

    saved = config_from_yaml(run_path / CONFIG_FILE)
    d = saved.data
    splits = load_splits(d.train, d.eval, d.eval_fraction, saved.train.seed, d.limit_train, d.limit_eval,
                         d.validation, d.validation_fraction)
    checkpoint = str(run_path / "model")
    task = get_task(saved.task, saved.options)
    processor = task.load_processor(checkpoint)
    student = load_model(checkpoint, task.auto_class_for)
    id2label = student.config.id2label
    labels = [str(id2label[i]) for i in sorted(id2label)]
    label2id = {label: i for i, label in enumerate(labels)}
    columns = resolve_columns(task.fields, d.columns, task.name)
    features = task.preprocess(splits.eval, processor, columns, label2id, saved.model.max_length)
    teacher_model = FrozenTeacher(load_teacher(teacher, task, labels, d.train, saved.model.trust_remote_code))

    accelerator = make_accelerator(saved.train)
    collator = task.collator(processor)
    loader = accelerator.prepare(DataLoader(model_inputs(features, task), batch_size=saved.train.eval_batch_size,
                                            collate_fn=collator))
    # Moved, not prepared: a model without trainable parameters cannot be wrapped for DDP.
    outputs = collect_outputs(teacher_model.to(accelerator.device), loader, accelerator, task, "Testing the teacher")
    teacher_metrics = task.compute_metrics(outputs.gathered, EvalData(splits.eval, features, columns, labels))
    if outputs.loss is not None:
        teacher_metrics["loss"] = outputs.loss

    metrics_file = run_path / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    state = PartialState()
    if state.is_main_process:
        timing_inputs = model_inputs(features, task).remove_columns(
            [c for c in ("labels",) if c in features.column_names])
        speed = compare_speed(student, teacher_model, timing_inputs, collator, saved.train.eval_batch_size,
                              state.device, saved.train.mixed_precision)
        metrics.update({
            "teacher": teacher.spec,
            "distill_method": saved.distill.method,
            **{f"teacher_{k}": v for k, v in teacher_metrics.items()},
            "student_parameters": parameter_counts(student)[1],
            "teacher_parameters": parameter_counts(teacher_model)[1],
            **speed,
        })
        write_text_atomically(metrics_file, json.dumps(metrics, indent=2) + "\n")
        card = run_path / "README.md"
        if card.is_file():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in teacher_metrics.items() if isinstance(v, float))
            card.write_text(card.read_text().rstrip("\n") + "\n\n## Distillation\n\n"
                            f"Distilled ({saved.distill.method}) from the teacher `{teacher.spec}`, which scores "
                            f"{shown} on the same test rows. The student runs "
                            f"{speed['speedup']:.2f}x as fast ({speed['student_examples_per_second']:.1f} vs "
                            f"{speed['teacher_examples_per_second']:.1f} examples/s, batch size "
                            f"{speed['speed_batch_size']}, {speed['speed_device']}).\n")
    state.wait_for_everyone()
    return metrics


def compare_speed(student: nn.Module, teacher: nn.Module, features, collator, batch_size: int, device,
                  mixed_precision: str = "no", repeats: int = 3) -> dict[str, Any]:
    """Inference speed of both models on the same batches: collated and moved to the device
    beforehand, a warm-up pass over up to 3 batches, then `repeats` timed passes over the whole
    test split, alternating the models; the fastest pass of each counts (like timeit)."""
    batches = [{k: v.to(device) for k, v in collator([features[i] for i in range(start, min(start + batch_size,
                                                                                              len(features)))]).items()}
               for start in range(0, len(features), batch_size)]
    dtype = half_dtype(mixed_precision)
    models = {"student": student.to(device).eval(), "teacher": teacher.to(device).eval()}
    best = {name: float("inf") for name in models}

    def one_pass(model, subset) -> float:
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        _synchronize(device)
        start = time.perf_counter()
        with torch.inference_mode(), autocast:
            for batch in subset:
                model(**batch)
        _synchronize(device)
        return time.perf_counter() - start

    for model in models.values():
        one_pass(model, batches[:3])
    for _ in range(repeats):
        for name, model in models.items():
            best[name] = min(best[name], one_pass(model, batches))
    rows = len(features)
    student_speed, teacher_speed = rows / max(best["student"], 1e-9), rows / max(best["teacher"], 1e-9)
    return {
        "student_examples_per_second": round(student_speed, 2),
        "teacher_examples_per_second": round(teacher_speed, 2),
        "speedup": round(student_speed / teacher_speed, 3),
        "speed_batch_size": batch_size,
        "speed_device": str(device),
    }


def _synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


__all__ = [
    "METHODS", "METHOD_ALIASES", "TASK_KINDS", "Distillation", "FrozenTeacher", "TeacherRef", "AttentionRecorder",
    "soft_target_loss", "cosine_loss", "hidden_mse", "attention_mse", "attention_probabilities", "layer_mapping",
    "every_other_layer", "student_from_teacher", "resolve_teacher", "load_teacher", "build_distillation",
    "distill", "add_teacher_report", "compare_speed",
]
