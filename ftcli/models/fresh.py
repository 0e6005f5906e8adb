"""A fresh (randomly initialised) model of one of ftcli's architectures, sized by the user and
matched to a tokenizer, written as an ordinary checkpoint directory so every command loads it
the way it loads a Hub checkpoint: `ftcli pretrain --config`, and `ftcli models init` for the
from-scratch baseline that pre-training is compared with."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ftcli.errors import UserError
from ftcli.ownership import atomic_directory
from ftcli.paths import cache_dir

# The size flags in each architecture's own config names (where transformers' attribute_map has no alias).
_INTERMEDIATE = {"gpt2": "n_inner", "distilbert": "hidden_dim"}


def read_spec(config: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """`config` is a model type (bert, albert, electra, distilbert, gpt2) or a JSON file of config
    keys (with `model_type`); size flags that are set override it."""
    from ftcli.models.registry import architectures

    path = Path(config)
    if path.suffix == ".json" or path.is_file():
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"--config {config}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"--config {config}: not valid JSON ({err})") from None
        if not isinstance(spec, dict) or "model_type" not in spec:
            raise UserError(f"--config {config}: a JSON object with a model_type key is needed")
    else:
        spec = {"model_type": config}
    if spec["model_type"] not in architectures():
        raise UserError(f"--config: unknown architecture '{spec['model_type']}'; "
                        f"available: {', '.join(sorted(architectures()))}")
    intermediate = _INTERMEDIATE.get(spec["model_type"], "intermediate_size")
    names = {"hidden_size": "hidden_size", "layers": "num_hidden_layers", "heads": "num_attention_heads",
             "intermediate_size": intermediate, "embedding_size": "embedding_size"}
    for flag, value in sizes.items():
        if value is not None:
            spec[names[flag]] = value
    return spec


def build_config(spec: dict[str, Any], tokenizer, max_positions: int):
    """The architecture's config from `spec`, with the tokenizer's vocabulary and special ids."""
    from ftcli.models.registry import architectures

    values = {k: v for k, v in spec.items() if k != "model_type"}
    values.setdefault("max_position_embeddings", max_positions)
    values.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    for name in ("bos", "eos"):  # the tokenizer's, or none (an architecture's default may lie outside this vocabulary)
        values[f"{name}_token_id"] = getattr(tokenizer, f"{name}_token_id")
    from huggingface_hub.errors import StrictDataclassError

    try:
        config = architectures()[spec["model_type"]].config_class(**values)
    except (TypeError, ValueError, StrictDataclassError) as err:  # transformers' configs validate field types
        raise UserError(f"--config: {str(err).splitlines()[0]}") from None
    hidden, heads = config.hidden_size, config.num_attention_heads
    if hidden % heads:
        raise UserError(f"--config: hidden size {hidden} is not a multiple of the {heads} attention heads")
    return config


def write_fresh(spec: dict[str, Any], tokenizer_dir: str, target: Path | None = None, seed: int = 0,
                max_positions: int = 512) -> Path:
    """Write config, random weights (seeded) and tokenizer to `target` (default: a folder in the
    cache named by the spec, tokenizer and seed, reused when it exists)."""
    from ftcli.models.loading import load_tokenizer
    from ftcli.models.registry import architectures

    tokenizer = load_tokenizer(tokenizer_dir)
    config = build_config(spec, tokenizer, max_positions)
    if target is None:
        key = json.dumps({"spec": spec, "seed": seed, "positions": max_positions,
                          "tokenizer": _files_digest(Path(tokenizer_dir))}, sort_keys=True)
        target = cache_dir() / "fresh" / f"{spec['model_type']}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
            return target
    model_class = architectures()[spec["model_type"]].auto_classes["AutoModel"]
    torch.manual_seed(seed)
    model = model_class(config)
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"random initialisation (seed {seed}) of {json.dumps(spec, sort_keys=True)}; "
                                        f"tokenizer from {tokenizer_dir}\n")
    return target


def is_fresh(checkpoint: str) -> bool:
    """Whether `checkpoint` is a folder `write_fresh` made: random weights, nothing pretrained."""
    source = Path(checkpoint) / "SOURCE"
    return source.is_file() and source.read_text().startswith("random initialisation")


def _files_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# -- a small random ViT to start image tasks from (the `vit-tiny-random` alias) ---------------------

RANDOM_VIT = dict(image_size=32, patch_size=4, num_channels=3, hidden_size=64, num_hidden_layers=4,
                  num_attention_heads=4, intermediate_size=128)
RANDOM_VIT_SEED = 0


def build_random_vit(target: Path) -> Path:
    """A ViT body with random weights (fixed seed) and a 32x32 ViT image processor, saved once
    as safetensors into `target` (the `vit-tiny-random` alias). There is nothing pretrained
    about it: it is for image tasks small enough to learn from scratch (digits, CIFAR-10)."""
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(RANDOM_VIT_SEED)
        # The classification head brings its own pooling (the [CLS] token): no pooler here.
        model = ViTModel(ViTConfig(**RANDOM_VIT), add_pooling_layer=False)
    size = RANDOM_VIT["image_size"]
    processor = ViTImageProcessorPil(size={"height": size, "width": size})
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"random initialisation (torch seed {RANDOM_VIT_SEED}), not pretrained\n")
    return target
