"""Where ftcli keeps derived files (converted models, prepared datasets, feature caches)."""

import os
from pathlib import Path

from ftcli.errors import UserError


def cache_dir() -> Path:
    """`$FTCLI_CACHE`, else `$XDG_CACHE_HOME/ftcli`, else `~/.cache/ftcli`; created if need be. One
    that cannot be a folder (a file in the way, no permission) is a UserError naming the way out."""
    if os.environ.get("FTCLI_CACHE"):
        folder, source = Path(os.environ["FTCLI_CACHE"]).expanduser(), "FTCLI_CACHE"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ftcli"
        source = "XDG_CACHE_HOME" if xdg else "the home folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"ftcli's cache {folder} (from {source}) is a file, or under one; point FTCLI_CACHE at a "
                        "folder") from None
    except OSError as err:
        raise UserError(f"ftcli's cache {folder} (from {source}) cannot be created ({err.strerror}); point "
                        "FTCLI_CACHE at a writable folder") from None
    return folder


def write_text_atomically(path: Path, text: str) -> None:
    """Write `path` through a hidden temporary file renamed into place: a reader (or a run that is
    killed midway) never sees half a file."""
    partial = path.with_name(f".{path.name}.tmp")
    try:
        partial.write_text(text)
        partial.replace(path)
    except BaseException:  # a full disk, a kill signal: no half-written file is left beside the real one
        partial.unlink(missing_ok=True)
        raise
