"""The single evaluation loop: task-chosen outputs over a dataloader, gathered across processes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from accelerate import Accelerator

from ftcli.batching import in_input_order
from ftcli.progress import progress_bar

PAD = -100
"""Fills ragged per-token outputs (and matches the ignored-label id)."""


@dataclass
class Outputs:
    gathered: dict[str, np.ndarray]
    """Per-example arrays in dataloader order; `labels` included when the batches carry them."""
    loss: float | None


@torch.no_grad()
def collect_outputs(model, dataloader, accelerator: Accelerator, task, description: str = "Evaluating",
                    order: list[int] | None = None) -> Outputs:
    """Run `task.batch_outputs` in eval mode over `dataloader`. `gather_for_metrics` drops the
    samples accelerate repeats to fill the last batch when several processes evaluate. `order`
    (a length-sorted loader's, see ftcli.batching) puts the rows back in the features' order."""
    was_training = model.training
    model.eval()
    pieces: dict[str, list[np.ndarray]] = {}
    losses: list[torch.Tensor] = []
    with progress_bar(accelerator, description, total=len(dataloader), transient=True) as bar:
        for batch in dataloader:
            with accelerator.autocast():
                outputs, loss = task.batch_outputs(model, batch)
            if "labels" in batch:
                outputs = {**outputs, "labels": batch["labels"]}
            for key, tensor in outputs.items():
                if tensor.ndim > 1:
                    tensor = accelerator.pad_across_processes(tensor, dim=1, pad_index=PAD)
                pieces.setdefault(key, []).append(accelerator.gather_for_metrics(tensor).cpu().numpy())
            if loss is not None:
                # The batch's mean once per row, gathered like the outputs: rows accelerate repeated to
                # even out the processes' last batches are dropped, so each row counts once. Kept on the
                # device until the end (no host-device sync per batch).
                size = len(next(iter(batch.values())))
                losses.append(accelerator.gather_for_metrics(loss.detach().float().reshape(1).repeat(size)))
            bar.advance()
    model.train(was_training)
    return Outputs(
        gathered=in_input_order({key: concat_padded(arrays) for key, arrays in pieces.items()}, order),
        loss=torch.cat(losses).mean().item() if losses else None,
    )


def score_dataset(model, dataloader, accelerator: Accelerator, task, data, description: str = "Evaluating",
                  order: list[int] | None = None, collect=None) -> tuple[dict[str, float], float]:
    """The one way a model is scored on held-out rows (validation, test, `evaluate`, a teacher): the task's
    metrics of `model` over `dataloader` (`data`: the `EvalData` its features came from), with the mean
    `loss` when the batches carry labels; and the seconds the model pass took (post-processing and
    metrics apart, as the Trainer's `eval_samples_per_second` counts). `collect` replaces
    `collect_outputs` (the training loop passes its own reference)."""
    start = time.perf_counter()
    outputs = (collect or collect_outputs)(model, dataloader, accelerator, task, description, order)
    seconds = time.perf_counter() - start
    metrics = task.compute_metrics(outputs.gathered, data)
    if outputs.loss is not None:
        metrics["loss"] = outputs.loss
    return metrics, seconds


def concat_padded(arrays: list[np.ndarray], pad: float = PAD) -> np.ndarray:
    """Concatenate along the first axis, padding the others (ragged sequence lengths) with `pad`."""
    if not arrays:
        return np.zeros((0,))
    if all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays)
    shape = [max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim)]
    out = np.full((sum(len(a) for a in arrays), *shape), pad, dtype=np.result_type(*arrays))
    start = 0
    for a in arrays:
        out[(slice(start, start + len(a)), *(slice(0, s) for s in a.shape[1:]))] = a
        start += len(a)
    return out
