"""The single Accelerate training loop (after accelerate's examples/nlp_example.py).

AdamW with no weight decay on biases and norms, a separate learning rate for the new head,
warm-up then linear decay, gradient accumulation and clipping, mixed precision, evaluation
after every epoch with `gather_for_metrics`, the best epoch's model kept, and the training
state saved after every epoch so an interrupted run can `--resume`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from ftcli.config import OptimConfig, TrainConfig
from ftcli.evaluation import collect_outputs
from ftcli.errors import UserError
from ftcli.progress import console, progress_bar
from ftcli.strategies.base import head_parameter_names
from ftcli.strategies.layers import layer_depth, num_layers

STATE_FILE = "trainer_state.json"


@dataclass
class TrainResult:
    best_metrics: dict[str, float]
    best_epoch: int
    train_samples_per_second: float
    train_runtime: float
    history: list[dict[str, Any]] = field(default_factory=list)


def make_accelerator(train_cfg: TrainConfig) -> Accelerator:
    return Accelerator(
        mixed_precision=train_cfg.mixed_precision,
        gradient_accumulation_steps=train_cfg.grad_accum_steps,
        # A seedable sampler makes each epoch's shuffle a function of (seed, epoch), so a
        # resumed run sees the same order as an uninterrupted one.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def build_optimizer(model: torch.nn.Module, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW param groups: {body, head} x {decay, no decay} (x layer depth with layer-wise
    decay). Biases and norm weights (all 1-D parameters) get no weight decay; the head gets
    `head_lr` when set; with `layer_decay` < 1, body layer l of L gets lr * layer_decay ** (L + 1 - l)
    (embeddings l = 0; pooler and final norms l = L + 1)."""
    if not 0 < optim.layer_decay <= 1:
        raise UserError(f"optim.layer_decay must be in (0, 1], got {optim.layer_decay}")
    head_names = head_parameter_names(model)
    total_layers = num_layers(model)
    groups: dict[tuple[bool, bool, int], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_head = name in head_names
        depth = total_layers + 1 if is_head or optim.layer_decay == 1 else layer_depth(name, total_layers)
        groups.setdefault((is_head, parameter.ndim >= 2, depth), []).append(parameter)
    if not groups:
        raise UserError("nothing to train: every parameter is frozen")
    head_lr = optim.head_lr if optim.head_lr is not None else optim.lr
    param_groups = [
        {
            "params": params,
            "lr": head_lr if is_head else optim.lr * optim.layer_decay ** (total_layers + 1 - depth),
            "weight_decay": optim.weight_decay if decays else 0.0,
        }
        for (is_head, decays, depth), params in sorted(groups.items())
    ]
    # The fused kernel (CPU and CUDA) is the fastest AdamW in torch; mixed-device models fall back.
    devices = {p.device.type for group in param_groups for p in group["params"]}
    return torch.optim.AdamW(
        param_groups, lr=optim.lr, betas=(optim.adam_beta1, optim.adam_beta2), eps=optim.adam_epsilon,
        fused=len(devices) == 1 and devices <= {"cpu", "cuda"},
    )


def train(
    model,
    train_features,
    eval_features,
    collator,
    task,
    compute_metrics: Callable[[Any], dict[str, float]],
    optim: OptimConfig,
    train_cfg: TrainConfig,
    run_path: Path,
    save_model: Callable[[Any], None],
    resume: bool = False,
    accelerator: Accelerator | None = None,
) -> TrainResult:
    """Train, evaluating after each epoch (`compute_metrics(Outputs)`); `save_model(unwrapped_model)`
    is called whenever the task's `best_metric` improves. Writes log.jsonl and checkpoints/last under `run_path`."""
    accelerator = accelerator or make_accelerator(train_cfg)
    set_seed(train_cfg.seed)

    train_loader = DataLoader(train_features, batch_size=train_cfg.batch_size, shuffle=True, collate_fn=collator)
    eval_loader = DataLoader(eval_features, batch_size=train_cfg.eval_batch_size, collate_fn=collator)
    optimizer = build_optimizer(model, optim)
    steps_per_epoch = math.ceil(len(train_loader) / train_cfg.grad_accum_steps)
    total_steps = steps_per_epoch * train_cfg.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(optim.warmup_ratio * total_steps), num_training_steps=total_steps
    )
    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler
    )

    checkpoint_dir = run_path / "checkpoints" / "last"
    state = {"epoch": 0, "global_step": 0, "best_epoch": 0, "best_metrics": {}, "history": [],
             "train_seconds": 0.0, "train_examples": 0}
    if resume:
        accelerator.load_state(str(checkpoint_dir))
        state = json.loads((run_path / STATE_FILE).read_text())
        console.print(f"Resuming after epoch {state['epoch']} (step {state['global_step']}).")

    log_path = run_path / "log.jsonl"
    examples_per_step = train_cfg.batch_size * train_cfg.grad_accum_steps * accelerator.num_processes
    for epoch in range(state["epoch"] + 1, train_cfg.epochs + 1):
        model.train()
        train_loader.set_epoch(epoch)
        epoch_start, window_start = time.perf_counter(), time.perf_counter()
        window_loss, window_batches, epoch_examples = 0.0, 0, 0
        with progress_bar(accelerator, f"Epoch {epoch}/{train_cfg.epochs}", total=len(train_loader),
                          stats=True) as bar:
            for batch in train_loader:
                with accelerator.accumulate(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and optim.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                batch_size = len(next(iter(batch.values()))) * accelerator.num_processes
                epoch_examples += batch_size
                window_loss += loss.detach().float().item()
                window_batches += 1
                elapsed = time.perf_counter() - epoch_start
                bar.advance(loss=f"{window_loss / window_batches:.4f}",
                            speed=f"{epoch_examples / max(elapsed, 1e-9):.1f}")
                if accelerator.sync_gradients:
                    state["global_step"] += 1
                    if state["global_step"] % train_cfg.logging_steps == 0:
                        now = time.perf_counter()
                        _log(accelerator, log_path, {
                            "step": state["global_step"],
                            "epoch": round(epoch - 1 + epoch_examples / len(train_features), 4),
                            "loss": round(window_loss / window_batches, 6),
                            "learning_rate": scheduler.get_last_lr()[0],
                            "examples_per_second": round(
                                train_cfg.logging_steps * examples_per_step / (now - window_start), 2),
                        })
                        window_start, window_loss, window_batches = now, 0.0, 0
        state["train_seconds"] += time.perf_counter() - epoch_start
        state["train_examples"] += epoch_examples

        outputs = collect_outputs(model, eval_loader, accelerator, task)
        metrics = compute_metrics(outputs)
        if outputs.loss is not None:
            metrics["loss"] = outputs.loss
        record = {"step": state["global_step"], "epoch": epoch, **{f"eval_{k}": v for k, v in metrics.items()}}
        _log(accelerator, log_path, record)
        state["history"].append(record)
        # The headline numbers only; per-type scores (NER, QA splits) are in log.jsonl and metrics.json.
        shown = [k for k in metrics if "_" not in k or k == "exact_match"][:5]
        summary = "  ".join(f"{k} {metrics[k]:.4f}" for k in shown)
        console.print(f"Epoch {epoch}/{train_cfg.epochs}: {summary}")

        if state["best_epoch"] == 0 or _improved(metrics, state["best_metrics"], task):
            state["best_epoch"], state["best_metrics"] = epoch, metrics
            if accelerator.is_main_process:
                save_model(accelerator.unwrap_model(model))
        state["epoch"] = epoch
        if train_cfg.save_checkpoint:
            accelerator.save_state(str(checkpoint_dir))
            if accelerator.is_main_process:
                (run_path / STATE_FILE).write_text(json.dumps(state, indent=2))
        accelerator.wait_for_everyone()

    seconds = state["train_seconds"]
    return TrainResult(
        best_metrics=state["best_metrics"],
        best_epoch=state["best_epoch"],
        train_samples_per_second=state["train_examples"] / seconds if seconds else 0.0,
        train_runtime=seconds,
        history=state["history"],
    )


def _improved(metrics: dict[str, float], best: dict[str, float], task) -> bool:
    key = task.best_metric
    return metrics[key] > best[key] if task.greater_is_better else metrics[key] < best[key]


def _log(accelerator: Accelerator, path: Path, record: dict[str, Any]) -> None:
    if accelerator.is_main_process:
        with path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
