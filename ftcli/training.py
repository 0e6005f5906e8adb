"""The single Accelerate training loop (after accelerate's examples/nlp_example.py).

AdamW with no weight decay on biases and norms, a separate learning rate for the new head,
warm-up then linear decay, gradient accumulation and clipping, mixed precision. With a
validation split, every epoch is evaluated on it (`gather_for_metrics`) and the best epoch by
`train.select_metric` is kept (early stopping optional); without one the last epoch is kept. The
test split is scored once, with the kept model. Checkpoints (every `save_every` steps and at
each epoch end) let `--resume` continue mid-epoch, bit-exact; SIGINT and SIGTERM checkpoint at
the next step and stop.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from ftcli.accelerator_setup import global_batch_size, make_accelerator, tracker
from ftcli.batching import length_sorted_loader, token_lengths
from ftcli.checkpoints import CheckpointStore
from ftcli.config import OptimConfig, TrainConfig
from ftcli.device_losses import DeviceLosses, NonFiniteLoss, logging_interval
from ftcli.distributed import any_process
from ftcli.errors import UserError
from ftcli.evaluation import collect_outputs, score_dataset
from ftcli.metrics.selection import Selection, selection_for
from ftcli.tasks.base import EvalData
from ftcli.loop_state import LoopState
from ftcli.models.outputs import enable_packing
from ftcli.optimization import build_optimizer, build_scheduler
from ftcli.progress import LinePacer, console, progress_bar
from ftcli.run_log import RunLog
from ftcli.stop_signals import Interrupted, StopSignals
from ftcli.train_loader import build_train_loader, groups_by_length, token_scale


@dataclass
class EvalSet:
    """Rows scored during or after training, and how to turn their outputs into metrics."""

    features: Any
    data: EvalData
    """What the task's metrics need besides the outputs (the rows as read, their columns and labels)."""


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
    selection = selection_for(task, train_cfg.select_metric)  # a metric the task does not report: refused here
    accelerator = accelerator or make_accelerator(train_cfg)
    set_seed(train_cfg.seed)
    enable_packing(model)  # ftcli's encoders skip the padding (ftcli.models.attention); others are untouched

    # The data: training batches (shuffled or grouped by length), each held-out split in length order.
    lengths = token_lengths(train_features) if groups_by_length(train_cfg, task) else None
    train_loader = build_train_loader(train_features, collator, train_cfg, lengths,
                                      global_batch_size(train_cfg, accelerator))
    scale = token_scale(lengths, len(train_loader), task)
    eval_sets = {"test": test, **({"validation": validation} if validation is not None else {})}
    eval_loaders = [length_sorted_loader(s.features, train_cfg.eval_batch_size, collator) for s in eval_sets.values()]
    orders = [loader.order for loader in eval_loaders]

    # The optimizer and learning-rate schedule; then everything goes through accelerate.
    optimizer = build_optimizer(model, optim)
    scheduler = build_scheduler(optimizer, optim, train_cfg, len(train_loader), accelerator.num_processes)
    if train_cfg.compile:
        model = torch.compile(model)
    model, optimizer, train_loader, scheduler, *eval_loaders = accelerator.prepare(
        model, optimizer, train_loader, scheduler, *eval_loaders
    )

    # Checkpoints, log.jsonl and the trackers; with `resume`, the state of the newest checkpoint.
    store = CheckpointStore(run_path, max(train_cfg.keep_checkpoints, 1))
    store.attach(accelerator, model)
    log = RunLog(run_path / "log.jsonl", accelerator)
    if train_cfg.report_to != "none":  # the trackers get what log.jsonl gets; tensorboard writes to logs/
        log.start_trackers(tracker(train_cfg.report_to))
    state = _restored_state(store, accelerator, len(train_loader)) if resume else LoopState()
    log.truncate(state.log_lines)  # lines the interrupted run wrote after its checkpoint
    losses = DeviceLosses(accelerator)
    losses.restore_window(state)  # a checkpoint taken mid-window: the first log line continues it
    run = _Run(accelerator, model, optimizer, scheduler, train_loader, scale, task, optim, train_cfg,
               store, log, state, losses, eval_sets, dict(zip(eval_sets, zip(eval_loaders, orders))),
               logging_interval(train_cfg, len(train_loader)), selection)
    if state.unvalidated:  # killed while validating: the epoch's training is not done again
        console.print(f"Epoch {state.epoch} had finished training: validating it.")
        _close_epoch(run)

    # The epochs: train (checkpointed at the end), validate; a signal checkpoints at the next step and stops.
    with StopSignals() as stop:
        try:
            for epoch in range(state.epoch + 1, train_cfg.epochs + 1):
                if state.stopped_early:
                    break
                _train_epoch(run, epoch, stop)
                _close_epoch(run)
                if stop.agree(accelerator.device):
                    raise Interrupted(stop.signal, state.global_step, train_cfg.save_checkpoint)
        except NonFiniteLoss as loss:
            raise UserError(_non_finite_message(loss, store, run_path)) from None

    # After training: the kept epoch's test scores and model/, each phase recorded once done.
    kept_epoch = state.best_epoch if validation is not None else state.epoch
    if not state.model_saved:
        _test_and_save(run, kept_epoch, save_model)
    if accelerator.is_main_process:
        store.remove_best()
        # The checkpoints go only once the run is complete (RunDirectory.finalize): a kill before that resumes.
    log.end_trackers()
    accelerator.wait_for_everyone()
    return _result(state, kept_epoch, selection, validation is not None, len(test.features))


@dataclass
class _Run:
    """What the phases of one `train` call share."""

    accelerator: Accelerator
    model: Any
    optimizer: Any
    scheduler: Any
    train_loader: Any
    token_scale: float | None
    task: Any
    optim: OptimConfig
    train_cfg: TrainConfig
    store: CheckpointStore
    log: RunLog
    state: LoopState
    losses: DeviceLosses
    eval_sets: dict[str, EvalSet]
    eval_loaders: dict[str, tuple[Any, Any]]
    """Each eval set's prepared loader, and the order that puts its outputs back in input order."""
    logging_every: int
    """Optimizer steps between log.jsonl lines (`train.logging_steps`, less in a short run)."""
    selection: Selection
    """The validation metric that keeps an epoch and drives early stopping (`train.select_metric`)."""
    pacer: LinePacer = field(default_factory=LinePacer)
    """Paces the progress lines printed without a terminal (the epochs' and their summaries)."""

    def checkpoint(self) -> None:
        if self.train_cfg.save_checkpoint:
            self._state_for_checkpoint()
            self.store.save(self.accelerator, asdict(self.state))

    def record_progress(self) -> None:
        """A phase after the checkpoint finished (validation, the test pass, saving the model): said in the
        checkpoint's state, so a kill after it resumes without doing it again."""
        if self.train_cfg.save_checkpoint:
            self._state_for_checkpoint()
            self.store.update_state(self.accelerator, asdict(self.state))

    def _state_for_checkpoint(self) -> None:
        self.state.log_lines = self.log.lines
        self.losses.save_window(self.state)


def _restored_state(store: CheckpointStore, accelerator: Accelerator, batches: int) -> LoopState:
    """The loop state of the newest checkpoint, whose model, optimizer, scheduler and RNG states are restored."""
    saved = store.load(accelerator)
    if saved is None:
        console.print("No checkpoint had been written yet: starting the run from the beginning.")
        return LoopState()
    state = LoopState.from_checkpoint(saved)
    console.print(f"Resuming from step {state.global_step} (epoch {state.epoch + 1}, "
                  f"after {state.epoch_batches} of its {batches} batches).")
    return state


def _train_epoch(run: _Run, epoch: int, stop: StopSignals) -> None:
    """Train one epoch, from the checkpoint's batch when resuming mid-epoch: a log.jsonl line every
    `run.logging_every` steps, a checkpoint every `save_every` steps (and at once on a signal, then stop).
    The epoch's training is checkpointed before it is validated (evaluation draws no random numbers, so
    the checkpoint's RNG states are the same either way)."""
    accelerator, state, cfg = run.accelerator, run.state, run.train_cfg
    run.model.train()
    run.train_loader.set_epoch(epoch)
    done = state.epoch_batches  # > 0 when resuming mid-epoch: those batches are skipped
    loader = accelerator.skip_first_batches(run.train_loader, done) if done else run.train_loader
    clock = window_start = time.perf_counter()
    epoch_examples = window_examples = 0
    with progress_bar(accelerator, f"Epoch {epoch}/{cfg.epochs}", total=len(run.train_loader), stats=True,
                      pacer=run.pacer) as bar:
        bar.advance(done)
        for batch in loader:
            _step(run, batch)
            size = len(next(iter(batch.values()))) * accelerator.num_processes
            state.epoch_batches += 1
            state.train_examples += size
            epoch_examples += size
            window_examples += size
            # The loss shown is the logging window's mean so far, read from the device only when shown.
            bar.advance(loss=run.losses.running_mean,
                        speed=f"{epoch_examples / max(time.perf_counter() - clock, 1e-9):.1f}")
            if not accelerator.sync_gradients:
                continue
            state.global_step += 1
            stopping = stop.agree(accelerator.device)
            if state.global_step % run.logging_every == 0:
                now = time.perf_counter()
                _log_window(run, epoch, window_examples / max(now - window_start, 1e-9))
                window_start, window_examples = now, 0
            due = (cfg.save_every and state.global_step % cfg.save_every == 0
                   and not accelerator.gradient_state.end_of_dataloader)  # the epoch end saves anyway
            if due or stopping:
                state.train_seconds += time.perf_counter() - clock
                run.losses.flush_into(state, epoch)  # a checkpoint never holds a NaN run
                run.checkpoint()
                clock = time.perf_counter()
                if stopping:
                    raise Interrupted(stop.signal, state.global_step, cfg.save_checkpoint)
    run.losses.flush_into(state, epoch)
    state.train_seconds += time.perf_counter() - clock
    state.unvalidated = {"step": state.global_step, "epoch": epoch,
                         "train_loss": round(state.epoch_loss_sum / max(state.epoch_loss_batches, 1), 6)}
    state.epoch, state.epoch_batches, state.epoch_loss_sum, state.epoch_loss_batches = epoch, 0, 0.0, 0
    run.losses.reset_window()
    run.checkpoint()


def _step(run: _Run, batch) -> None:
    """Forward and backward on one batch; the optimizer steps once the accumulation steps are done."""
    accelerator, model, max_grad_norm = run.accelerator, run.model, run.optim.max_grad_norm
    with accelerator.accumulate(model):
        output = model(**batch)
        loss = output.loss
        if run.train_cfg.nan_policy == "skip" and any_process(
                not math.isfinite(loss.detach().float().item()), accelerator.device):
            # This policy reads every loss (one sync per step); with several processes, all
            # skip the step when any batch failed, or their gradient all-reduce would hang.
            run.state.skipped_batches += 1
        else:
            accelerator.backward(_token_weighted(loss, batch, run.token_scale))
            run.losses.add(loss, getattr(output, "loss_parts", None))
        if accelerator.sync_gradients and max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad()


def _log_window(run: _Run, epoch: int, examples_per_second: float) -> None:
    """Write the logging window's line to log.jsonl (`examples_per_second`: the window's training speed)."""
    state = run.state
    run.losses.flush_into(state, epoch)
    loss, parts = run.losses.take_window()
    run.log.write({
        "step": state.global_step,
        "epoch": round(epoch - 1 + state.epoch_batches / len(run.train_loader), 4),
        "loss": round(loss, 6),
        **{f"{part}_loss": round(part_loss, 6) for part, part_loss in parts.items()},
        "learning_rate": run.scheduler.get_last_lr()[0],
        "examples_per_second": round(examples_per_second, 2),
    })


def _close_epoch(run: _Run) -> None:
    """Validate the epoch whose training is done and checkpointed; log it; keep it if it is the best."""
    state, validation, epochs = run.state, run.eval_sets.get("validation"), run.train_cfg.epochs
    record = state.unvalidated
    epoch = record["epoch"]
    if validation is not None:
        loader, order = run.eval_loaders["validation"]
        metrics, _ = _score(run.model, loader, order, validation, run.accelerator, run.task, "Validating")
        record.update({f"validation_{k}": v for k, v in metrics.items()})
        _select(run, metrics, epoch)
        run.pacer.say(f"Epoch {epoch}/{epochs}: validation {_summary(metrics)}", force=True)  # a result: always
    else:  # a line of progress: paced without a terminal, but the last one always comes
        run.pacer.say(f"Epoch {epoch}/{epochs}: train loss {record['train_loss']:.4f}", force=epoch == epochs)
    run.log.write(record)
    state.history.append(record)
    state.unvalidated = None
    run.record_progress()


def _test_and_save(run: _Run, kept_epoch: int, save_model: Callable[[Any], None]) -> None:
    """The kept epoch's weights back in the model, its test pass, model/ written: each recorded in the
    latest checkpoint once done, so a run killed after it resumes without doing it again."""
    accelerator, state = run.accelerator, run.state
    if kept_epoch != state.epoch:
        accelerator.wait_for_everyone()
        run.store.load_best(accelerator.unwrap_model(run.model), kept_epoch)
    # What the kept epoch chose on validation (multi-label thresholds) goes with its weights, before the test pass.
    run.task.on_kept_model(accelerator.unwrap_model(run.model), state.best_metrics)
    if state.test is None:
        loader, order = run.eval_loaders["test"]
        metrics, seconds = _score(run.model, loader, order, run.eval_sets["test"], accelerator, run.task, "Testing")
        run.log.write({"step": state.global_step, "epoch": kept_epoch, **{f"test_{k}": v for k, v in metrics.items()}})
        state.test = {"metrics": metrics, "seconds": seconds}
        run.record_progress()
    else:
        console.print("The test pass had finished: its scores are kept.")
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(run.model))
    state.model_saved = True
    run.record_progress()


def _result(state: LoopState, kept_epoch: int, selection: Selection, validated: bool, test_rows: int) -> TrainResult:
    seconds, test_seconds = state.train_seconds, state.test["seconds"]
    return TrainResult(
        test_metrics=state.test["metrics"],
        validation_metrics=state.best_metrics if validated else {},
        kept_epoch=kept_epoch,
        selected_on=f"validation {selection.metric}" if validated else "last epoch",
        stopped_early=state.stopped_early,
        skipped_batches=state.skipped_batches,
        train_samples_per_second=state.train_examples / seconds if seconds else 0.0,
        train_runtime=seconds,
        eval_samples_per_second=test_rows / test_seconds if test_seconds else 0.0,
        history=state.history,
    )


def _token_weighted(loss, batch, token_scale: float | None):
    """The loss to back-propagate: as computed, or for a per-token loss over length-grouped batches,
    weighed by the batch's real tokens over the mean per batch (see train_loader.token_scale)."""
    mask = batch.get("attention_mask") if token_scale is not None else None
    return loss if mask is None else loss * mask.sum() / token_scale


def _score(model, loader, order, eval_set: EvalSet, accelerator: Accelerator, task,
           description: str) -> tuple[dict[str, float], float]:
    """The metrics, and the seconds the model pass took (post-processing and metrics apart, as the
    Trainer's `eval_samples_per_second` counts)."""
    # This module's collect_outputs, looked up at call time (tests wrap it to interrupt a pass).
    return score_dataset(model, loader, accelerator, task, eval_set.data, description, order, collect=collect_outputs)


def _select(run: _Run, metrics: dict[str, float], epoch: int) -> None:
    """Keep the epoch if it beats the best validation score so far; count towards early stopping."""
    state, selection, accelerator = run.state, run.selection, run.accelerator
    selection.check_reported(metrics)  # a task that does not declare its metrics: checked at its first validation
    if state.best_epoch == 0 or selection.improved(metrics, state.best_metrics):
        state.best_epoch, state.best_metrics, state.evals_without_improvement = epoch, metrics, 0
        if accelerator.is_main_process:
            run.store.save_best(accelerator.unwrap_model(run.model), epoch, drop_others=not run.train_cfg.save_checkpoint)
        return
    state.evals_without_improvement += 1
    patience = run.train_cfg.early_stopping_patience
    if patience and state.evals_without_improvement >= patience:
        state.stopped_early = True
        console.print(f"Early stopping: no better {selection.described} for {patience} epoch(s); "
                      f"keeping epoch {state.best_epoch}.")


def _summary(metrics: dict[str, float]) -> str:
    # The headline numbers only; per-type scores (NER, QA splits) are in log.jsonl and metrics.json.
    shown = [k for k in metrics if "_" not in k or k in ("exact_match", "f1_micro", "f1_macro", "subset_accuracy")][:5]
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in shown)


def _non_finite_message(loss: NonFiniteLoss, store: CheckpointStore, run_path: Path) -> str:
    latest = store.latest()
    kept = f"the last good checkpoint ({latest.name}) stays in {run_path}" if latest else \
        f"no checkpoint had been written yet ({run_path})"
    return (f"the training loss became {loss.value} by step {loss.step} (epoch {loss.epoch}); "
            f"the run stopped and {kept}. Lower the learning rate (--lr), or skip such batches "
            "with --set train.nan_policy=skip")
