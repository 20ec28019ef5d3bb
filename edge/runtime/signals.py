"""SIGTERM and SIGINT as a stop request: the service ends cleanly (exit 0 on SIGTERM, systemd's
stop; 130 on SIGINT) instead of dying mid-write."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopOnSignals:
    """While entered, SIGTERM/SIGINT set ``stop`` and are remembered in :attr:`received`.

    Handlers are only installed from the main thread and when ``enabled`` (a library caller
    or a test keeps its own); the previous handlers are restored on exit.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, stop: threading.Event, enabled: bool = True) -> None:
        self.stop = stop
        self.enabled = enabled
        self.received: int | None = None
        self._old: list[tuple[int, object]] = []

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        self.stop.set()

    @property
    def interrupted(self) -> bool:
        """True after SIGINT (Ctrl-C: exit status 130)."""
        return self.received == signal.SIGINT

    def __enter__(self) -> "StopOnSignals":
        if self.enabled and threading.current_thread() is threading.main_thread():
            self._old = [(sig, signal.signal(sig, self._handler)) for sig in self.SIGNALS]
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old:
            signal.signal(sig, handler)
        self._old = []
