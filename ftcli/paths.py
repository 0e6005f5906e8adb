"""Where ftcli keeps derived files (converted models, prepared datasets, feature caches)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ftcli.errors import UserError


def cache_dir() -> Path:
    """`$FTCLI_CACHE`, else `$XDG_CACHE_HOME/ftcli`, else `~/.cache/ftcli`."""
    if os.environ.get("FTCLI_CACHE"):
        return Path(os.environ["FTCLI_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ftcli"


def write_text_atomically(path: Path, text: str) -> None:
    """Write `path` through a hidden temporary file renamed into place: a reader (or a run that is
    killed midway) never sees half a file."""
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text)
    partial.replace(path)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; when the block succeeds it replaces
    `target`, so an interrupted write never leaves a half-written directory behind. A target
    that cannot be written (a file in the way, a read-only folder) is a UserError."""
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
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
