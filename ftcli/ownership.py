"""What ftcli can prove it wrote, so that it never deletes or replaces anything else.

A folder ftcli writes whole (a run, an export, a trained tokenizer) is signed when it is complete:
its marker file holds a manifest of every file in it (relative path, size, SHA-256). Before ftcli
replaces or deletes such a folder it checks the folder against that manifest: a file added since,
changed, or a marker without a manifest (an empty `.ftcli-run` a user made) means the folder is
not provably ftcli's, and it is left alone. A single output file (`predict --output`) is proven the
same way by a record, in the cache, of the size and hash of what ftcli last wrote there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ftcli.errors import UserError, named_if_disk_full
from ftcli.paths import cache_dir, write_text_atomically

IGNORED = {".lock"}  # the run lock: rewritten while a run is live, never content


def digest(path: Path) -> dict:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return {"size": path.stat().st_size, "sha256": sha.hexdigest()}


def _entries(folder: Path, marker: str):
    """Every path under `folder` (not following links), relative, without the marker and the lock."""
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in sorted(dirs) + sorted(files):
            relative = (base / name).relative_to(folder)
            if len(relative.parts) == 1 and name in IGNORED | {marker}:
                continue
            yield relative, base / name


def sign(folder: Path, marker: str, details: dict | None = None) -> None:
    """Write `folder/marker`: `details`, who wrote the folder and when, and the manifest of its files."""
    files, folders = {}, []
    for relative, path in _entries(folder, marker):
        if path.is_symlink():
            raise UserError(f"{path} is a symbolic link; ftcli writes plain files only")
        if path.is_dir():
            folders.append(relative.as_posix())
        else:
            files[relative.as_posix()] = digest(path)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {"created_by": "ftcli", "created": stamp, **(details or {}), "folders": folders, "files": files}
    write_text_atomically(folder / marker, json.dumps(record, indent=1) + "\n")


def read_marker(folder: Path, marker: str) -> dict | None:
    """The marker's record, or None when there is none or it is not ftcli's (empty, not JSON, no manifest)."""
    try:
        record = json.loads((folder / marker).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("created_by") != "ftcli" or not isinstance(record.get("files"), dict):
        return None
    return record


def unproven(folder: Path, marker: str) -> list[str]:
    """What in `folder` ftcli cannot prove it wrote (relative paths; [] when all of it is ftcli's)."""
    record = read_marker(folder, marker)
    if record is None:
        return sorted(p.name for p in folder.iterdir() if p.name not in IGNORED)
    files, folders = record["files"], set(record.get("folders", []))
    foreign = []
    for relative, path in _entries(folder, marker):
        key = relative.as_posix()
        if any(key.startswith(f"{outside}/") for outside in foreign):
            continue  # inside a folder already named
        if path.is_symlink():
            foreign.append(key)
        elif path.is_dir():
            if key not in folders:
                foreign.append(key)
        elif key not in files or files[key] != digest(path):
            foreign.append(key)
    return foreign


def describe(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def require_replaceable(folder: Path, marker: str, what: str, instead: str = "choose another folder") -> None:
    """Refuse, in one line, to replace a non-empty `folder` that holds anything ftcli cannot prove it wrote."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    foreign = unproven(folder, marker)
    if foreign:
        raise UserError(f"{folder} holds files ftcli did not write ({describe(foreign)}); ftcli replaces only "
                        f"{what} it wrote itself, unchanged: move those files away or {instead}")


def overlaps(a: Path, b: Path) -> bool:
    """One of the two paths is the other or lies inside it."""
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


@contextmanager
def atomic_directory(target: Path, marker: str | None = None, details: dict | None = None) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; when the block succeeds it replaces
    `target`, so an interrupted write never leaves a half-written directory behind. A target
    that cannot be written (a file in the way, a read-only folder) is a UserError.

    With `marker`, the finished folder is signed (`ownership.sign`: a manifest of its files in
    `target/marker`), and an existing `target` is replaced only when it is provably ftcli's (all of
    it in its manifest, unchanged). Without one, only a folder inside ftcli's cache is replaced."""

    if target.exists() and not target.is_dir():
        raise UserError(f"cannot write the folder {target}: a file of that name is in the way")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in target.parents if p.exists())
        raise UserError(f"cannot write the folder {target}: {blocker} is a file, not a folder") from None
    except OSError as err:
        raise UserError(f"cannot write the folder {target}: cannot create {target.parent} ({err.strerror})") from None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as err:
        raise UserError(f"cannot write the folder {target}: {target.parent} is not writable ({err.strerror})") from None
    try:
        with named_if_disk_full(target, writing=staging):
            yield staging
            if marker is not None:
                sign(staging, marker, details)
        if target.exists():
            if marker is not None:
                require_replaceable(target, marker, "a folder")
            elif not _inside(target, cache_dir()):
                raise UserError(f"{target} exists and is not in ftcli's cache ({cache_dir()}); ftcli does not replace it")
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


# -- inputs that must not change under a run -----------------------------------------------------

def fingerprint(source: str) -> dict:
    """What identifies a data source: a file's size and hash; a folder's files (names, sizes, times);
    anything else (a catalogue alias, a Hub id) by its name."""
    path = Path(str(source)).expanduser()
    if path.is_file():
        return {"file": str(source), **digest(path)}
    if path.is_dir():
        sha, files = hashlib.sha256(), 0
        for root, dirs, names in sorted(os.walk(path)):
            dirs.sort()
            for name in sorted(names):
                stat = (Path(root) / name).stat()
                sha.update(f"{(Path(root) / name).relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                files += 1
        return {"folder": str(source), "files": files, "sha256": sha.hexdigest()}
    return {"name": str(source)}


def describe_change(was: dict, now: dict) -> str:
    if "size" in was and "size" in now and was["size"] != now["size"]:
        return f"{was['size']:,} bytes then, {now['size']:,} now"
    if "files" in was and "files" in now and was["files"] != now["files"]:
        return f"{was['files']:,} files then, {now['files']:,} now"
    if set(was) != set(now):
        return "it is no longer what it was (file, folder or name)"
    return "same size, other content"


# -- folders of many runs (compare, tune) ----------------------------------------------------------

SETTINGS_FILE = "settings.json"
"""In a folder of many runs (`ftcli compare`, `ftcli tune`): the settings its results were computed with."""


def keep_settings_record(root: Path, now: dict, command: str, held: str, advice: str, hidden_prefix: str = "") -> None:
    """A folder holds the results of one set of settings: they are recorded first, into an empty folder, and
    compared on every later run, so results of other settings are never mixed in. A folder holding other files is
    someone else's, and nothing is written beside them. `held` says what the folder holds ("results", "a search"),
    `advice` what to do when the settings differ; `hidden_prefix` is left off the names of changed settings."""
    record = root / SETTINGS_FILE
    now = json.loads(json.dumps(now))  # as the record reads back (tuples are lists)
    if record.is_file():
        try:
            then = json.loads(record.read_text())
        except ValueError:
            then = None
        if then != now:
            changed = ", ".join(key.removeprefix(hidden_prefix) for key in changed_settings(then, now))
            raise UserError(f"{root} holds {held} of other settings ({changed or 'unreadable record'} differ){advice}")
    elif root.is_dir() and any(root.iterdir()):
        raise UserError(f"{root} holds files and is not a folder `ftcli {command}` made (no {SETTINGS_FILE} "
                        "of its settings): choose another --output-dir")
    else:
        root.mkdir(parents=True, exist_ok=True)
        write_text_atomically(record, json.dumps(now, indent=1) + "\n")


def changed_settings(then, now: dict) -> list[str]:
    """The settings that differ, by dotted name (a file's fingerprint counts as one value); none when `then` is not
    a record at all."""
    if not isinstance(then, dict):
        return []
    old, new = _flat(then), _flat(now)
    return [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _flat(mapping, prefix: str = "") -> dict:
    if not isinstance(mapping, dict):
        return {prefix.rstrip("."): mapping}
    flat: dict = {}
    for key, value in mapping.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) and "sha256" not in value
                    else {f"{prefix}{key}": value})
    return flat


# -- single output files ---------------------------------------------------------------------------

def _written_files_record() -> Path:
    return cache_dir() / "written-files.json"


def _written_files() -> dict:
    try:
        record = json.loads(_written_files_record().read_text())
    except (OSError, ValueError, UserError):
        return {}
    return record if isinstance(record, dict) else {}


def check_output_file(path: Path, overwrite: bool, inputs: list[Path] = ()) -> None:
    """An output file may be written: it is not one of the command's `inputs` (nor inside one), and an
    existing file is replaced only with `overwrite` and only when ftcli wrote it and it is unchanged."""
    for source in inputs:
        if source.exists() and overlaps(path, source):
            raise UserError(f"--output {path} would overwrite the input {source}; choose another file")
    if not path.exists():
        return
    if not overwrite:
        raise UserError(f"--output {path} already exists; choose another file"
                        + (", or pass --overwrite to replace it" if _wrote(path) else ""))
    if not _wrote(path):
        raise UserError(f"--output {path} is a file ftcli did not write (or it changed since); ftcli replaces only "
                        "its own outputs: choose another file")


def _wrote(path: Path) -> bool:
    return path.is_file() and _written_files().get(str(path.resolve())) == digest(path)


def record_output_file(path: Path) -> None:
    """Remember what ftcli wrote to `path`, so a later --overwrite can prove it (best effort: a cache that
    cannot be written only means that file will not be replaced later)."""
    try:
        record = _written_files()
        record[str(path.resolve())] = digest(path)
        write_text_atomically(_written_files_record(), json.dumps(record, indent=1) + "\n")
    except (OSError, UserError):
        pass
