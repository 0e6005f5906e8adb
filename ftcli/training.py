"""The single Accelerate training loop (after accelerate's examples/nlp_example.py).

AdamW with no weight decay on biases and norms, a separate learning rate for the new head,
warm-up then linear decay, gradient accumulation and clipping, mixed precision. With a
validation split, every epoch is evaluated on it (`gather_for_metrics`) and the best epoch is
kept (early stopping optional); without one the last epoch is kept, as the Trainer does. The
test split is scored once, with the kept model. Checkpoints (every `save_every` steps and at
each epoch end) let `--resume` continue mid-epoch, bit-exact; SIGINT and SIGTERM checkpoint at
the next step and stop.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from ftcli.batching import LengthGroupedSampler, length_sorted_loader, token_lengths
from ftcli.config import OptimConfig, TrainConfig
from ftcli.checkpoints import CheckpointStore
from ftcli.evaluation import Outputs, collect_outputs
from ftcli.distributed import any_process, world_size
from ftcli.errors import UserError
from ftcli.precision import resolve_mixed_precision
from ftcli.progress import console, progress_bar
from ftcli.strategies.base import head_parameter_names
from ftcli.models.outputs import enable_packing
from ftcli.models.registry import architecture_of
from ftcli.strategies.layers import layer_depth, num_layers

@dataclass
class EvalSet:
    """Rows scored during or after training, and how to turn their outputs into metrics."""

    features: Any
    compute_metrics: Callable[[Outputs], dict[str, float]]


@dataclass
class TrainResult:
    test_metrics: dict[str, float]
    """The kept model's metrics on the test split (one pass after training)."""
    validation_metrics: dict[str, float]
    """The kept epoch's validation metrics ({} without a validation split)."""
    kept_epoch: int
    selected_on: str
    """How the kept epoch was chosen: "validation <metric>" or "last epoch"."""
    stopped_early: bool
    skipped_batches: int
    """Batches whose loss was NaN or infinite (train.nan_policy=skip)."""
    train_samples_per_second: float
    train_runtime: float
    eval_samples_per_second: float
    """Test-split features per second through the model (the one pass after training)."""
    history: list[dict[str, Any]] = field(default_factory=list)


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the training state was checkpointed (when enabled)."""

    def __init__(self, signal_name: str, step: int, saved: bool):
        super().__init__(signal_name)
        self.signal_name, self.step, self.saved = signal_name, step, saved
        self.exit_code = 128 + getattr(signal, signal_name)


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


def train(
    model,
    train_features,
    collator,
    task,
    optim: OptimConfig,
    train_cfg: TrainConfig,
    run_path: Path,
    save_model: Callable[[Any], None],
    test: EvalSet,
    validation: EvalSet | None = None,
    resume: bool = False,
    accelerator: Accelerator | None = None,
) -> TrainResult:
    """Train; keep the best epoch on `validation` (or the last epoch without it); score `test`
    once with the kept model, then `save_model(unwrapped_model)`. Writes log.jsonl and
    checkpoints/ under `run_path`; `resume` continues from the newest complete checkpoint."""
    accelerator = accelerator or make_accelerator(train_cfg)
    set_seed(train_cfg.seed)

    enable_packing(model)  # ftcli's encoders skip the padding (ftcli.models.attention); others are untouched
    lengths = token_lengths(train_features) if _groups_by_length(train_cfg, task) else None
    processes = accelerator.num_processes
    train_loader = _train_loader(train_features, collator, train_cfg, lengths, global_batch_size(train_cfg, accelerator))
    token_scale = _token_scale(lengths, len(train_loader), task)
    eval_sets = {"test": test, **({"validation": validation} if validation is not None else {})}
    eval_loaders = [length_sorted_loader(s.features, train_cfg.eval_batch_size, collator) for s in eval_sets.values()]
    orders = {name: loader.order for name, loader in zip(eval_sets, eval_loaders)}
    optimizer = build_optimizer(model, optim)
    # Each process takes every N-th batch (the last ones padded to an even count), so an epoch has
    # ceil(batches / N) optimizer steps per accumulation step. Accelerate steps a prepared scheduler N
    # times per optimizer step, so its schedule is counted in N-ths: the learning rate after step k is
    # the one-process run's at step k with the same global batch.
    steps_per_epoch = math.ceil(math.ceil(len(train_loader) / processes) / train_cfg.grad_accum_steps)
    total_steps = steps_per_epoch * train_cfg.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(optim.warmup_ratio * total_steps) * processes,
        num_training_steps=total_steps * processes,
    )
    if train_cfg.compile:
        model = torch.compile(model)
    model, optimizer, train_loader, scheduler, *eval_loaders = accelerator.prepare(
        model, optimizer, train_loader, scheduler, *eval_loaders
    )
    loaders = dict(zip(eval_sets, eval_loaders))

    store = CheckpointStore(run_path, max(train_cfg.keep_checkpoints, 1))
    store.attach(accelerator, model)
    log = RunLog(run_path / "log.jsonl", accelerator)
    if train_cfg.report_to != "none":  # the trackers get what log.jsonl gets; tensorboard writes to logs/
        from accelerate.tracking import filter_trackers

        # The run directory is known only now, so the tracker is attached here rather than in make_accelerator.
        accelerator.project_configuration.set_directories(str(run_path))
        accelerator.log_with = filter_trackers([tracker(train_cfg.report_to)], accelerator.logging_dir)
        accelerator.init_trackers("logs")
        log.trackers = True
    state = _new_state()
    if resume:
        restored = store.load(accelerator)
        if restored is None:
            console.print("No checkpoint had been written yet: starting the run from the beginning.")
        else:
            state = restored
            console.print(f"Resuming from step {state['global_step']} (epoch {state['epoch'] + 1}, "
                          f"after {state['epoch_batches']} of its {len(train_loader)} batches).")
    log.truncate(state["log_lines"])  # lines the interrupted run wrote after its checkpoint

    def checkpoint() -> None:
        if train_cfg.save_checkpoint:
            state["log_lines"] = log.lines
            store.save(accelerator, state)

    def record_progress() -> None:
        """A phase after the checkpoint finished (validation, the test pass, saving the model): said in the
        checkpoint's state, so a kill after it resumes without doing it again."""
        if train_cfg.save_checkpoint:
            state["log_lines"] = log.lines
            store.update_state(accelerator, state)

    def close_epoch() -> None:
        """Validate the epoch whose training is done and checkpointed; log it; keep it if it is the best."""
        record = state["unvalidated"]
        epoch = record["epoch"]
        if validation is not None:
            metrics, _ = _score(model, loaders["validation"], orders["validation"], validation, accelerator, task,
                                "Validating")
            record.update({f"validation_{k}": v for k, v in metrics.items()})
            _select(state, metrics, epoch, task, train_cfg, store, accelerator, model)
            console.print(f"Epoch {epoch}/{train_cfg.epochs}: validation {_summary(metrics)}")
        else:
            console.print(f"Epoch {epoch}/{train_cfg.epochs}: train loss {record['train_loss']:.4f}")
        log.write(record)
        state["history"].append(record)
        state["unvalidated"] = None
        record_progress()

    if state.get("unvalidated"):  # killed while validating: the epoch's training is not done again
        console.print(f"Epoch {state['epoch']} had finished training: validating it.")
        close_epoch()

    examples_per_step = global_batch_size(train_cfg, accelerator)
    losses = DeviceLosses(accelerator)
    with StopSignals() as stop:
        for epoch in range(state["epoch"] + 1, train_cfg.epochs + 1):
            if state["stopped_early"]:
                break
            model.train()
            train_loader.set_epoch(epoch)
            done = state["epoch_batches"]  # > 0 when resuming mid-epoch: those batches are skipped
            loader = accelerator.skip_first_batches(train_loader, done) if done else train_loader
            clock = window_start = time.perf_counter()
            epoch_examples = 0
            shown_loss = "-"  # the progress bar shows the loss of the last logging window
            with progress_bar(accelerator, f"Epoch {epoch}/{train_cfg.epochs}", total=len(train_loader),
                              stats=True) as bar:
                bar.advance(done)
                for batch in loader:
                    with accelerator.accumulate(model):
                        output = model(**batch)
                        loss = output.loss
                        if train_cfg.nan_policy == "skip" and any_process(
                                not math.isfinite(loss.detach().float().item()), accelerator.device):
                            # This policy reads every loss (one sync per step); with several processes, all
                            # skip the step when any batch failed, or their gradient all-reduce would hang.
                            state["skipped_batches"] += 1
                        else:
                            accelerator.backward(_token_weighted(loss, batch, token_scale))
                            losses.add(loss, getattr(output, "loss_parts", None))
                        if accelerator.sync_gradients and optim.max_grad_norm > 0:
                            accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad()
                    size = len(next(iter(batch.values()))) * accelerator.num_processes
                    state["epoch_batches"] += 1
                    state["train_examples"] += size
                    epoch_examples += size
                    bar.advance(loss=shown_loss, speed=f"{epoch_examples / max(time.perf_counter() - clock, 1e-9):.1f}")
                    if not accelerator.sync_gradients:
                        continue
                    state["global_step"] += 1
                    stopping = stop.agree(accelerator.device)
                    if state["global_step"] % train_cfg.logging_steps == 0:
                        now = time.perf_counter()
                        losses.flush_into(state, epoch, store, run_path)
                        window_loss = state["window_loss_sum"] / max(state["window_batches"], 1)
                        shown_loss = f"{window_loss:.4f}"
                        log.write({
                            "step": state["global_step"],
                            "epoch": round(epoch - 1 + state["epoch_batches"] / len(train_loader), 4),
                            "loss": round(window_loss, 6),
                            **{f"{part}_loss": round(total / max(state["window_batches"], 1), 6)
                               for part, total in state["window_parts"].items()},
                            "learning_rate": scheduler.get_last_lr()[0],
                            "examples_per_second": round(
                                train_cfg.logging_steps * examples_per_step / (now - window_start), 2),
                        })
                        window_start = now
                        state.update(window_loss_sum=0.0, window_batches=0, window_parts={})
                    due = (train_cfg.save_every and state["global_step"] % train_cfg.save_every == 0
                           and not accelerator.gradient_state.end_of_dataloader)  # the epoch end saves anyway
                    if due or stopping:
                        state["train_seconds"] += time.perf_counter() - clock
                        losses.flush_into(state, epoch, store, run_path)  # a checkpoint never holds a NaN run
                        checkpoint()
                        clock = time.perf_counter()
                        if stopping:
                            raise Interrupted(stop.signal, state["global_step"], train_cfg.save_checkpoint)
            losses.flush_into(state, epoch, store, run_path)
            state["train_seconds"] += time.perf_counter() - clock

            # The epoch's training is checkpointed before it is validated (evaluation draws no random
            # numbers, so the checkpoint's RNG states are the same either way).
            state["unvalidated"] = {"step": state["global_step"], "epoch": epoch,
                                    "train_loss": round(state["epoch_loss_sum"] / max(state["epoch_loss_batches"], 1), 6)}
            state.update(epoch=epoch, epoch_batches=0, epoch_loss_sum=0.0, epoch_loss_batches=0,
                         window_loss_sum=0.0, window_batches=0, window_parts={})
            checkpoint()
            close_epoch()
            if stop.agree(accelerator.device):
                raise Interrupted(stop.signal, state["global_step"], train_cfg.save_checkpoint)

    kept_epoch = state["best_epoch"] if validation is not None else state["epoch"]
    if not state.get("model_saved"):
        if kept_epoch != state["epoch"]:
            accelerator.wait_for_everyone()
            store.load_best(accelerator.unwrap_model(model), kept_epoch)
        if state.get("test") is None:
            test_metrics, test_seconds = _score(model, loaders["test"], orders["test"], test, accelerator, task,
                                                "Testing")
            log.write({"step": state["global_step"], "epoch": kept_epoch,
                       **{f"test_{k}": v for k, v in test_metrics.items()}})
            state["test"] = {"metrics": test_metrics, "seconds": test_seconds}
            record_progress()
        else:
            console.print("The test pass had finished: its scores are kept.")
        if accelerator.is_main_process:
            save_model(accelerator.unwrap_model(model))
        state["model_saved"] = True
        record_progress()
    if accelerator.is_main_process:
        store.remove_best()
        # The checkpoints go only once the run is complete (RunDirectory.finalize): a kill before that resumes.
    test_metrics, test_seconds = state["test"]["metrics"], state["test"]["seconds"]
    if log.trackers:
        accelerator.end_training()
    accelerator.wait_for_everyone()

    seconds = state["train_seconds"]
    return TrainResult(
        test_metrics=test_metrics,
        validation_metrics=state["best_metrics"] if validation is not None else {},
        kept_epoch=kept_epoch,
        selected_on=f"validation {task.best_metric}" if validation is not None else "last epoch",
        stopped_early=state["stopped_early"],
        skipped_batches=state["skipped_batches"],
        train_samples_per_second=state["train_examples"] / seconds if seconds else 0.0,
        train_runtime=seconds,
        eval_samples_per_second=len(test.features) / test_seconds if test_seconds else 0.0,
        history=state["history"],
    )


def _train_loader(features, collator, train_cfg: TrainConfig, lengths: list[int] | None,
                  group_size: int | None = None) -> DataLoader:
    """Length-grouped batches when given the rows' token `lengths` (train.group_by_length, and the rows have
    token ids), else a plain shuffle. Either way the order is a function of (seed, epoch): the loader has its
    own generator, since one without would draw a seed from the global RNG each epoch and a resumed
    mid-epoch loader would then shift the dropout masks. Grouping is by `group_size`, the global batch
    (the consecutive batches of all processes and accumulation steps that make one optimizer step), so
    a step sees the rows a one-process run with that batch size would."""
    common = {"batch_size": train_cfg.batch_size, "collate_fn": collator,
              "generator": torch.Generator().manual_seed(train_cfg.seed),
              "num_workers": train_cfg.dataloader_workers, "persistent_workers": train_cfg.dataloader_workers > 0}
    if lengths is not None:
        sampler = LengthGroupedSampler(lengths, group_size or train_cfg.batch_size, train_cfg.seed)
        return DataLoader(features, sampler=sampler, **common)
    return DataLoader(features, shuffle=True, **common)


def _groups_by_length(train_cfg: TrainConfig, task) -> bool:
    """`train.group_by_length` (off by default: shuffled batches); auto groups where the loss is a
    mean over rows and, for a mean over tokens, keeps shuffled batches."""
    if train_cfg.group_by_length != "auto":
        return train_cfg.group_by_length
    return not getattr(task, "loss_per_token", False)


def _token_weighted(loss, batch, token_scale: float | None):
    """The loss to back-propagate: as computed, or for a per-token loss over length-grouped batches,
    weighed by the batch's real tokens over the mean per batch (see _token_scale)."""
    mask = batch.get("attention_mask") if token_scale is not None else None
    return loss if mask is None else loss * mask.sum() / token_scale


def _token_scale(lengths: list[int] | None, batches: int, task) -> float | None:
    """For a per-token loss over length-grouped batches, the mean real tokens per batch. Each batch's loss
    (a mean over its own tokens) is multiplied by its tokens over this mean, so every token weighs the
    same, as in shuffled batches; unscaled, a batch of short rows would give each of its tokens several
    times the weight of a long row's token."""
    if lengths is None or not batches or not getattr(task, "loss_per_token", False):
        return None
    return sum(lengths) / batches


class DeviceLosses:
    """Training losses summed where they are computed and read only at logging steps, checkpoints and epoch
    ends: reading one every step would make the host wait for the device before queueing the next step.
    With several processes the sums are averaged over them when read (every process reads at the same
    steps), so the logged loss is the whole global batch's and a NaN on any process stops them all."""

    def __init__(self, accelerator: Accelerator | None = None):
        self.accelerator = accelerator
        self.total, self.parts, self.batches, self.first_step = None, {}, 0, None

    def add(self, loss: torch.Tensor, parts: dict[str, torch.Tensor] | None) -> None:
        value = loss.detach().float()
        self.total = value if self.total is None else self.total + value
        for part, part_loss in (parts or {}).items():  # GPT-1's auxiliary LM loss is logged apart
            part_loss = part_loss.detach().float()
            self.parts[part] = part_loss if part not in self.parts else self.parts[part] + part_loss
        self.batches += 1

    def flush_into(self, state: dict[str, Any], epoch: int, store: "CheckpointStore", run_path: Path) -> None:
        """Add the sums to the run's window and epoch totals; a NaN or infinite sum stops the run."""
        if not self.batches:
            return
        if self.accelerator is not None and self.accelerator.num_processes > 1:
            self.total = self.accelerator.reduce(self.total.clone(), reduction="mean")
            self.parts = {part: self.accelerator.reduce(value.clone(), reduction="mean") for part, value in self.parts.items()}
        total = self.total.item()
        if not math.isfinite(total):
            raise UserError(_non_finite_message(total, state, epoch, store, run_path))
        state["window_loss_sum"] += total
        state["window_batches"] += self.batches
        state["epoch_loss_sum"] += total
        state["epoch_loss_batches"] += self.batches
        for part, value in self.parts.items():
            state["window_parts"][part] = state["window_parts"].get(part, 0.0) + value.item()
        self.total, self.parts, self.batches = None, {}, 0


def _new_state() -> dict[str, Any]:
    """Everything the loop needs to continue exactly where a checkpoint was taken (the RNG,
    model, optimizer and scheduler states are accelerate's part of the checkpoint)."""
    return {"epoch": 0, "global_step": 0, "epoch_batches": 0, "epoch_loss_sum": 0.0, "epoch_loss_batches": 0,
            "window_loss_sum": 0.0, "window_batches": 0, "window_parts": {},
            "best_epoch": 0, "best_metrics": {}, "evals_without_improvement": 0, "stopped_early": False,
            "history": [], "log_lines": 0, "skipped_batches": 0, "train_seconds": 0.0, "train_examples": 0,
            # the phases after training: an epoch trained but not yet validated, the test scores, model/ written
            "unvalidated": None, "test": None, "model_saved": False}


def _score(model, loader, order, eval_set: EvalSet, accelerator: Accelerator, task,
           description: str) -> tuple[dict[str, float], float]:
    """The metrics, and the seconds the model pass took (post-processing and metrics apart, as the
    Trainer's `eval_samples_per_second` counts)."""
    start = time.perf_counter()
    outputs = collect_outputs(model, loader, accelerator, task, description, order)
    seconds = time.perf_counter() - start
    metrics = eval_set.compute_metrics(outputs)
    if outputs.loss is not None:
        metrics["loss"] = outputs.loss
    return metrics, seconds


def _select(state, metrics, epoch, task, train_cfg: TrainConfig, store: CheckpointStore, accelerator, model) -> None:
    """Keep the epoch if it beats the best validation score so far; count towards early stopping."""
    if state["best_epoch"] == 0 or _improved(metrics, state["best_metrics"], task):
        state["best_epoch"], state["best_metrics"], state["evals_without_improvement"] = epoch, metrics, 0
        if accelerator.is_main_process:
            store.save_best(accelerator.unwrap_model(model), epoch, drop_others=not train_cfg.save_checkpoint)
        return
    state["evals_without_improvement"] += 1
    patience = train_cfg.early_stopping_patience
    if patience and state["evals_without_improvement"] >= patience:
        state["stopped_early"] = True
        console.print(f"Early stopping: no better validation {task.best_metric} for {patience} epoch(s); "
                      f"keeping epoch {state['best_epoch']}.")


def _summary(metrics: dict[str, float]) -> str:
    # The headline numbers only; per-type scores (NER, QA splits) are in log.jsonl and metrics.json.
    shown = [k for k in metrics if "_" not in k or k == "exact_match"][:5]
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in shown)


def _improved(metrics: dict[str, float], best: dict[str, float], task) -> bool:
    key = task.best_metric
    return metrics[key] > best[key] if task.greater_is_better else metrics[key] < best[key]


def _non_finite_message(value: float, state, epoch: int, store: CheckpointStore, run_path: Path) -> str:
    latest = store.latest()
    kept = f"the last good checkpoint ({latest.name}) stays in {run_path}" if latest else \
        f"no checkpoint had been written yet ({run_path})"
    return (f"the training loss became {value} by step {state['global_step']} (epoch {epoch}); "
            f"the run stopped and {kept}. Lower the learning rate (--lr), or skip such batches "
            "with --set train.nan_policy=skip")


class RunLog:
    """log.jsonl, appended by the main process. `lines` counts what it holds, so a resumed run
    can drop the lines the interrupted run wrote after its last checkpoint."""

    def __init__(self, path: Path, accelerator: Accelerator):
        self.path, self.main, self.lines = path, accelerator.is_main_process, 0
        self.accelerator, self.trackers = accelerator, False

    def truncate(self, keep: int) -> None:
        if self.main and self.path.exists():
            lines = self.path.read_text().splitlines(keepends=True)
            if len(lines) > keep:
                partial = self.path.with_name(f".{self.path.name}.partial")
                partial.write_text("".join(lines[:keep]))
                partial.replace(self.path)
        self.lines = keep

    def write(self, record: dict[str, Any]) -> None:
        if self.main:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        if self.trackers:
            values = {k: v for k, v in record.items() if k != "step" and isinstance(v, (int, float))
                      and not isinstance(v, bool)}
            self.accelerator.log(values, step=record["step"])
        self.lines += 1


class StopSignals:
    """While training, SIGINT and SIGTERM only set `signal`: the loop checkpoints at the next step
    boundary and stops. A second Ctrl-C interrupts at once, except in a job of several processes,
    where the launcher passes the terminal's Ctrl-C on a second time and every process must reach
    the checkpoint; there `agree` makes all processes stop at the same step."""

    def __enter__(self) -> "StopSignals":
        self.signal: str | None = None
        self._several = world_size() > 1
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT and not self._several:
            raise KeyboardInterrupt
        self.signal = self.signal or signal.Signals(signum).name

    def agree(self, device) -> bool:
        """Whether to stop now; every process gets the same answer (one small all-reduce per step,
        only with several processes): a signal that reached any process stops them all at this step."""
        if not self._several:
            return self.signal is not None
        stopping = any_process(self.signal is not None, device)
        if stopping and self.signal is None:
            self.signal = "SIGTERM"  # another process was signalled; this one stops with it
        return stopping

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
