"""The teacher: found from what the user gave, loaded with its trained head in the data's label order,
and checked against the student before the training module is built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ftcli.config import RunConfig
from ftcli.distillation.attention import check_attention_support, hidden_width
from ftcli.distillation.module import Distillation, FrozenTeacher
from ftcli.errors import UserError
from ftcli.tasks.base import Task


@dataclass
class TeacherRef:
    spec: str
    """As the user gave it."""
    checkpoint: str
    """The folder holding its weights (a run's model/), an alias's folder, or a Hub id."""
    run_dir: Path | None = None


def resolve_teacher(spec: str) -> TeacherRef:
    """A run directory, its model/ folder, a checkpoint directory, a catalogue alias or a Hub id."""
    from ftcli import assets
    from ftcli.rundir import CONFIG_FILE, is_run_directory

    path = Path(spec).expanduser()
    if is_run_directory(path):
        return TeacherRef(spec, str(path / "model"), path)
    if path.name == "model" and is_run_directory(path.parent):
        return TeacherRef(spec, str(path), path.parent)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            raise UserError(f"teacher {spec} is an unfinished run (no model/ yet)")
        if not (path / "config.json").is_file():
            raise UserError(f"teacher {spec} is neither an ftcli run directory (config.yaml and model/) nor a "
                            "checkpoint directory (config.json)")
        return TeacherRef(spec, str(path))
    if path.exists():
        raise UserError(f"teacher {spec} is a file; give a run directory or a checkpoint directory")
    if spec in assets.MODELS:
        return TeacherRef(spec, assets.resolve_model(spec))
    first = Path(spec.split("/")[0]).expanduser()
    looks_like_hub_id = spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and not first.is_dir()
    if not looks_like_hub_id:
        raise UserError(f"teacher {spec} not found: give a run directory (from `ftcli finetune`), its model/ "
                        "folder, or a checkpoint directory with the task's head")
    return TeacherRef(spec, spec)


def teacher_task(teacher: TeacherRef) -> str | None:
    """The task a teacher run was trained for (None for a bare checkpoint)."""
    if teacher.run_dir is None:
        return None
    from ftcli.config import config_from_yaml
    from ftcli.rundir import CONFIG_FILE

    return config_from_yaml(teacher.run_dir / CONFIG_FILE).task


def load_teacher(teacher: TeacherRef, task: Task, labels: list[str], data_name: str,
                 trust_remote_code: bool = False) -> nn.Module:
    """The teacher with its trained head, its logits in the order of `labels` (the data's)."""
    from ftcli.models.loading import check_weights_file, load_model

    if teacher.run_dir is not None:
        from ftcli.config import config_from_yaml
        from ftcli.rundir import CONFIG_FILE
        from ftcli.strategies import get_strategy

        saved = config_from_yaml(teacher.run_dir / CONFIG_FILE)
        if saved.task != task.name:
            raise UserError(f"teacher {teacher.spec} is a {saved.task} run; distilling for {task.name} needs a "
                            f"{task.name} teacher")
        check_weights_file(teacher.checkpoint)
        model = get_strategy(saved.strategy).load(Path(teacher.checkpoint), task, saved)
    else:
        model = load_model(teacher.checkpoint, task.auto_class_for, trust_remote_code)
        missing = getattr(model, "ftcli_new_weights", [])
        if missing:
            raise UserError(f"teacher {teacher.spec} has no trained {task.name} head (its checkpoint lacks "
                            f"{', '.join(missing[:3])}); fine-tune it first: ftcli finetune {task.name} "
                            f"--model {teacher.spec}")
    check_same_problem_type(model.config, task, teacher.spec)
    id2label = getattr(model.config, "id2label", None) or {}
    teacher_labels = [str(id2label[i]) for i in sorted(id2label)]
    if sorted(teacher_labels) != sorted(labels):
        raise UserError(f"teacher {teacher.spec} was trained on labels {teacher_labels} but {data_name} has "
                        f"{list(labels)}")
    if teacher_labels != list(labels):
        reorder_outputs(model, [teacher_labels.index(label) for label in labels], f"teacher {teacher.spec}")
        model.config.id2label = dict(enumerate(labels))
        model.config.label2id = {label: i for i, label in enumerate(labels)}
    return model


def check_same_problem_type(teacher_config, task: Task, spec: str) -> None:
    """A teacher of label sets or numbers teaches a student of the same (the soft targets differ by type)."""
    from ftcli.data.labels import REGRESSION, SINGLE

    ours = getattr(task, "problem_type", None)
    if ours is None:  # NER: one label per token
        return
    theirs = getattr(teacher_config, "problem_type", None) or (  # transformers reads 1 output as regression
        REGRESSION if getattr(teacher_config, "num_labels", 2) == 1 else SINGLE)
    if theirs != (ours if ours != "auto" else SINGLE):
        raise UserError(f"teacher {spec} was trained for {theirs} but the data is {ours}; distill on data of "
                        "the teacher's problem type (or --set options.problem_type=...)")


def reorder_outputs(model: nn.Module, order: list[int], what: str) -> None:
    """Permute the head's output layer so that output j is the old output order[j]."""
    from ftcli.strategies.base import head_module_names

    heads = set(head_module_names(model))
    layers = [m for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and m.out_features == len(order) and name.split(".")[0] in heads]
    if len(layers) != 1:
        raise UserError(f"{what} lists the data's labels in another order and its output layer could not be "
                        "found to reorder them; fine-tune the teacher on this data")
    with torch.no_grad():
        layers[0].weight.copy_(layers[0].weight[order].clone())
        if layers[0].bias is not None:
            layers[0].bias.copy_(layers[0].bias[order].clone())


def check_same_tokenizer(student_checkpoint: str, teacher: TeacherRef, trust_remote_code: bool = False) -> None:
    """Both models read the same token ids, so their vocabularies must be the same."""
    from ftcli.models.loading import load_tokenizer

    student_vocab = load_tokenizer(student_checkpoint, trust_remote_code).get_vocab()
    teacher_vocab = load_tokenizer(teacher.checkpoint, trust_remote_code).get_vocab()
    if student_vocab != teacher_vocab:
        raise UserError(f"the student {student_checkpoint} and the teacher {teacher.spec} have different "
                        f"tokenizers ({len(student_vocab):,} vs {len(teacher_vocab):,} tokens); distillation feeds "
                        "both the same token ids: choose a student with the teacher's tokenizer, or "
                        "--init-from-teacher every-other-layer")


def build_distillation(student: nn.Module, student_checkpoint: str, task: Task, labels: list[str],
                       config: RunConfig) -> Distillation:
    """Load and check the teacher against the data and the student; wrap the student."""
    settings = config.distill
    teacher_ref = resolve_teacher(settings.teacher)
    teacher = load_teacher(teacher_ref, task, labels, config.data.train, config.model.trust_remote_code)
    check_same_tokenizer(student_checkpoint, teacher_ref, config.model.trust_remote_code)
    positions = (getattr(teacher.config, "max_position_embeddings", None)
                 or getattr(teacher.config, "n_positions", None))
    if isinstance(positions, int) and config.model.max_length > positions:
        raise UserError(f"--max-length {config.model.max_length} is more than the teacher {settings.teacher} has "
                        f"positions for ({positions})")
    if settings.init_from_teacher != "none":
        # The student's head was copied from the teacher's as saved: put it in the data's label order too.
        saved_order = json.loads((Path(student_checkpoint) / "config.json").read_text()).get("id2label") or {}
        saved_labels = [str(saved_order[k]) for k in sorted(saved_order, key=int)]
        if saved_labels and saved_labels != list(labels) and sorted(saved_labels) == sorted(labels):
            reorder_outputs(student, [saved_labels.index(label) for label in labels], "the student")
    student_width, teacher_width = hidden_width(student.config), hidden_width(teacher.config)
    if settings.cosine_weight > 0 and settings.method != "tinybert" and student_width != teacher_width:
        raise UserError(f"distill.cosine_weight compares hidden states, but the student's are {student_width} wide "
                        f"and the teacher's {teacher_width}; use --method tinybert (which learns a projection) "
                        "or set distill.cosine_weight=0")
    if settings.method == "tinybert":
        check_attention_support(student, "student", config.model.name)
        check_attention_support(teacher, "teacher", settings.teacher)
    return Distillation(student, FrozenTeacher(teacher), settings, token_level=task.output_kind == "token")
