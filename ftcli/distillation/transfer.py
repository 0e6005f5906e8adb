"""The transfer set (`distill --transfer TEXT`): unlabelled text that the teacher labels for the student,
Hinton et al.'s transfer set and the task distillation of DistilBERT / TinyBERT practice.

Its rows join the labelled training rows with no hard label (`labelled` 0); every training row carries the
teacher's logits (`teacher_logits`), computed once before training and kept in ftcli's cache, so a second
run on the same teacher and text does not run the teacher again. The soft-target loss reads them instead of
running the teacher each epoch; the hard-label loss covers the labelled rows only (`Distillation.forward`).
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset, concatenate_datasets

from ftcli.batching import length_sorted_loader
from ftcli.config import RunConfig
from ftcli.errors import UserError
from ftcli.paths import cache_dir
from ftcli.progress import console, progress_bar
from ftcli.tasks.base import Task, model_inputs
from ftcli.tensor_cache import cache_key, cached_tensors

TEACHER_LOGITS, LABELLED = "teacher_logits", "labelled"
"""The columns every training row gets when there is a transfer set."""


def check_transfer(config: RunConfig, task: Task) -> tuple[Dataset, dict[str, str]] | None:
    """Refuse, before any work, a transfer set the run cannot use; else its rows and columns (`read_transfer_rows`),
    None without one."""
    transfer = config.distill.transfer
    if transfer is None:
        return None
    if task.output_kind != "sequence":
        raise UserError(f"--transfer gives the student text with one teacher prediction per row: it serves the "
                        f"classification and nli tasks, not {task.name}")
    if config.distill.alpha == 0:
        raise UserError("--transfer rows learn the teacher's soft targets only, which distill.alpha=0 turns off; "
                        "give alpha > 0 (default 0.5)")
    if transfer in (config.data.eval, config.data.validation):
        which = "test" if transfer == config.data.eval else "validation"
        raise UserError(f"--transfer {transfer} is the {which} data: the teacher's labels on it would train the "
                        "student on the rows it is scored on")
    return read_transfer_rows(config, task)  # a set without the task's columns or text is refused here


def read_transfer_rows(config: RunConfig, task: Task) -> tuple[Dataset, dict[str, str]]:
    """The transfer rows (see `transfer_rows`), and the task's columns they are read by."""
    from ftcli.data.columns import resolve_columns

    settings = config.distill
    columns = resolve_columns(task.fields, config.data.columns, task.name)
    rows = transfer_rows(settings.transfer, list(task.text_fields), columns, settings.transfer_limit,
                         config.train.seed)
    return rows, columns


def transfer_rows(spec: str, fields: list[str], columns: dict[str, str], limit: int | None, seed: int) -> Dataset:
    """The transfer set's rows that have text in every input column of the task (its labels, if any, are
    never read): a text file or folder, a catalogue alias (its training split), or a data file."""
    from ftcli.data.sources import load_train_split

    rows = load_train_split(spec)
    wanted = [columns[f] for f in fields]
    if len(wanted) == 1 and wanted[0] not in rows.column_names and "text" in rows.column_names:
        rows = rows.rename_column("text", wanted[0])  # running text given to a task that maps its text column
    missing = [c for c in wanted if c not in rows.column_names]
    if missing:
        raise UserError(f"transfer set {spec} has no '{missing[0]}' column (columns: {', '.join(rows.column_names)}); "
                        f"it needs the task's input columns: {', '.join(wanted)}")
    rows = rows.select_columns(wanted)
    usable = [i for i, row in enumerate(zip(*(rows[c] for c in wanted)))
              if all(isinstance(text, str) and text.strip() for text in row)]
    if not usable:
        raise UserError(f"transfer set {spec} holds no text in {', '.join(wanted)}")
    rows = rows.select(usable)
    if limit is not None and limit < rows.num_rows:
        rows = rows.shuffle(seed=seed).select(range(limit))
    return rows


def with_transfer_set(teacher, train_features: Dataset, transfer_set: tuple[Dataset, dict[str, str]], task: Task,
                      processor, config: RunConfig, accelerator) -> Dataset:
    """The labelled training features and those of the transfer set's rows (read by `check_transfer`), every row
    with the teacher's logits."""
    settings = config.distill
    rows, columns = transfer_set
    transfer = task.preprocess(rows, processor, columns, None, config.model.max_length, with_labels=False)
    labelled = model_inputs(train_features, task)
    inputs = concatenate_datasets([labelled.remove_columns("labels"), transfer])
    collator = task.collator(processor)
    checkpoint = str(getattr(teacher.config, "_name_or_path", ""))  # its config holds the data's label order
    path = cache_dir() / "teacher-logits" / f"{cache_key(checkpoint, teacher.config, {}, inputs)}.safetensors"
    with accelerator.main_process_first():
        logits = cached_tensors(path, lambda: teacher_logits(teacher, inputs, collator, config, accelerator),
                                "teacher logits", writes=accelerator.is_main_process)["logits"]
    console.print(f"transfer set: {rows.num_rows:,} rows of {settings.transfer} (no labels read), beside "
                  f"{labelled.num_rows:,} labelled rows; the teacher's logits on all of them are computed once")
    blank = placeholder_label(labelled["labels"][0])
    transfer = transfer.add_column("labels", [blank] * transfer.num_rows)
    transfer = transfer.cast_column("labels", labelled.features["labels"])
    combined = concatenate_datasets([labelled.add_column(LABELLED, [1] * labelled.num_rows),
                                     transfer.add_column(LABELLED, [0] * transfer.num_rows)])
    return combined.add_column(TEACHER_LOGITS, logits.tolist())


def placeholder_label(example):
    """A label of the labelled rows' shape that no loss reads (the row's `labelled` is 0)."""
    if isinstance(example, list):
        return [0.0] * len(example)
    return 0.0 if isinstance(example, float) else 0


@torch.no_grad()
def teacher_logits(teacher, inputs: Dataset, collator, config: RunConfig, accelerator) -> dict[str, torch.Tensor]:
    """The teacher's logits on every row of `inputs`, in their order (float32)."""
    teacher.to(accelerator.device)
    loader = length_sorted_loader(inputs, config.train.eval_batch_size, collator)
    rows: list[torch.Tensor] = []
    with progress_bar(accelerator, "Teacher logits", total=len(loader)) as bar:
        for batch in loader:
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.autocast():
                rows += list(teacher(**batch).logits.float().cpu())
            bar.advance()
    in_order = [rows[position] for position in np.argsort(loader.order)]
    return {"logits": torch.stack(in_order).contiguous()}
