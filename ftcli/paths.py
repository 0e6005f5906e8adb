"""Where ftcli keeps derived files (converted models, prepared datasets, feature caches)."""

import os
from pathlib import Path

from ftcli.errors import UserError, named_if_disk_full


def cache_dir() -> Path:
    """`$FTCLI_CACHE`, else `$XDG_CACHE_HOME/ftcli`, else `~/.cache/ftcli`; created if need be. One
    that cannot be a folder (a file in the way, no permission) is a UserError naming the way out."""
    if os.environ.get("FTCLI_CACHE"):
        folder, source = Path(os.environ["FTCLI_CACHE"]).expanduser(), "FTCLI_CACHE"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ftcli"
        source = "XDG_CACHE_HOME" if xdg else "the home folder"
    return usable_folder(folder, f"ftcli's cache {folder} (from {source})", "point FTCLI_CACHE at a writable folder")


def huggingface_cache(folder: str | Path, what: str) -> Path:
    """A Hugging Face library's cache folder (datasets', evaluate's), created; one that cannot be (a home
    folder that is a file, unreadable or gone) is named as such, not blamed on the data or the model."""
    folder = Path(folder)
    source = next((f"from {name}" for name in ("HF_DATASETS_CACHE", "HF_MODULES_CACHE", "HF_HOME", "XDG_CACHE_HOME")
                   if os.environ.get(name) and str(folder).startswith(os.environ[name])), "under the home folder")
    return usable_folder(folder, f"the Hugging Face {what} cache {folder} ({source})", "set HF_HOME to a writable folder")


def check_huggingface_caches() -> None:
    """Before long work: the caches datasets (reading data files) and evaluate (loading a metric) write to
    can be created, so a home folder that is unusable stops a run before it trains, not after."""
    import datasets.config
    import evaluate.config

    huggingface_cache(datasets.config.HF_DATASETS_CACHE, "datasets")
    huggingface_cache(evaluate.config.HF_MODULES_CACHE, "modules")


def usable_folder(folder: Path, described: str, way_out: str) -> Path:
    """`folder`, created if need be, or a UserError: `described` cannot be created (why); `way_out`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"{described} is a file, or under one; {way_out}") from None
    except OSError as err:
        raise UserError(f"{described} cannot be created ({err.strerror}); {way_out}") from None
    return folder


def write_text_atomically(path: Path, text: str) -> None:
    """Write `path` through a hidden temporary file renamed into place: a reader (or a run that is
    killed midway) never sees half a file."""
    partial = path.with_name(f".{path.name}.tmp")
    try:
        with named_if_disk_full(path, writing=path.parent):
            partial.write_text(text)
            partial.replace(path)
    except BaseException:  # a full disk, a kill signal: no half-written file is left beside the real one
        partial.unlink(missing_ok=True)
        raise
