"""A light progress line on stderr for long command-line steps (feature extraction, evaluation).

tqdm is only in the ``train`` extra; this needs nothing. By default the line is drawn only
when the stream is a terminal and pytest is not running, so pipes, logs, the journal and test
output stay clean; ``EMG_PROGRESS=1`` forces it on, ``EMG_PROGRESS=0`` off. It is redrawn in
place (carriage return) at most every ``min_interval_s`` seconds and ends with a newline.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterator, Sequence, TextIO, TypeVar

T = TypeVar("T")


def interactive(stream: TextIO) -> bool:
    """Whether a progress line belongs on ``stream`` (see the module docstring)."""
    forced = os.environ.get("EMG_PROGRESS", "")
    if forced in ("0", "1"):
        return forced == "1"
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """``what: done/total unit (pct %), elapsed s, ~eta s left`` on one line of ``stream``."""

    def __init__(self, what: str, total: int, unit: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None, min_interval_s: float = 0.2):
        if total < 0:
            raise ValueError(f"total={total} must be >= 0")
        self.what, self.total, self.unit = what, int(total), unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(self.stream) if enabled is None else enabled
        self.min_interval_s = min_interval_s
        self.done = 0
        self._t0 = time.monotonic()
        self._last_draw = -float("inf")
        self._width = 0

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= self.min_interval_s or self.done >= self.total):
            self._draw(now, note)

    def _draw(self, now: float, note: str = "") -> None:
        elapsed = now - self._t0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.what}: {self.done}/{self.total}{unit} ({pct:.0f} %), {elapsed:.0f} s"
        if 0 < self.done < self.total:
            text += f", ~{elapsed / self.done * (self.total - self.done):.0f} s left"
        if note:
            text += f", {note}"
        # pad over a longer previous line
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(text))
        self._last_draw = now

    def close(self) -> None:
        if self.enabled and self._width:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Sequence[T], what: str, unit: str = "", **kwargs) -> Iterator[T]:
    """Iterate ``items``, counting each one after its step on a :class:`Progress` line."""
    with Progress(what, len(items), unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update()
