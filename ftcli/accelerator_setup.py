"""The Accelerator a run trains (or evaluates) with, its tracker, and the global batch it makes."""

from __future__ import annotations

from accelerate import Accelerator, DataLoaderConfiguration

from ftcli.config import TrainConfig
from ftcli.errors import UserError
from ftcli.precision import resolve_mixed_precision


def make_accelerator(train_cfg: TrainConfig) -> Accelerator:
    tracker(train_cfg.report_to)  # a missing tracker package is refused before anything runs
    return Accelerator(
        mixed_precision=resolve_mixed_precision(train_cfg.mixed_precision)[0],
        gradient_accumulation_steps=train_cfg.grad_accum_steps,
        # A seedable sampler makes each epoch's shuffle a function of (seed, epoch), so a
        # resumed run sees the same order as an uninterrupted one.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def tracker(report_to: str) -> str | None:
    """accelerate's `log_with` for train.report_to, once the tracker's package is known to be there."""
    if report_to == "none":
        return None
    import importlib.util

    package = TRACKER_PACKAGES[report_to]
    if importlib.util.find_spec(package) is None:
        raise UserError(f"--report-to {report_to} needs the {package} package: pip install {package}")
    return report_to


def global_batch_size(train_cfg: TrainConfig, accelerator: Accelerator) -> int:
    """Examples per optimizer step: `train.batch_size` is per process, as in the Trainer."""
    return train_cfg.batch_size * train_cfg.grad_accum_steps * accelerator.num_processes
