"""Run directories that are never half-written, never clobbered, and never someone else's.

A run is built in a hidden staging folder beside its destination (`.NAME.partial`) and moved
into place only when it is complete. An interrupted run stays in staging, where `--resume`
picks it up. Every staging folder starts with ftcli's marker file (`.ftcli-run`); a finished run's
marker holds the manifest of every file in it (`ownership.sign`), and `--overwrite` replaces a run
only when everything in it matches that manifest, so a user's own folder, or a file a user put into
a run, is never deleted.
While a run is in progress its staging folder holds an OS-level lock (`.lock`, with the owner's
PID); the OS drops it when the owner exits or dies, so a second process can neither write into
nor delete a live run, and a crashed run's staging is free to resume.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ftcli.checkpoints import CheckpointStore
from ftcli.config import read_yaml_mapping
from ftcli.errors import UserError
from ftcli.ownership import require_replaceable, sign, unproven

CONFIG_FILE = "config.yaml"
MARKER_FILE = ".ftcli-run"
LOCK_FILE = ".lock"
STAGING_SUFFIX = ".partial"
NAME_MAX = 255  # bytes in one file name on Linux and macOS file systems


class RunDirectory:
    def __init__(self, destination: str | Path, overwrite: bool = False, resume: bool = False):
        self.destination = Path(os.path.abspath(Path(destination).expanduser()))  # "." and "a/.." get a name
        self.staging = self.destination.parent / f".{self.destination.name}{STAGING_SUFFIX}"
        self.overwrite, self.resume = overwrite, resume
        self._lock: RunLock | None = None

    def check(self) -> None:
        """Refuse clashes before anything is created or loaded."""
        if self.overwrite and self.resume:
            raise UserError("--overwrite and --resume contradict each other; pick one")
        name_bytes = len(self.staging.name.encode())
        if name_bytes > NAME_MAX:
            raise UserError(f"--output-dir name {self.destination.name[:40]}... is too long: at most "
                            f"{NAME_MAX - name_bytes + len(self.destination.name.encode())} bytes (ftcli stages the run "
                            f"beside it as .NAME{STAGING_SUFFIX})")
        if Path.cwd().resolve() == self.destination.resolve() or self.destination.resolve() in Path.cwd().resolve().parents:
            raise UserError(f"--output-dir {self.destination} is the folder you are working in (or holds it); "
                            "a run is written as a new folder: name one, e.g. --output-dir runs/first")
        check_writable(self.destination)
        if self.destination.exists() and not self.destination.is_dir():
            raise UserError(f"output path {self.destination} is a file, not a directory")
        holds_files = self.destination.is_dir() and any(self.destination.iterdir())
        if holds_files and not is_ftcli_run(self.destination):
            raise UserError(
                f"{self.destination} is a folder that ftcli did not create (no {MARKER_FILE} marker of ftcli's); "
                "ftcli never writes into or replaces it: choose another --output-dir"
            )
        if holds_files and not self.resume:
            self._require_own_run()
        if self.staging.exists():
            if not is_ftcli_run(self.staging):
                raise UserError(f"{self.staging} is in the way and was not made by ftcli; move it away")
            owner = RunLock(self.staging).owner()
            if owner is not None:
                raise UserError(f"{self.destination} is being written by another ftcli process (PID {owner}); "
                                "wait for it to finish or choose another --output-dir")
        if self.resume and holds_files and not (self.staging / CONFIG_FILE).is_file():
            raise UserError(f"nothing to resume: {self.destination} is already complete")
        if self.resume and not (self.staging / CONFIG_FILE).is_file():
            # Stopped before the run folder was made (while loading the model or tokenizing, which is cached):
            # there is nothing to continue, so the run starts; said, in case the path is not the one meant.
            from ftcli.progress import console

            console.print(f"Nothing of {self.destination} had been written yet: starting the run.", soft_wrap=True)
            self.resume = False
        if self.resume:
            return
        if holds_files and not self.overwrite:
            raise UserError(
                f"{self.destination} already holds a run; pass --overwrite to replace it, "
                "or choose another --output-dir"
            )
        if self.staging.exists() and not self.overwrite and CheckpointStore(self.staging).latest() is not None:
            raise UserError(
                f"an interrupted run of {self.destination} is in {self.staging}; "
                "pass --resume to continue it or --overwrite to start again"
            )

    def _require_own_run(self) -> None:
        """The destination holds nothing but a run ftcli finished there, unchanged (its manifest proves it)."""
        require_replaceable(self.destination, MARKER_FILE, "a run", instead="choose another --output-dir")

    def saved_config(self) -> dict:
        return read_yaml_mapping(self.staging / CONFIG_FILE, "the interrupted run's settings")

    def create(self, config: dict) -> Path:
        """Lock the staging folder (creating it), then start it afresh unless resuming: a stale
        staging folder without a checkpoint (or with --overwrite) is cleared, being ftcli's own."""
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create {self.staging}: {err.strerror}") from None
        self._lock = RunLock(self.staging)
        self._lock.acquire(self.destination)
        if not self.resume:
            for entry in self.staging.iterdir():
                if entry.name == LOCK_FILE:
                    continue
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            write_marker(self.staging)
            (self.staging / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
        return self.staging

    def finalize(self, keep_checkpoints: int) -> Path:
        """Prune the finished run's checkpoints to the newest `keep_checkpoints` (they go only now, so a kill
        before this resumes), sign it (the manifest of its files) and move it into place; an old run is removed
        only after that succeeded, and only when it is still provably ftcli's (checked again: hours may have
        passed)."""
        CheckpointStore(self.staging).finish(keep_checkpoints)
        sign(self.staging, MARKER_FILE)
        if self.destination.is_dir() and any(self.destination.iterdir()):
            if not (self.overwrite and is_ftcli_run(self.destination)):
                # Filled while this run trained (another process finished there first).
                raise UserError(f"{self.destination} was filled while this run trained; this run is complete "
                                f"in {self.staging}: move it where you want it")
            self._require_own_run()
        trash = self.destination.parent / f".{self.destination.name}.old"
        if trash.exists():
            if not is_ftcli_run(trash) or unproven(trash, MARKER_FILE):
                raise UserError(f"{trash} is in the way and is not a run ftcli wrote; move it away (this run is "
                                f"complete in {self.staging})")
            shutil.rmtree(trash)
        if self.destination.is_dir() and not any(self.destination.iterdir()):
            self.destination.rmdir()  # an empty folder the user made for the run
        if self.destination.exists():
            self.destination.rename(trash)
        self.staging.rename(self.destination)
        if trash.exists():
            shutil.rmtree(trash, ignore_errors=True)
        (self.destination / LOCK_FILE).unlink(missing_ok=True)
        self.release()
        return self.destination

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class RunLock:
    """An exclusive `flock` on `FOLDER/.lock`, which holds the owner's PID for messages."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_FILE
        self._handle = None

    def acquire(self, destination: Path) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise UserError(f"{destination} is being written by another ftcli process (PID {owner}); "
                            "wait for it to finish or choose another --output-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def owner(self) -> str | None:
        """The PID holding the lock, or None when nobody does (never locked, or the owner died)."""
        if not self.path.is_file():
            return None
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                return handle.read().strip() or "unknown"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def write_marker(folder: Path) -> None:
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (folder / MARKER_FILE).write_text(json.dumps({"created_by": "ftcli", "created": stamp}) + "\n")


def is_ftcli_run(folder: Path) -> bool:
    """The folder carries ftcli's marker (a record ftcli wrote, not just a file of that name)."""
    try:
        record = json.loads((folder / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("created_by") == "ftcli"


def is_run_directory(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and (path / "model").is_dir()


def check_writable(destination: Path) -> None:
    """The run can be written: the nearest existing ancestor of `destination` is a folder we can
    create files in (probed with a temporary file, which also catches read-only file systems)."""
    ancestor = destination.parent.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"cannot write the run to {destination}: {ancestor} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".ftcli-write-test-", dir=ancestor)
    except OSError as err:
        raise UserError(f"cannot write the run to {destination}: {ancestor} is not writable "
                        f"({err.strerror})") from None
    os.close(handle)
    os.unlink(probe)
