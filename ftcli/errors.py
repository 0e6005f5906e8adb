"""The one exception type for user mistakes.

Anything raised as `UserError` is printed by the CLI as a single line on stderr and exits with
status 2; everything else is a bug and keeps its traceback.
"""

import errno


class UserError(Exception):
    """A mistake in the user's input (data, config, paths); the message says how to fix it."""

    exit_code = 2


def disk_full(err: BaseException) -> str | None:
    """The file being written when the disk (or quota) ran out ("" when unknown), or None: any error in the
    chain that is ENOSPC / EDQUOT, or a library's message saying so (safetensors, arrow and tokenizers wrap it)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return err.filename or ""
        if "no space left on device" in str(err).lower() or "disk quota exceeded" in str(err).lower():
            return ""
        err = err.__cause__ or err.__context__
    return None
