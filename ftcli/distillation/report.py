"""After a distillation run: the teacher scored on the run's test rows (the same features, batches and
metric code as the student's), both models timed, metrics.json updated and the model card given its
distillation section (rendered by ftcli.modelcard)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ftcli.config import RunConfig, TrainConfig
from ftcli.distillation.module import FrozenTeacher
from ftcli.distillation.teacher import TeacherRef, load_teacher
from ftcli.precision import half_dtype
from ftcli.tasks.base import EvalData, Task


@dataclass
class HeldOutRows:
    """A finished run's test split, preprocessed as the run did, with the student that was trained."""

    task: Task
    student: nn.Module
    labels: list[str]
    features: Any
    collator: Any
    data: EvalData


def held_out_rows(run_path: Path, saved: RunConfig) -> HeldOutRows:
    from ftcli.data.columns import resolve_columns
    from ftcli.data.sources import load_splits
    from ftcli.models.loading import load_model
    from ftcli.tasks import get_task

    d = saved.data
    splits = load_splits(d.train, d.eval, d.eval_fraction, saved.train.seed, d.limit_train, d.limit_eval,
                         d.validation, d.validation_fraction)
    checkpoint = str(run_path / "model")
    task = get_task(saved.task, saved.options)
    processor = task.load_processor(checkpoint)
    student = load_model(checkpoint, task.auto_class_for)
    id2label = student.config.id2label
    labels = [str(id2label[i]) for i in sorted(id2label)]
    label2id = {label: i for i, label in enumerate(labels)}
    columns = resolve_columns(task.fields, d.columns, task.name)
    features = task.preprocess(splits.eval, processor, columns, label2id, saved.model.max_length)
    return HeldOutRows(task, student, labels, features, task.collator(processor),
                    EvalData(splits.eval, features, columns, labels))


def score_teacher(teacher: FrozenTeacher, rows: HeldOutRows, train: TrainConfig) -> dict[str, float]:
    """The teacher's test metrics, through the evaluation loop the run scored the student with."""
    from torch.utils.data import DataLoader

    from ftcli.evaluation import score_dataset
    from ftcli.tasks.base import model_inputs
    from ftcli.training import make_accelerator

    accelerator = make_accelerator(train)
    loader = accelerator.prepare(DataLoader(model_inputs(rows.features, rows.task), batch_size=train.eval_batch_size,
                                            collate_fn=rows.collator))
    # Moved, not prepared: a model without trainable parameters cannot be wrapped for DDP.
    return score_dataset(teacher.to(accelerator.device), loader, accelerator, rows.task, rows.data,
                         "Testing the teacher")[0]


def add_teacher_report(run_path: Path, teacher: TeacherRef) -> dict[str, Any]:
    """Score the teacher on the run's test rows, time both models, and write it all into metrics.json
    (and the model card's distillation section)."""
    from accelerate import PartialState

    from ftcli.config import config_from_yaml
    from ftcli.modelcard import render_distillation_section, with_section
    from ftcli.paths import write_text_atomically
    from ftcli.rundir import CONFIG_FILE
    from ftcli.strategies.base import parameter_counts
    from ftcli.tasks.base import model_inputs

    saved = config_from_yaml(run_path / CONFIG_FILE)
    rows = held_out_rows(run_path, saved)
    teacher_model = FrozenTeacher(load_teacher(teacher, rows.task, rows.labels, saved.data.train,
                                               saved.model.trust_remote_code))
    teacher_metrics = score_teacher(teacher_model, rows, saved.train)

    metrics_file = run_path / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    state = PartialState()
    if state.is_main_process:
        timing_inputs = model_inputs(rows.features, rows.task).remove_columns(
            [c for c in ("labels",) if c in rows.features.column_names])
        speed = compare_speed(rows.student, teacher_model, timing_inputs, rows.collator, saved.train.eval_batch_size,
                              state.device, saved.train.mixed_precision)
        metrics.update({
            "teacher": teacher.spec,
            "distill_method": saved.distill.method,
            **{f"teacher_{k}": v for k, v in teacher_metrics.items()},
            "student_parameters": parameter_counts(rows.student)[1],
            "teacher_parameters": parameter_counts(teacher_model)[1],
            **speed,
        })
        write_text_atomically(metrics_file, json.dumps(metrics, indent=2) + "\n")
        card = run_path / "README.md"
        if card.is_file():
            section = render_distillation_section(saved.distill.method, teacher.spec, teacher_metrics, speed,
                                                  saved.distill.transfer)
            write_text_atomically(card, with_section(card.read_text(), section))
    state.wait_for_everyone()
    return metrics


def compare_speed(student: nn.Module, teacher: nn.Module, features, collator, batch_size: int, device,
                  mixed_precision: str = "no", repeats: int = 3) -> dict[str, Any]:
    """Inference speed of both models on the same batches: collated and moved to the device
    beforehand, a warm-up pass over up to 3 batches, then `repeats` timed passes over the whole
    test split, alternating the models; the fastest pass of each counts (like timeit)."""
    batches = [{k: v.to(device) for k, v in collator([features[i] for i in range(start, min(start + batch_size,
                                                                                              len(features)))]).items()}
               for start in range(0, len(features), batch_size)]
    dtype = half_dtype(mixed_precision)
    models = {"student": student.to(device).eval(), "teacher": teacher.to(device).eval()}
    best = {name: float("inf") for name in models}

    def one_pass(model, subset) -> float:
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        _synchronize(device)
        start = time.perf_counter()
        with torch.inference_mode(), autocast:
            for batch in subset:
                model(**batch)
        _synchronize(device)
        return time.perf_counter() - start

    for model in models.values():
        one_pass(model, batches[:3])
    for _ in range(repeats):
        for name, model in models.items():
            best[name] = min(best[name], one_pass(model, batches))
    rows = len(features)
    student_speed, teacher_speed = rows / max(best["student"], 1e-9), rows / max(best["teacher"], 1e-9)
    return {
        "student_examples_per_second": round(student_speed, 2),
        "teacher_examples_per_second": round(teacher_speed, 2),
        "speedup": round(student_speed / teacher_speed, 3),
        "speed_batch_size": batch_size,
        "speed_device": str(device),
    }


def _synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
