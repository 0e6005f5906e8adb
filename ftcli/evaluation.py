"""The single evaluation loop: model outputs over a dataloader, gathered across processes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from accelerate import Accelerator

from ftcli.progress import progress_bar


@dataclass
class Outputs:
    logits: np.ndarray
    labels: np.ndarray | None
    loss: float | None


@torch.no_grad()
def collect_outputs(model, dataloader, accelerator: Accelerator, description: str = "Evaluating") -> Outputs:
    """Run the model in eval mode over `dataloader`; returns float32 logits (and labels/loss
    when the batches carry labels). `gather_for_metrics` drops the samples accelerate repeats
    to fill the last batch on several processes."""
    was_training = model.training
    model.eval()
    logits, labels, losses, counts = [], [], [], []
    with progress_bar(accelerator, description, total=len(dataloader), transient=True) as bar:
        for batch in dataloader:
            with accelerator.autocast():
                out = model(**batch)
            batch_logits = out.logits.float()
            if batch_logits.ndim > 2:
                batch_logits = accelerator.pad_across_processes(batch_logits, dim=1, pad_index=-100)
            logits.append(accelerator.gather_for_metrics(batch_logits).cpu().numpy())
            if "labels" in batch:
                batch_labels = batch["labels"]
                if batch_labels.ndim > 1:
                    batch_labels = accelerator.pad_across_processes(batch_labels, dim=1, pad_index=-100)
                labels.append(accelerator.gather_for_metrics(batch_labels).cpu().numpy())
                if out.loss is not None:
                    losses.append(out.loss.float().item() * len(batch_labels))
                    counts.append(len(batch_labels))
            bar.advance()
    model.train(was_training)
    return Outputs(
        logits=np.concatenate(logits) if logits else np.zeros((0,)),
        labels=np.concatenate(labels) if labels else None,
        loss=(sum(losses) / sum(counts)) if counts else None,
    )
