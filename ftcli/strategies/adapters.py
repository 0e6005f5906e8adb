"""What the two peft strategies (prompt-tuning, lora) share: wrapping the model with peft, the
task head trained and saved beside the adapter (`modules_to_save`), and saving / loading a run
that holds only the adapter, the head and a pointer to its base model.

A prompt-tuning run's model/ folder: adapter_config.json + adapter_model.safetensors (peft),
labels.json (the head's label names), and the tokenizer; the base model is the run's `model.name`
(an alias is resolved again on load). A soft prompt is an input, not a weight: nothing merges it,
so plain transformers cannot load it (the model card says how to, with peft). A LoRA run's model/
is the adapter merged into full weights, which plain transformers and `pipeline` load, with the
adapter itself in model/adapter/ (see `LoraStrategy`).
"""

from __future__ import annotations

import json
from pathlib import Path

from peft import PeftConfig, PeftModel, TaskType, get_peft_model
from torch import nn

from ftcli import assets
from ftcli.config import RunConfig
from ftcli.errors import UserError
from ftcli.models.loading import load_model
from ftcli.models.wrappers import saved_model
from ftcli.strategies.base import Strategy, head_module_names
from ftcli.tasks.base import Task

LABELS_FILE = "labels.json"


class AdapterStrategy(Strategy):
    """Base for strategies whose trainable part is a peft adapter."""

    def peft_config(self, model: nn.Module, task: Task, config: RunConfig, checkpoint: str) -> PeftConfig:
        raise NotImplementedError

    def build(self, checkpoint, task, labels, config):
        model = super().build(checkpoint, task, labels, config)
        peft_model = get_peft_model(model, self.peft_config(model, task, config, checkpoint))
        return self.wrap(peft_model, task)

    def wrap(self, peft_model: nn.Module, task: Task) -> nn.Module:
        """Hook for the prompt-tuning label alignment; LoRA needs none."""
        return peft_model

    def save(self, model, model_dir: Path) -> None:
        save_adapter(unwrap(model), model_dir)

    def load(self, model_dir: Path, task: Task, config: RunConfig | None) -> nn.Module:
        if config is None:
            raise UserError(f"{model_dir} is a {self.name} adapter: evaluate or predict its run directory")
        labels = json.loads((model_dir / LABELS_FILE).read_text())["labels"]
        base_checkpoint = assets.resolve_model(config.model.name)
        base = load_model(base_checkpoint, task.auto_class_for, config.model.trust_remote_code,
                          **task.model_kwargs(labels))
        peft_model = PeftModel.from_pretrained(base, str(model_dir))
        peft_model.eval()
        return self.wrap(peft_model, task)


def holds_adapter(folder: str | Path) -> bool:
    """A peft adapter folder (a prompt-tuning run's model/, or a LoRA run saved before model/ was merged)."""
    return (Path(folder) / "adapter_config.json").is_file()


def save_adapter(peft_model, folder: Path) -> None:
    """The adapter and its head (peft's files) and labels.json; peft's empty model-card template is
    left out (the run's README.md is the card)."""
    peft_model.save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").unlink(missing_ok=True)
    # Language models carry transformers' default label map; only new heads have real labels.
    id2label = peft_model.get_base_model().config.id2label if peft_model.modules_to_save else None
    labels = [id2label[i] for i in sorted(id2label)] if id2label else None
    (folder / LABELS_FILE).write_text(json.dumps({"labels": labels}, indent=2) + "\n")


def peft_task_type(task: Task) -> TaskType | None:
    return TaskType[task.peft_task_type] if task.peft_task_type else None


def modules_to_save(model: nn.Module, task: Task) -> list[str] | None:
    """The new head trains in full and is saved with the adapter; an LM head is pretrained."""
    return head_module_names(model) if task.has_new_head else None


def unwrap(model: nn.Module) -> nn.Module:
    """The PeftModel inside our alignment wrapper (or the model itself)."""
    return saved_model(model)
