"""Feature extraction: the pretrained body is a fixed feature function; only a new head trains.

The body runs once over each dataset (eval mode: no dropout; no gradients; batched) and its
features are cached on disk (`<cache>/features/<key>.safetensors`, keyed by the checkpoint, the
tokenized inputs and the feature settings), so every epoch after the encoding pass costs only
the head. `features.cache: false` runs the frozen body on every batch instead (same features).

Features (`features.*`): for one-label tasks the [CLS] vector, the masked mean of the tokens, or
the model's pooler output; per-token vectors for NER and QA. Layers: the last, the sum of the
last four, or their concatenation (BERT's feature-based NER experiments). Heads: a linear layer
or a small MLP; QA's head gives a start and an end logit per token.

A saved run's model/ folder holds the head (`feature_head.safetensors`), its settings
(`feature_head.json`) and the tokenizer; the body is the run's `model.name`, loaded again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset
from transformers.modeling_outputs import (
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from ftcli import assets
from ftcli.config import FeatureConfig, RunConfig
from ftcli.errors import UserError
from ftcli.batching import length_sorted_loader, token_lengths
from ftcli.models.loading import load_model
from ftcli.models.outputs import enable_packing
from ftcli.paths import cache_dir
from ftcli.tensor_cache import cache_key, cached_tensors
from ftcli.progress import progress_bar
from ftcli.strategies.base import Strategy, TrainingData
from ftcli.tasks.base import IGNORE, Task, model_inputs
from ftcli.models.heads import span_loss

HEAD_WEIGHTS = "feature_head.safetensors"
HEAD_CONFIG = "feature_head.json"
TARGET_KEYS = ("labels", "start_positions", "end_positions")


class FeatureExtractionStrategy(Strategy):
    name = "feature-extraction"
    plain_transformers = ("model/ holds only the head trained on the frozen model's features, which plain "
                          "transformers cannot load: use `ftcli predict` / `ftcli evaluate` on the run")
    exports_onnx = False
    # Language modelling has no new head to train on frozen features.
    output_kinds = frozenset({"sequence", "token", "span"})

    def check(self, task, config, model_config):
        super().check(task, config, model_config)
        if config.features.pooling == "pooler" and config.features.layers != "last":
            raise UserError("features.pooling pooler reads the last layer only; use cls or mean with "
                            f"features.layers {config.features.layers}")
        layers = getattr(model_config, "num_hidden_layers", None)
        if config.features.layers != "last" and isinstance(layers, int) and layers + 1 < 4:
            raise UserError(f"features.layers {config.features.layers} needs four hidden states; this model has "
                            f"{layers} layers (+ the embeddings): use features.layers last")
        if config.features.mlp_hidden < 1:
            raise UserError(f"features.mlp_hidden must be at least 1, got {config.features.mlp_hidden}")

    def build(self, checkpoint, task, labels, config):
        body = load_model(checkpoint, "AutoModel", config.model.trust_remote_code)
        num_outputs = 2 if task.output_kind == "span" else len(labels or [])
        return FeatureHeadModel(body, config.features, task.output_kind, num_outputs, labels)

    def training_data(self, model, train_features, eval_features, task, processor, config, accelerator):
        collator = task.collator(processor)
        train_inputs = model_inputs(train_features, task)
        eval_inputs = {name: model_inputs(f, task) for name, f in eval_features.items()}
        if not config.features.cache:
            return TrainingData(train_inputs, eval_inputs, collator)
        extractor = model.to(accelerator.device)
        with accelerator.main_process_first():
            start = time.perf_counter()
            train = cached_features(extractor, train_inputs, collator, config, "training", accelerator)
            seconds = time.perf_counter() - start  # one encoding pass over the training data (or a cache hit)
            evaluation = {name: cached_features(extractor, inputs, collator, config, name, accelerator)
                          for name, inputs in eval_inputs.items()}
        return TrainingData(train, evaluation, FeatureCollator(), seconds=seconds)

    def model_usage(self, auto_class: str, processor_class: str, base_model: str) -> str:
        return f"""`model/` holds the head trained on frozen features of `{base_model}`
(`feature_head.safetensors`, settings in `feature_head.json`); ftcli loads both.
"""

    def save(self, model, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(model_dir / HEAD_WEIGHTS))
        (model_dir / HEAD_CONFIG).write_text(json.dumps(model.describe(), indent=2) + "\n")

    def load(self, model_dir: Path, task: Task, config: RunConfig | None) -> nn.Module:
        if config is None:
            raise UserError(f"{model_dir} holds a feature-extraction head: evaluate or predict its run directory")
        saved = json.loads((model_dir / HEAD_CONFIG).read_text())
        body = load_model(assets.resolve_model(config.model.name), "AutoModel", config.model.trust_remote_code)
        model = FeatureHeadModel(body, FeatureConfig(**saved["features"]), saved["kind"], saved["num_outputs"],
                                 saved["labels"])
        model.head.load_state_dict(load_file(str(model_dir / HEAD_WEIGHTS)))
        return model.eval()


class FeatureHeadModel(nn.Module):
    """A frozen body and a trainable head. `forward` takes either precomputed `features` (the
    cached path) or the body's usual inputs, and returns transformers' output classes so the
    task modules read it like any fine-tuned model."""

    base_model_prefix = "body"

    def __init__(self, body: nn.Module, settings: FeatureConfig, kind: str, num_outputs: int,
                 labels: list[str] | None):
        super().__init__()
        if kind not in ("sequence", "token", "span"):
            raise UserError(f"feature extraction has no head for {kind} outputs")
        self.body, self.settings, self.kind, self.labels = body, settings, kind, labels
        self.config = body.config
        self.config.id2label = dict(enumerate(labels)) if labels else self.config.id2label
        for parameter in self.body.parameters():
            parameter.requires_grad_(False)
        width = body.config.hidden_size * (4 if settings.layers == "concat4" else 1)
        self.head = make_head(width, num_outputs, settings)
        self.num_outputs = num_outputs

    def train(self, mode: bool = True):
        super().train(mode)
        self.body.eval()  # a fixed feature function: no dropout, ever
        return self

    def describe(self) -> dict:
        return {"kind": self.kind, "num_outputs": self.num_outputs, "labels": self.labels,
                "features": {k: getattr(self.settings, k) for k in ("pooling", "layers", "head", "mlp_hidden",
                                                                      "dropout")}}

    @torch.no_grad()
    def extract(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Features for one batch: (batch, width) for sequence tasks, (batch, length, width)."""
        hidden_layers = self.settings.layers != "last"
        out = self.body(**inputs, output_hidden_states=hidden_layers)
        if hidden_layers:
            last_four = out.hidden_states[-4:]
            hidden = torch.cat(last_four, -1) if self.settings.layers == "concat4" else torch.stack(last_four).sum(0)
        else:
            hidden = out.last_hidden_state
        if self.kind != "sequence":
            return hidden
        if self.settings.pooling == "pooler":
            if getattr(out, "pooler_output", None) is None:
                raise UserError("this model has no pooler layer; use features.pooling cls or mean")
            return out.pooler_output
        if self.settings.pooling == "mean":
            mask = inputs.get("attention_mask")
            if mask is None:
                return hidden.mean(1)
            mask = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return hidden[:, 0]

    def forward(self, features=None, labels=None, start_positions=None, end_positions=None, **inputs):
        if features is None:
            features = self.extract(inputs)
        logits = self.head(features)
        if self.kind == "sequence":
            loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
            return SequenceClassifierOutput(loss=loss, logits=logits)
        if self.kind == "token":
            loss = (F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE)
                    if labels is not None else None)
            return TokenClassifierOutput(loss=loss, logits=logits)
        start_logits, end_logits = logits.float().unbind(-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits)


def make_head(width: int, num_outputs: int, settings: FeatureConfig) -> nn.Module:
    if settings.head == "mlp":
        return nn.Sequential(nn.Dropout(settings.dropout), nn.Linear(width, settings.mlp_hidden), nn.GELU(),
                             nn.Dropout(settings.dropout), nn.Linear(settings.mlp_hidden, num_outputs))
    return nn.Sequential(nn.Dropout(settings.dropout), nn.Linear(width, num_outputs))


# -- the cache --------------------------------------------------------------------------------


class CachedFeatures(Dataset):
    """Rows of {features, targets...}; token features are stored flat with their lengths."""

    def __init__(self, features: torch.Tensor, lengths: torch.Tensor | None, targets: dict[str, list],
                 token_lengths: list[int] | None = None):
        self.features, self.lengths, self.targets = features, lengths, targets
        self.token_lengths = token_lengths
        """The input rows' token counts: training batches are length-grouped on them (ftcli.batching), so the
        cached features see the batches that running the body on the tokens would."""
        self.starts = None if lengths is None else torch.cumsum(lengths, 0) - lengths

    def __len__(self) -> int:
        return len(self.features) if self.lengths is None else len(self.lengths)

    def __getitem__(self, index: int) -> dict:
        if self.lengths is None:
            row = {"features": self.features[index]}
        else:
            start, length = int(self.starts[index]), int(self.lengths[index])
            row = {"features": self.features[start:start + length]}
        for key, values in self.targets.items():
            row[key] = values[index]
        return row


class FeatureCollator:
    """Stacks sequence features; pads token features (and their labels with -100) to the
    longest row, with an attention mask."""

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        features = [row["features"] for row in rows]
        batch: dict[str, torch.Tensor] = {}
        if features[0].ndim == 1:
            batch["features"] = torch.stack(features)
        else:
            longest = max(f.size(0) for f in features)
            batch["features"] = torch.stack([F.pad(f, (0, 0, 0, longest - f.size(0))) for f in features])
            batch["attention_mask"] = torch.tensor([[1] * f.size(0) + [0] * (longest - f.size(0))
                                                    for f in features])
        for key in TARGET_KEYS:
            if key not in rows[0]:
                continue
            values = [row[key] for row in rows]
            if isinstance(values[0], list):
                longest = batch["features"].size(1)
                values = [v[:longest] + [IGNORE] * (longest - len(v)) for v in values]
            batch[key] = torch.tensor(values)
        return batch


def cached_features(model: FeatureHeadModel, inputs, collator, config: RunConfig, what: str,
                    accelerator) -> CachedFeatures:
    """The features of `inputs` (a tokenized dataset), from the cache or computed and cached."""
    targets = {key: inputs[key] for key in TARGET_KEYS if key in inputs.column_names}
    bare = inputs.remove_columns(list(targets))
    path = cache_dir() / "features" / f"{feature_cache_key(model, bare)}.safetensors"
    tensors = cached_tensors(path, lambda: encode(model, bare, collator, config.train.eval_batch_size, what, accelerator),
                             f"{what} features", writes=accelerator.is_main_process)
    return CachedFeatures(tensors["features"], tensors.get("lengths"), targets, token_lengths(inputs))


@torch.no_grad()
def encode(model: FeatureHeadModel, inputs, collator, batch_size: int, what: str, accelerator) -> dict[str, torch.Tensor]:
    model.eval()
    enable_packing(model)  # rows of similar length together, packed without padding; stored in input order
    loader = length_sorted_loader(inputs, batch_size, collator)
    rows: list[torch.Tensor] = []
    with progress_bar(accelerator, f"Encoding {what} features", total=len(loader)) as bar:
        for batch in loader:
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.autocast():
                features = model.extract(batch).float().cpu()
            if features.ndim == 3:
                mask = batch.get("attention_mask")
                row_lengths = (mask.sum(1).cpu() if mask is not None
                               else torch.full((len(features),), features.size(1)))
                rows += [row[:length] for row, length in zip(features, row_lengths.tolist())]  # right-padded
            else:
                rows += list(features)
            bar.advance()
    in_order = [rows[position] for position in np.argsort(loader.order)]
    if in_order and in_order[0].ndim == 2:  # token features: rows of different lengths, concatenated
        return {"features": torch.cat(in_order).contiguous(), "lengths": torch.tensor([len(r) for r in in_order])}
    return {"features": torch.stack(in_order).contiguous() if in_order else torch.zeros(0)}


def feature_cache_key(model: FeatureHeadModel, inputs) -> str:
    """The body's identity, the feature settings and every input tensor (see `tensor_cache.cache_key`)."""
    checkpoint = getattr(model.body, "name_or_path", "") or getattr(model.body.config, "_name_or_path", "")
    return cache_key(checkpoint, model.body.config, {"kind": model.kind, "pooling": model.settings.pooling,
                                                     "layers": model.settings.layers}, inputs)
