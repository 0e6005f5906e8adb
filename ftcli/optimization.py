"""The optimizer and learning-rate schedule of a training run: AdamW with no weight decay on biases
and norms, a separate learning rate for the new head and optional layer-wise decay; warm-up then
linear decay."""

from __future__ import annotations

import math

import torch
from transformers import get_linear_schedule_with_warmup

from ftcli.config import OptimConfig, TrainConfig
from ftcli.errors import UserError
from ftcli.models.layers import layer_depth, num_layers
from ftcli.models.registry import architecture_of
from ftcli.strategies.base import head_parameter_names


def build_optimizer(model: torch.nn.Module, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW param groups: {body, head} x {decay, no decay} (x layer depth with layer-wise
    decay). Biases and norm weights (all 1-D parameters) get no weight decay; the head gets
    `head_lr` when set; with `layer_decay` < 1, body layer l of L gets lr * layer_decay ** (L + 1 - l)
    (embeddings l = 0; pooler and final norms l = L + 1)."""
    if not 0 < optim.layer_decay <= 1:
        raise UserError(f"optim.layer_decay must be in (0, 1], got {optim.layer_decay}")
    head_names = head_parameter_names(model)
    total_layers = num_layers(model)
    architecture = architecture_of(model)
    groups: dict[tuple[bool, bool, int], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_head = name in head_names
        depth = total_layers + 1 if is_head or optim.layer_decay == 1 else layer_depth(name, total_layers, architecture)
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


def build_scheduler(optimizer, optim: OptimConfig, train_cfg: TrainConfig, batches_per_epoch: int, processes: int):
    """Warm-up for `optim.warmup_ratio` of the steps, then linear decay to 0.

    Each process takes every N-th batch (the last ones padded to an even count), so an epoch has
    ceil(batches / N) optimizer steps per accumulation step. Accelerate steps a prepared scheduler N
    times per optimizer step, so its schedule is counted in N-ths: the learning rate after step k is
    the one-process run's at step k with the same global batch."""
    steps_per_epoch = math.ceil(math.ceil(batches_per_epoch / processes) / train_cfg.grad_accum_steps)
    total_steps = steps_per_epoch * train_cfg.epochs
    return get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(optim.warmup_ratio * total_steps) * processes,
        num_training_steps=total_steps * processes,
    )
