"""Contrastive few-shot fine-tuning (SetFit, Tunstall et al. 2022): a sentence encoder learns from pairs of
labelled rows which rows belong together, and a linear head classifies its embeddings.

    pairs   each round pairs every training row once with another row of its label (similarity 1) and once
            with a row of another label (similarity 0): 2 x `contrastive.num_iterations` pairs per row,
            balanced, drawn with the run's seed (`sample_pairs`)
    body    the cosine similarity of a pair's two mean-pooled embeddings is pulled to the pair's similarity
            by mean squared error (SetFit's default CosineSimilarityLoss)
    head    a linear layer on the (unit-length) embeddings, trained by cross-entropy in the same steps on
            the embeddings with their gradient cut, so the body learns from the pairs alone

Both train in ftcli's one loop (checkpoints, resume, several processes): a training batch is B pairs, the
body sees their 2B rows at once. SetFit fits a logistic regression on the final embeddings instead of the
in-loop head; measured side by side (rt-sentiment, MiniLM, 16 examples, 3 seeds, 500 test rows) the two heads
scored 60.3% and 60.1%, so the head needs no second phase outside the loop.

A run's model/ is the fine-tuned encoder (config.json + model.safetensors: transformers' AutoModel loads it,
and the sentence-transformers files beside it let `SentenceTransformer("model")` load it with its pooling)
plus the head (`contrastive_head.safetensors`, settings in `contrastive_head.json`). A plain
AutoModelForSequenceClassification cannot hold it: BERT's classification head reads the [CLS] token
through its pooler, not the mean of the tokens.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset
from transformers.modeling_outputs import SequenceClassifierOutput

from ftcli.config import RunConfig
from ftcli.data.labels import SINGLE
from ftcli.errors import UserError
from ftcli.models.loading import load_model
from ftcli.strategies.base import Strategy, TrainingData
from ftcli.tasks.base import Task, model_inputs

HEAD_WEIGHTS = "contrastive_head.safetensors"
HEAD_CONFIG = "contrastive_head.json"


class ContrastiveStrategy(Strategy):
    name = "contrastive"
    plain_transformers = ("model/ holds the fine-tuned sentence encoder (transformers' AutoModel or sentence-transformers "
                          "load it) and a linear head on its mean-pooled embeddings, which plain transformers cannot load "
                          "as one classifier: use `ftcli predict` / `ftcli evaluate` on the run (README.md in the run "
                          "shows the few lines that apply the head)")
    exports_onnx = False
    # One label per row of text (or a text pair): pairs of rows are similar when their labels are equal.
    output_kinds = frozenset({"sequence"})
    modalities = frozenset({"text"})

    def check(self, task, config, model_config):
        super().check(task, config, model_config)
        problem_type = getattr(task, "problem_type", SINGLE)
        if problem_type not in (SINGLE, "auto"):
            raise UserError(f"--strategy contrastive pairs rows by their one label; for {problem_type} use "
                            "--strategy full or lora")
        if getattr(config.train, "class_weights", "none") != "none":
            raise UserError("--strategy contrastive takes no train.class_weights (its pairs are half similar, half "
                            "dissimilar, whatever the labels' shares); use --strategy full or lora to weigh the labels")

    def build(self, checkpoint, task, labels, config):
        body = load_model(checkpoint, "AutoModel", config.model.trust_remote_code)
        return ContrastiveModel(body, list(labels or []), config.contrastive.normalize)

    def training_data(self, model, train_features, eval_features, task, processor, config, accelerator):
        rows = model_inputs(train_features, task)
        settings = config.contrastive
        pairs = sample_pairs(rows["labels"], settings.num_iterations, config.train.seed, settings.max_pairs)
        collator = PairCollator(task.collator(processor))
        return TrainingData(PairDataset(rows, pairs), {name: model_inputs(f, task) for name, f in eval_features.items()},
                            collator)

    def model_usage(self, auto_class: str, processor_class: str, base_model: str) -> str:
        return f"""`model/` holds `{base_model}` fine-tuned on sentence pairs (SetFit) and a linear head on its
mean-pooled embeddings (`{HEAD_WEIGHTS}`, settings in `{HEAD_CONFIG}`); ftcli loads both. Without ftcli:

```python
import json, torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

body, tokenizer = AutoModel.from_pretrained("model"), AutoTokenizer.from_pretrained("model")
head, settings = load_file("model/{HEAD_WEIGHTS}"), json.load(open("model/{HEAD_CONFIG}"))
batch = tokenizer(["a moving, beautifully acted film"], padding=True, truncation=True, return_tensors="pt")
with torch.no_grad():
    mask = batch["attention_mask"].unsqueeze(-1).float()
    embedding = (body(**batch).last_hidden_state * mask).sum(1) / mask.sum(1)
    if settings["normalize"]:
        embedding = torch.nn.functional.normalize(embedding, dim=-1)
    logits = embedding @ head["weight"].T + head["bias"]
print(settings["labels"][int(logits.argmax(-1))])
```

`SentenceTransformer("model")` (sentence-transformers) gives the same embeddings.
"""

    def save(self, model, model_dir: Path) -> None:
        model.body.save_pretrained(model_dir, safe_serialization=True)
        save_file({k: v.detach().contiguous() for k, v in model.head.state_dict().items()}, str(model_dir / HEAD_WEIGHTS))
        (model_dir / HEAD_CONFIG).write_text(json.dumps(model.describe(), indent=2) + "\n")
        write_sentence_transformers_files(model_dir, model.body.config.hidden_size, model.normalize)

    def load(self, model_dir: Path, task: Task, config: RunConfig | None) -> nn.Module:
        saved = json.loads((model_dir / HEAD_CONFIG).read_text())
        trust = config.model.trust_remote_code if config is not None else False
        model = ContrastiveModel(load_model(str(model_dir), "AutoModel", trust), saved["labels"], saved["normalize"])
        model.head.load_state_dict(load_file(str(model_dir / HEAD_WEIGHTS)))
        return model.eval()


class ContrastiveModel(nn.Module):
    """A sentence encoder (mean pooling) and a linear head. A batch with `similarity` holds pairs (its first
    half the pairs' first rows, its second half their partners): the loss is the pairs' cosine loss plus the
    head's cross-entropy on the embeddings with their gradient cut. Without it, a batch of rows is classified."""

    base_model_prefix = "body"

    def __init__(self, body: nn.Module, labels: list[str], normalize: bool = True):
        super().__init__()
        self.body, self.labels, self.normalize = body, labels, normalize
        self.config = body.config
        self.config.id2label = dict(enumerate(labels))
        self.config.label2id = {label: i for i, label in enumerate(labels)}
        self.config.problem_type = SINGLE
        for name, parameter in body.named_parameters():
            # The pooler reads [CLS]: unused by mean pooling, so frozen (several processes need every
            # trainable weight to get a gradient).
            parameter.requires_grad_(not name.startswith("pooler."))
        self.head = nn.Linear(body.config.hidden_size, len(labels))

    def describe(self) -> dict:
        return {"pooling": "mean", "normalize": self.normalize, "labels": self.labels}

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The rows' mean-pooled token vectors (the padding left out), in float32."""
        hidden = self.body(**inputs).last_hidden_state.float()
        mask = inputs.get("attention_mask")
        if mask is None:
            return hidden.mean(1)
        mask = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)

    def classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        features = F.normalize(embeddings, dim=-1) if self.normalize else embeddings
        return self.head(features.to(self.head.weight.dtype)).float()

    def forward(self, labels=None, similarity=None, **inputs):
        embeddings = self.embed(inputs)
        if similarity is None:
            logits = self.classify(embeddings)
            loss = F.cross_entropy(logits, labels) if labels is not None else None
            return SequenceClassifierOutput(loss=loss, logits=logits)
        first, second = embeddings.chunk(2)
        pair_loss = F.mse_loss(F.cosine_similarity(first, second), similarity.float())
        logits = self.classify(embeddings.detach())  # the head learns; the body learns from the pairs only
        head_loss = F.cross_entropy(logits, labels)
        out = SequenceClassifierOutput(loss=pair_loss + head_loss, logits=logits)
        out.loss_parts = {"pair": pair_loss.detach(), "head": head_loss.detach()}  # both reach log.jsonl
        return out


def sample_pairs(labels: list, num_iterations: int, seed: int, max_pairs: int | None = None
                 ) -> list[tuple[int, int, float]]:
    """(row, partner, similarity) triples: each round pairs every row with another row of its label (itself
    when it is its label's only row) and with a row of another label, round after round (the loader shuffles
    them) up to `max_pairs`. Seeded by `seed` alone, not the global RNG: every process and a resumed run draw
    the same pairs."""
    rng = random.Random(seed)
    by_label: dict = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    if len(by_label) < 2:
        raise UserError("--strategy contrastive needs training rows of at least two labels (it pairs rows of "
                        f"different labels); the training data has only {next(iter(by_label), 'no label')!r}")
    position = {index: k for rows in by_label.values() for k, index in enumerate(rows)}
    others = {label: [i for i, other in enumerate(labels) if other != label] for label in by_label}
    pairs: list[tuple[int, int, float]] = []
    for _ in range(num_iterations):
        round_pairs = []
        for index, label in enumerate(labels):
            same = by_label[label]
            partner = index
            if len(same) > 1:  # another row of the label, drawn uniformly: skip the row's own place
                k = rng.randrange(len(same) - 1)
                partner = same[k + (k >= position[index])]
            round_pairs += [(index, partner, 1.0), (index, rng.choice(others[label]), 0.0)]
        rng.shuffle(round_pairs)  # a cap that cuts a round still keeps it about half similar
        pairs += round_pairs
        if max_pairs is not None and len(pairs) >= max_pairs:
            return pairs[:max_pairs]
    return pairs


class PairDataset(Dataset):
    """Pairs of tokenized rows with their similarity (what the training loader batches)."""

    def __init__(self, rows, pairs: list[tuple[int, int, float]]):
        self.rows, self.pairs = rows, pairs
        lengths = [len(ids) for ids in rows["input_ids"]]
        self.token_lengths = [max(lengths[i], lengths[j]) for i, j, _ in pairs]
        """Tokens of a pair's longer row: length-grouped batching (train.group_by_length) groups on them."""

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        first, second, similarity = self.pairs[index]
        return {"similarity": similarity, "pair": (self.rows[first], self.rows[second])}


class PairCollator:
    """A batch of B pairs -> {similarity (B), the task collator's batch of the 2B rows (first rows, then their
    partners)}; a batch of plain rows (the validation and test splits) goes to the task collator as it is."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        if "pair" not in rows[0]:
            return self.collator(rows)
        members = [row["pair"][0] for row in rows] + [row["pair"][1] for row in rows]
        # similarity first: the loop counts a batch's examples on its first tensor, and the examples are the pairs
        return {"similarity": torch.tensor([row["similarity"] for row in rows]), **self.collator(members)}


def write_sentence_transformers_files(model_dir: Path, width: int, normalize: bool) -> None:
    """modules.json and 1_Pooling/ (sentence-transformers' layout): `SentenceTransformer(model_dir)` loads the
    encoder with mean pooling (and normalization), the embeddings the head reads."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (model_dir / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": width, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
