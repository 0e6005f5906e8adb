"""LoRA (Hu et al., 2021): low-rank update matrices beside the attention projections train; the
pretrained weights stay fixed. The new task head trains in full and is saved with the adapter.

A run's model/ holds the adapter merged into the weights (`merge_and_unload`): a plain transformers
checkpoint that `from_pretrained` and `pipeline` load with the same predictions as ftcli, no peft
needed; the adapter itself (peft's files, a few MB) is in model/adapter/.

Target modules come from peft's table for the architecture (query/value projections: `query`,
`value` in BERT-style models, `q_proj`, `v_proj` in Llama-style ones, `c_attn` in GPT-2)
unless `peft.target_modules` names others. `ftcli export` merges the adapter into the weights.
"""

from __future__ import annotations

import copy
from pathlib import Path

from peft import LoraConfig
from torch import nn
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

from ftcli import assets
from ftcli.errors import UserError
from ftcli.strategies.adapters import (AdapterStrategy, holds_adapter, modules_to_save, peft_task_type, save_adapter,
                                      unwrap)
from ftcli.strategies.base import Strategy

ADAPTER_DIR = "adapter"

# Query/value projection names across transformers' implementations, tried in turn when peft's
# table has no entry for the architecture (ViT, ALBERT, DistilBERT) or its names are not in the
# model (transformers 5 renamed ViT's query/value to q_proj/v_proj).
QUERY_VALUE_NAMES = (["query", "value"], ["q_proj", "v_proj"], ["q_lin", "v_lin"], ["c_attn"])


class LoraStrategy(AdapterStrategy):
    name = "lora"

    def peft_config(self, model, task, config, checkpoint):
        settings = config.peft
        if settings.lora_r < 1:
            raise UserError(f"peft.lora_r must be at least 1, got {settings.lora_r}")
        return LoraConfig(
            task_type=peft_task_type(task), r=settings.lora_r, lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout, target_modules=target_modules(model, settings.target_modules),
            modules_to_save=modules_to_save(model, task),
        )

    def model_usage(self, auto_class: str, processor_class: str, base_model: str) -> str:
        return f"""`model/` holds the LoRA adapter merged into full weights: plain transformers loads it.

{super().model_usage(auto_class, processor_class, base_model)}
The adapter alone (peft, a few MB) is in `model/adapter/`:
`PeftModel.from_pretrained({auto_class}.from_pretrained("{base_model}", num_labels=...), "model/adapter")`.
"""

    def save(self, model, model_dir: Path) -> None:
        peft_model = unwrap(model)
        save_adapter(peft_model, model_dir / ADAPTER_DIR)
        merged = copy.deepcopy(peft_model).merge_and_unload()  # a copy: the trained model stays as it is
        merged.save_pretrained(model_dir, safe_serialization=True)

    def holds_full_weights(self, model_dir: Path) -> bool:
        return not holds_adapter(model_dir)  # merged, unless saved before model/ was merged

    def export_model(self, model_dir: Path, target: Path, config) -> str:
        if not holds_adapter(model_dir):  # model/ is merged already
            return super().export_model(model_dir, target, config)
        # A run saved before model/ was merged: merge its adapter into the base weights now.
        from ftcli.models.loading import read_config
        from ftcli.tasks import get_task

        base_config = read_config(assets.resolve_model(config.model.name), config.model.trust_remote_code)
        task = get_task(config.task, config.options).bind(base_config)
        self.load(model_dir, task, config).merge_and_unload().save_pretrained(target, safe_serialization=True)
        task.load_processor(str(model_dir)).save_pretrained(target)
        return "merged"

    def load(self, model_dir, task, config):
        if holds_adapter(model_dir):  # a run saved before model/ was merged
            return super().load(model_dir, task, config)
        return Strategy.load(self, model_dir, task, config)


def target_modules(model, requested: str | None) -> list[str]:
    """The user's comma-separated names (checked against the model), else peft's default for
    the architecture."""
    module_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if requested:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        missing = [n for n in names if n not in module_names]
        if missing:
            raise UserError(f"peft.target_modules: {', '.join(missing)} not found in this model "
                            f"(linear layers include: {', '.join(sorted(linear_names(model))[:12])})")
        return names
    model_type = model.config.model_type
    candidates = [TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type) or [], *QUERY_VALUE_NAMES]
    names = next((list(c) for c in candidates if c and all(n in module_names for n in c)), None)
    if not names:
        raise UserError(f"no default LoRA target modules for {model_type}; name them with "
                        f"--set peft.target_modules=... (linear layers: {', '.join(sorted(linear_names(model))[:12])})")
    return names


def linear_names(model) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
