"""What every strategy provides to the runner and to `evaluate`/`predict`.

A strategy decides which pretrained weights move, and so also what a run saves:

    check(task, config, model_config)   refuse a (task, strategy, model) that makes no sense
    build(checkpoint, task, labels, config) -> the trainable model (frozen parts set)
    training_data(...)                  the datasets and collator the training loop sees
                                        (feature extraction swaps in cached features)
    save(model, model_dir)              the run's model/ folder (full weights, adapter + head...)
    load(model_dir, task, config)       that folder back, for evaluate / predict / export
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ftcli.config import RunConfig
from ftcli.errors import UserError
from ftcli.models.loading import load_model
from ftcli.models.wrappers import saved_model
from ftcli.tasks.base import Task, model_inputs


@dataclass
class TrainingData:
    train: Any
    evals: dict[str, Any]
    """Split name ("validation", "test") -> the rows the model is scored on."""
    collator: Any
    seconds: float = 0.0
    """Time spent preparing the training data (feature extraction: encoding it once)."""


class Strategy:
    name: str
    output_kinds: frozenset[str] | None = None
    """The task output kinds (`Task.output_kind`) this strategy can train; None: all of them."""
    modalities: frozenset[str] = frozenset({"text", "image"})
    """The inputs (`Task.modality`) it can work with."""
    plain_transformers: str | None = None
    """None when a run's model/ loads in plain transformers; else what it needs instead (said after the run)."""
    exports_onnx: bool = True
    """Whether `ftcli export --format onnx` can trace its model/ (full weights of a task model)."""

    def supports(self, task: Task) -> bool:
        # None means every downstream output kind; pre-training objectives ("pretrain") run only under
        # `ftcli pretrain`, whose strategy names that kind.
        kinds_ok = task.output_kind != "pretrain" if self.output_kinds is None else task.output_kind in self.output_kinds
        return task.modality in self.modalities and kinds_ok

    def supported_tasks(self) -> list[str]:
        from ftcli.tasks import available_tasks, get_task

        return [name for name in available_tasks() if self.supports(get_task(name))]

    def check_task(self, task: Task | str) -> None:
        if isinstance(task, str):
            task = self.task_named(task)
        if not self.supports(task):
            raise UserError(f"strategy {self.name} does not support the {task.name} task; it supports "
                            f"{', '.join(self.supported_tasks())}")

    def task_named(self, name: str) -> Task:
        """The task a recipe or a run's config names, for this strategy (pre-training: an objective)."""
        from ftcli.tasks import get_task

        return get_task(name)

    def check(self, task: Task, config: RunConfig, model_config) -> None:
        """Refuse settings that make no sense for this task and model (before the run starts)."""
        self.check_task(task)

    def build(self, checkpoint: str, task: Task, labels: list[str] | None, config: RunConfig) -> nn.Module:
        return load_model(checkpoint, task.auto_class_for, config.model.trust_remote_code,
                          **task.model_kwargs(labels))

    def training_data(self, model, train_features, eval_features: dict[str, Any], task: Task, processor,
                      config: RunConfig, accelerator) -> TrainingData:
        return TrainingData(model_inputs(train_features, task),
                            {name: model_inputs(f, task) for name, f in eval_features.items()},
                            task.collator(processor))

    def model_usage(self, auto_class: str, processor_class: str, base_model: str) -> str:
        """The model card's "Use" section: how to load what `save` wrote (plain transformers by default)."""
        return f"""```python
from transformers import {auto_class}, {processor_class}

model = {auto_class}.from_pretrained("model")
processor = {processor_class}.from_pretrained("model")
```
"""

    def served_as(self, task: str, run: Path) -> tuple[str, str]:
        """(task, strategy) that `evaluate` and `predict` load a finished run of this strategy as."""
        return task, self.name

    def holds_full_weights(self, model_dir: Path) -> bool:
        """model/ is a whole task model with its head (not an adapter, a soft prompt or a feature head)."""
        return self.plain_transformers is None

    def export_model(self, model_dir: Path, target: Path, config: RunConfig) -> str:
        """Write what `ftcli export` gives for a run's model/ into `target`; says how ("copied", "merged")."""
        import shutil

        shutil.copytree(model_dir, target, dirs_exist_ok=True)
        return "copied"

    def save(self, model, model_dir: Path) -> None:
        saved_model(model).save_pretrained(model_dir, safe_serialization=True)

    def load(self, model_dir: Path, task: Task, config: RunConfig | None) -> nn.Module:
        return load_model(str(model_dir), task.auto_class_for)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; shared (tied) tensors are counted once."""
    seen, trainable, total = set(), 0, 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return trainable, total


def head_parameter_names(model: nn.Module) -> set[str]:
    """The new task head's parameters: those outside the pretrained body (`base_model_prefix`),
    or, in a peft model, the head copies peft trains and saves (`modules_to_save`)."""
    names = [n for n, _ in model.named_parameters()]
    if any(type(m).__name__.startswith("PeftModel") for m in model.modules()):
        return {n for n in names if ".modules_to_save." in n}
    prefix = getattr(model, "base_model_prefix", "")
    return {n for n in names if prefix and not n.startswith(f"{prefix}.")}


def head_module_names(model: nn.Module) -> list[str]:
    """Top-level modules holding the new head (`classifier`, `qa_outputs`, `score`...)."""
    return sorted({name.split(".")[0] for name in head_parameter_names(model)})
