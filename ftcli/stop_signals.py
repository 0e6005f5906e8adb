"""SIGINT and SIGTERM while training: a checkpoint at the next step, then a stop."""

from __future__ import annotations

import signal
import threading

from ftcli.distributed import any_process, world_size


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the training state was checkpointed (when enabled)."""

    def __init__(self, signal_name: str, step: int, saved: bool):
        super().__init__(signal_name)
        self.signal_name, self.step, self.saved = signal_name, step, saved
        self.exit_code = 128 + getattr(signal, signal_name)


class StopSignals:
    """While training, SIGINT and SIGTERM only set `signal`: the loop checkpoints at the next step
    boundary and stops. A second Ctrl-C interrupts at once, except in a job of several processes,
    where the launcher passes the terminal's Ctrl-C on a second time and every process must reach
    the checkpoint; there `agree` makes all processes stop at the same step."""

    def __enter__(self) -> "StopSignals":
        self.signal: str | None = None
        self._several = world_size() > 1
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT and not self._several:
            raise KeyboardInterrupt
        self.signal = self.signal or signal.Signals(signum).name

    def agree(self, device) -> bool:
        """Whether to stop now; every process gets the same answer (one small all-reduce per step,
        only with several processes): a signal that reached any process stops them all at this step."""
        if not self._several:
            return self.signal is not None
        stopping = any_process(self.signal is not None, device)
        if stopping and self.signal is None:
            self.signal = "SIGTERM"  # another process was signalled; this one stops with it
        return stopping

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
