"""Ranges of the numeric settings, checked before anything is loaded or created. Interval notation:
"[1, inf)" is at least 1, "(0, 1)" strictly between 0 and 1. None is always allowed for optional
settings."""

from __future__ import annotations

import math

from ftcli.config.overrides import field_at
from ftcli.config.schema import RunConfig
from ftcli.errors import UserError

RANGES: dict[str, str] = {
    "model.max_length": "[1, inf)",
    "data.eval_fraction": "(0, 1)",
    "data.validation_fraction": "[0, 1)",
    "data.limit_train": "[1, inf)",
    "data.limit_eval": "[1, inf)",
    "optim.lr": "(0, inf)",
    "optim.head_lr": "(0, inf)",
    "optim.weight_decay": "[0, inf)",
    "optim.warmup_ratio": "[0, 1)",
    "optim.max_grad_norm": "[0, inf)",
    "optim.layer_decay": "(0, 1]",
    "optim.adam_beta1": "[0, 1)",
    "optim.adam_beta2": "[0, 1)",
    "optim.adam_epsilon": "(0, inf)",
    "train.epochs": "[1, inf)",
    "train.seed": "[0, 4294967295]",  # numpy's and the data shuffles' seeds are 32-bit
    "train.batch_size": "[1, inf)",
    "train.eval_batch_size": "[1, inf)",
    "train.grad_accum_steps": "[1, inf)",
    "train.logging_steps": "[1, inf)",
    "train.dataloader_workers": "[0, inf)",
    "train.save_every": "[0, inf)",
    "train.keep_checkpoints": "[0, inf)",
    "train.early_stopping_patience": "[1, inf)",
    "options.doc_stride": "[0, inf)",
    "options.max_answer_length": "[1, inf)",
    "options.n_best": "[1, inf)",
    "options.max_new_tokens": "[1, inf)",
    "options.temperature": "[0, inf)",
    "options.top_p": "(0, 1]",
    "options.image_size": "[1, inf)",
    "full.freeze_layers": "[0, inf)",
    "full.lm_loss_weight": "[0, inf)",
    "features.mlp_hidden": "[1, inf)",
    "features.dropout": "[0, 1)",
    "contrastive.num_iterations": "[1, inf)",
    "contrastive.max_pairs": "[2, inf)",
    "peft.num_virtual_tokens": "[1, inf)",
    "peft.lora_r": "[1, inf)",
    "peft.lora_alpha": "(0, inf)",
    "peft.lora_dropout": "[0, 1)",
    "prompt.max_new_tokens": "[1, inf)",
    "pretrain.mlm_probability": "(0, 1)",
    "pretrain.mask_replace": "[0, 1]",
    "pretrain.random_replace": "[0, 1]",
    "pretrain.nsp_probability": "[0, 1]",
    "pretrain.sop_probability": "[0, 1]",
    "pretrain.discriminator_weight": "(0, inf)",
    "pretrain.generator_size": "(0, 1]",
    "distill.temperature": "(0, inf)",
    "distill.alpha": "[0, 1]",
    "distill.cosine_weight": "[0, inf)",
    "distill.hidden_weight": "[0, inf)",
    "distill.transfer_limit": "[1, inf)",
}

_FLAGS = {"model.max_length": "--max-length", "train.epochs": "--epochs", "train.batch_size": "--batch-size",
          "optim.lr": "--lr", "optim.head_lr": "--head-lr", "data.limit_train": "--limit-train",
          "data.limit_eval": "--limit-test", "train.seed": "--seed"}


def in_range(value: float, interval: str) -> bool:
    low, high = (part.strip() for part in interval[1:-1].split(","))
    low_ok = value >= float(low) if interval[0] == "[" else value > float(low)
    high_ok = value <= float(high) if interval[-1] == "]" else value < float(high)
    return low_ok and high_ok


def check_ranges(config: RunConfig) -> None:
    """Raise UserError for the first numeric setting outside its range (see RANGES), or a
    `train.select_metric` that is no metric ftcli reports."""
    for key, interval in RANGES.items():
        section, name = field_at(config, key)
        value = getattr(section, name)
        if value is None:
            continue
        finite = not isinstance(value, float) or math.isfinite(value)  # ints of any size are finite
        if not finite or not in_range(value, interval):
            flag = _FLAGS.get(key)
            shown = f"{flag} ({key})" if flag else key
            raise UserError(f"{shown} must be {'' if finite else 'a finite number '}{_describe(interval)}, got {value}")
    if config.train.select_metric is not None:  # a name ftcli reports (whether the task reports it: see the runner)
        from ftcli.metrics.selection import check_metric_name

        check_metric_name(config.train.select_metric)


def _describe(interval: str) -> str:
    low, high = (part.strip() for part in interval[1:-1].split(","))
    if high == "inf":
        return f"{'at least' if interval[0] == '[' else 'greater than'} {low}"
    return f"in the interval {interval}"
