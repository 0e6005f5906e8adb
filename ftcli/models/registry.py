"""ftcli's own architectures, each declared by its package's `__init__.py`:

    ARCHITECTURE = Architecture(model_type="gpt2", config_class=GPT2Config,
                                auto_classes={"AutoModelForCausalLM": GPT2LMHeadModel, ...},
                                layer_pattern=r"(?:^|\\.)h\\.(\\d+)\\.", embedding_pattern=...)

Loading picks our class from a checkpoint's `model_type` and the Auto class a task asks for;
anything not declared here goes through transformers' Auto classes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Architecture:
    model_type: str
    """The `model_type` of the checkpoints it serves (config.json)."""
    config_class: Any
    auto_classes: dict[str, Any]
    """transformers Auto class name -> our class serving it."""
    layer_pattern: str
    """Regex whose group 1 is the transformer layer index in a parameter name."""
    embedding_pattern: str
    """Regex matching the embedding parameters (depth 0 for freezing and layer-wise decay)."""
    shared_layers: bool = False
    """One set of layer weights serves every layer (ALBERT): there is no per-layer freezing."""

    def layer_index(self, name: str) -> int | None:
        match = re.search(self.layer_pattern, name)
        return int(match.group(1)) if match else None

    def is_embedding(self, name: str) -> bool:
        return re.search(self.embedding_pattern, name) is not None


@cache
def architectures() -> dict[str, Architecture]:
    """model_type -> Architecture, from every package under ftcli.models that declares one."""
    import ftcli.models as package

    found = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            declared = getattr(importlib.import_module(f"ftcli.models.{module.name}"), "ARCHITECTURE", None)
            if declared is not None:
                found[declared.model_type] = declared
    return found


def architecture_of(model) -> Architecture | None:
    """The Architecture of a model (unwrapped from peft / feature heads by its config)."""
    config = getattr(model, "config", None)
    return architectures().get(getattr(config, "model_type", None))
