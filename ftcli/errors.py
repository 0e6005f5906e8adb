"""The one exception type for user mistakes.

Anything raised as `UserError` is printed by the CLI as a single line on stderr and exits with
status 2; everything else is a bug and keeps its traceback.
"""

import errno
import os
from contextlib import contextmanager


class UserError(Exception):
    """A mistake in the user's input (data, config, paths); the message says how to fix it."""

    exit_code = 2


def disk_full(err: BaseException, writing: "os.PathLike | str | None" = None) -> str | None:
    """The file being written when the disk (or quota) ran out ("" when unknown), or None: any error in the
    chain that is ENOSPC / EDQUOT, or a library's message saying so (safetensors, arrow and tokenizers wrap it).
    Given the folder being `writing` to, a failed write there while its file system has (next to) no space
    left counts too: torch's writer reports a full disk only as "unexpected pos"."""
    if writing is not None and _no_space_left(writing):
        return str(writing)
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return err.filename or ""
        if "no space left on device" in str(err).lower() or "disk quota exceeded" in str(err).lower():
            return ""
        err = err.__cause__ or err.__context__
    return None


def _no_space_left(path) -> bool:
    import shutil
    from pathlib import Path

    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


@contextmanager
def named_if_disk_full(target, writing=None):
    """A write into `writing` (default: `target`) that fails on a full disk raises ENOSPC naming `target`
    (what the user knows, not a temporary file), whatever the library raised."""
    try:
        yield
    except UserError:
        raise
    except Exception as err:
        if disk_full(err, writing if writing is not None else target) is not None:
            raise OSError(errno.ENOSPC, "No space left on device", str(target)) from err
        raise
