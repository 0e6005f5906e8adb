"""Where ftcli keeps derived files (converted models, prepared datasets, feature caches)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$FTCLI_CACHE`, else `$XDG_CACHE_HOME/ftcli`, else `~/.cache/ftcli`."""
    if os.environ.get("FTCLI_CACHE"):
        return Path(os.environ["FTCLI_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ftcli"
