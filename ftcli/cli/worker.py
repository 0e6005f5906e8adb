"""The worker processes `ftcli compare` and `ftcli tune` start, one run each: how they end."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from ftcli.errors import UserError
from ftcli.memory import limit_kernel_cache
from ftcli.quiet import quiet_libraries


def run_as_worker(work: Callable[[], None]) -> None:
    """Run one cell or trial, quietly. A UserError is one line and its exit status; a signal's is not printed (the
    parent command says how to continue, not the worker)."""
    quiet_libraries()
    limit_kernel_cache()
    try:
        work()
    except UserError as err:
        if err.exit_code not in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
