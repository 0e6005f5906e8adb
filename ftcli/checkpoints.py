"""Checkpoints a run resumes from, each written whole and then renamed into place.

    checkpoints/
      step-00000120/              accelerate's save_state (weights, optimizer, scheduler, the RNG
                                  states of every library and process) + trainer_state.json,
                                  written last: a folder with it is complete
      latest                      the newest complete checkpoint's name, replaced after the rename
      best-epoch-2.safetensors    trainable weights of the best epoch so far (validation split)

A model with frozen weights (LoRA, prompt tuning, a head on frozen features) checkpoints only
what trains (`trainable.safetensors`): the frozen rest is rebuilt from the base model on resume.

A kill at any moment leaves the previous checkpoint and `latest` intact: the new one is built in
`.tmp-step-...` and only renamed once complete; older ones are pruned after `latest` moved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from accelerate.utils.other import load as load_safely
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ftcli.errors import UserError, named_if_disk_full

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
LATEST = "latest"
PREFIX = "step-"
TRAINABLE_FILE = "trainable.safetensors"
TMP_PREFIX = ".tmp-"


class CheckpointStore:
    def __init__(self, run_path: Path, keep: int = 1):
        self.root = Path(run_path) / CHECKPOINTS
        self.keep = keep

    # -- writing ---------------------------------------------------------------------------

    def save(self, accelerator, state: dict[str, Any]) -> Path:
        """Write the training state of every process, then make it the latest checkpoint."""
        name = f"{PREFIX}{state['global_step']:08d}"
        final, tmp = self.root / name, self.root / f"{TMP_PREFIX}{name}"
        if accelerator.is_main_process:
            self.root.mkdir(parents=True, exist_ok=True)
            if tmp.exists():
                shutil.rmtree(tmp)  # left by a run killed while writing it
        accelerator.wait_for_everyone()
        try:
            with named_if_disk_full(f"checkpoint {final}", writing=tmp):
                accelerator.save_state(str(tmp))
                # Every process writes its own files into `tmp` (its RNG state at least), and accelerate
                # does not wait for the others: the folder is renamed only once all of them are done.
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    _write_durably(tmp / STATE_FILE, json.dumps(state, indent=2))
        except BaseException:  # a full disk, a kill: the half checkpoint goes, the last complete one stays
            if accelerator.is_main_process:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        if accelerator.is_main_process:
            if final.exists():  # the same step saved again (an epoch end right after a step save)
                shutil.rmtree(final)
            tmp.rename(final)
            _write_durably(self.root / LATEST, name)
            self._prune(keep_best=state.get("best_epoch"))
        accelerator.wait_for_everyone()
        return final

    def update_state(self, accelerator, state: dict[str, Any]) -> None:
        """Record in the latest checkpoint a phase finished after it was written (the epoch validated, the
        test scores, model/ saved): the weights and RNG states in it stay as they are."""
        if accelerator.is_main_process:
            latest = self.latest()
            if latest is not None:
                _write_durably(latest / STATE_FILE, json.dumps(state, indent=2))
                self._drop_best(keep=self._best_path(state.get("best_epoch") or 0))
        accelerator.wait_for_everyone()

    def attach(self, accelerator, model) -> None:
        """Make accelerate's checkpoints of a partly frozen model hold only its trainable weights
        (through its save/load hooks; FSDP and DeepSpeed shard and save the model their own way)."""
        from accelerate.utils import DistributedType

        unwrapped = accelerator.unwrap_model(model)
        if all(p.requires_grad for p in unwrapped.parameters()) or accelerator.distributed_type in (
                DistributedType.FSDP, DistributedType.DEEPSPEED):
            return

        def save(models, weights, output_dir):
            if accelerator.is_main_process:
                save_file(_trainable(unwrapped), str(Path(output_dir) / TRAINABLE_FILE))
            weights.clear()  # accelerate then writes no full copy of the model

        def load(models, input_dir):
            path = Path(input_dir) / TRAINABLE_FILE
            if path.is_file():
                _copy_into(unwrapped, load_file(str(path)))
                models.clear()

        accelerator.register_save_state_pre_hook(save)
        accelerator.register_load_state_pre_hook(load)

    def save_best(self, model, epoch: int, drop_others: bool = False) -> None:
        """The trainable weights (all that changes) of the epoch chosen so far. Older ones go
        when the checkpoint naming this epoch is written (or now, with `drop_others`)."""
        tensors = _trainable(model)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._best_path(epoch)
        partial = path.with_name(f"{TMP_PREFIX}{path.name}")
        save_file(tensors, str(partial))
        partial.replace(path)
        if drop_others:
            self._drop_best(keep=path)

    def load_best(self, model, epoch: int) -> None:
        _copy_into(model, load_file(str(self._best_path(epoch))))

    def remove_best(self) -> None:
        self._drop_best(keep=None)

    def finish(self, keep: int) -> None:
        """After a successful run: keep the newest `keep` checkpoints, or remove checkpoints/ (keep=0).
        Only ftcli's own entries are removed; anything else found there stays."""
        if not self.root.is_dir():
            return
        complete = sorted(p for p in self.root.glob(f"{PREFIX}*") if _is_checkpoint(p))
        for old in complete[: max(len(complete) - keep, 0)]:
            shutil.rmtree(old)
        if keep == 0:
            (self.root / LATEST).unlink(missing_ok=True)
            try:
                self.root.rmdir()  # only when nothing else is in it
            except OSError:
                pass

    # -- reading ---------------------------------------------------------------------------

    def latest(self) -> Path | None:
        """The newest complete checkpoint: the one `latest` names, else (a kill between the
        rename and the pointer update) the highest-numbered folder holding its state file."""
        pointer = self.root / LATEST
        named = pointer.read_text().strip() if pointer.is_file() and not pointer.is_symlink() else ""
        if re.fullmatch(rf"{PREFIX}\d{{8}}", named) and _is_checkpoint(self.root / named):
            return self.root / named
        # No pointer, or one naming anything but a checkpoint folder of this run (`../elsewhere`): scan.
        complete = [p for p in self.root.glob(f"{PREFIX}*") if _is_checkpoint(p)]
        return max(complete, key=lambda p: p.name) if complete else None

    def verify(self) -> None:
        """Open every file of the latest checkpoint the way `load` will (torch files with
        `weights_only`, memory-mapped so no tensor data is read; safetensors headers), so a
        damaged or tampered checkpoint is refused before anything else is loaded."""
        path = self.latest()
        if path is None:
            return
        try:
            json.loads((path / STATE_FILE).read_text())
            for file in sorted(path.iterdir()):
                if file.suffix in (".bin", ".pkl", ".pt"):
                    # accelerate's loader: weights_only, with the numpy types its RNG states need
                    load_safely(file, map_location="cpu", mmap=True)
                elif file.suffix == ".safetensors":
                    with safe_open(str(file), framework="pt") as handle:
                        handle.keys()
        except Exception as err:
            raise _damaged(path, err) from None

    def load(self, accelerator) -> dict[str, Any] | None:
        """Restore model, optimizer, scheduler and RNG states from the latest checkpoint and
        return the trainer state; None when there is no checkpoint yet."""
        path = self.latest()
        if path is None:
            return None
        try:
            accelerator.load_state(str(path))
            return json.loads((path / STATE_FILE).read_text())
        except Exception as err:  # corrupt or tampered files: torch/safetensors/json errors alike
            raise _damaged(path, err) from None

    # -- housekeeping ----------------------------------------------------------------------

    def _prune(self, keep_best: int | None) -> None:
        complete = sorted(p for p in self.root.glob(f"{PREFIX}*") if (p / STATE_FILE).is_file())
        for old in complete[: max(len(complete) - self.keep, 0)]:
            shutil.rmtree(old)
        for stale in self.root.glob(f"{TMP_PREFIX}*"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        self._drop_best(keep=self._best_path(keep_best or 0))

    def _drop_best(self, keep: Path | None) -> None:
        for best in self.root.glob("best-epoch-*.safetensors"):
            if best != keep:
                best.unlink()

    def _best_path(self, epoch: int) -> Path:
        return self.root / f"best-epoch-{epoch}.safetensors"


def _trainable(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().clone().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def _copy_into(model, tensors: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            parameters[name].copy_(value)


def _damaged(path: Path, err: Exception) -> UserError:
    text = str(err).strip().splitlines()
    detail = text[0].split(". ")[0] if text else "no detail"
    return UserError(f"checkpoint {path} cannot be loaded ({type(err).__name__}: {detail}); it may be damaged "
                     "or tampered with: delete that folder to resume from an earlier checkpoint, or start again "
                     "with --overwrite")


def _is_checkpoint(folder: Path) -> bool:
    """A complete checkpoint folder of this run: a real folder (not a link elsewhere) holding its state file."""
    return folder.is_dir() and not folder.is_symlink() and (folder / STATE_FILE).is_file()


def _write_durably(path: Path, text: str) -> None:
    """Write `path` via a temporary file and an atomic rename, flushed to disk first."""
    partial = path.with_name(f"{TMP_PREFIX}{path.name}")
    try:
        with partial.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
