"""Where ftcli keeps derived files (converted models, prepared datasets, feature caches)."""

import os
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
