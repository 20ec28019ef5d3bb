"""QEMG while detection runs, part 1: voluntary stretches in the pipeline's window calls.

::

    Pipeline (calibrated samples, window posteriors) ──▶ StretchTracker ──Stretch──▶ on_stretch
    (the detection loop)                                                  (QemgWorker.submit,
                                                                           edge.runtime.qemg_summaries)

Config: :class:`QemgConfig` (also the worker's). State: :class:`StretchTracker`. A *stretch*
is a run of consecutive analysis windows whose most probable class is ``label``
(``voluntary_muap``), from the first one's start to the last one's end (source sample indices;
it starts no earlier than the previous stretch's end: windows overlap, stretches never do).
It ends on a window of another class, at a new stream segment (:mod:`edge.runtime.pipeline`:
long gap, amplifier restart) or at the end of the stream; one longer than ``max_s`` is cut there
and goes on as the next stretch, so a long contraction reports every ``max_s`` seconds.
Stretches shorter than ``min_s`` are not quantified.

The samples are the pipeline's calibrated ones: int16 at the bundle's µV per LSB (the source's
scale through :mod:`edge.calibration`), at the source's rate, gaps up to ``max_gap_fill_s``
filled with zeros. The tracker keeps only what an open stretch or the next window can need (at
most ``max_s`` plus ``lookback`` samples).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edge.validation import check_ranges

#: The class whose windows make a stretch, unless the config names another.
VOLUNTARY = "voluntary_muap"

__all__ = ["QemgConfig", "Stretch", "StretchTracker", "VOLUNTARY"]


@dataclass(frozen=True)
class QemgConfig:
    """What ``emg-edge run`` quantifies and how (validated at construction).

    ``min_s``: shortest stretch quantified, s (1–120; default 5: a handful of discharges per
    unit at 8–15 Hz is ~40–75, enough for a median template). ``max_s``: longest, s (``min_s``–600;
    default 30: a long contraction reports every 30 s). ``queue``: stretches waiting for the
    worker (1–64; beyond, skipped and counted). ``drain_s``: how long the end of a stream waits
    for the stretches still queued, s (0–600). ``label``: the class that makes a stretch.
    ``muscle``: reference row of the rule-based pattern (None = the wide *unspecified* limits).
    ``pattern_bundle``: the learned pattern model's bundle (name or directory; None = no model).
    """

    min_s: float = 5.0
    max_s: float = 30.0
    queue: int = 2
    drain_s: float = 30.0
    label: str = VOLUNTARY
    muscle: str | None = None
    pattern_bundle: str | None = "muap_pattern"

    def __post_init__(self) -> None:
        check_ranges(self, (("min_s", 1.0, 120.0, "s"), ("queue", 1, 64, "", True), ("drain_s", 0.0, 600.0, "s")))
        check_ranges(self, (("max_s", self.min_s, 600.0, "s"),))  # after min_s: its bound is min_s
        if not (isinstance(self.label, str) and self.label):
            raise ValueError(f"QemgConfig.label = {self.label!r}: must name a class of the bundle")


@dataclass(frozen=True)
class Stretch:
    """One voluntary stretch: source indices ``[start, end)`` and its int16 ``samples`` at
    ``uv_per_lsb`` µV per LSB and ``sample_rate`` Hz."""

    start: int
    end: int
    samples: np.ndarray
    sample_rate: int
    uv_per_lsb: float



class StretchTracker:
    """Finds voluntary stretches in the pipeline's window calls and cuts their samples.

    The pipeline calls :meth:`samples` with each calibrated block (source index of its first
    sample), :meth:`window` with each window's posteriors and span, and :meth:`reset` at a new
    segment; ``on_stretch(Stretch)`` gets each stretch of at least ``min_s``. ``labels``: the
    bundle's class order; ``lookback`` (samples): how far behind the newest sample a window may
    start (a few windows; the front-end's and resampler's delay).
    """

    def __init__(self, cfg: QemgConfig, labels, sample_rate: int, uv_per_lsb: float, lookback: int,
                 on_stretch: Callable[[Stretch], None]) -> None:
        labels = list(labels)
        if cfg.label not in labels:
            raise ValueError(f"QEMG: the bundle has no class {cfg.label!r} (its classes: {', '.join(labels)})")
        self.cfg = cfg
        self.index = labels.index(cfg.label)
        self.sample_rate = int(sample_rate)
        self.uv_per_lsb = float(uv_per_lsb)
        self.lookback = int(lookback)
        self.on_stretch = on_stretch
        self.min_samples = int(round(cfg.min_s * self.sample_rate))
        self.max_samples = int(round(cfg.max_s * self.sample_rate))
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._newest = 0  # source index after the last sample received
        self._open: int | None = None  # start of the open stretch
        self._end = 0  # end of its last voluntary window
        self._last = 0  # end of the last stretch handed out: windows overlap, stretches never do
        self.stretches = 0  # stretches handed to on_stretch

    def samples(self, first_index: int, x: np.ndarray) -> None:
        if x.size:
            self._chunks.append((int(first_index), np.array(x, dtype=np.int16, copy=True)))
            self._newest = int(first_index) + int(x.size)
            self._trim()

    def window(self, probs: np.ndarray, start: int, end: int) -> None:
        if int(np.argmax(probs)) != self.index:
            self._close()
            return
        if self._open is None:
            self._open = max(int(start), self._last)
        self._end = max(self._end, int(end))
        if self._end - self._open >= self.max_samples:  # long contraction: report, go on
            cut = self._open + self.max_samples
            self._emit(self._open, cut)
            self._open = cut

    def reset(self) -> None:
        """A new segment (or the end of the stream): close the open stretch, forget the samples."""
        self._close()
        self._chunks.clear()
        self._last = 0

    def _close(self) -> None:
        if self._open is not None and self._end - self._open >= self.min_samples:
            self._emit(self._open, self._end)
        self._open = None
        self._end = 0

    def _emit(self, a: int, b: int) -> None:
        x = self._cut(a, b)
        self._last = b
        if x.size >= self.min_samples:
            self.stretches += 1
            self.on_stretch(Stretch(a, a + int(x.size), x, self.sample_rate, self.uv_per_lsb))

    def _cut(self, a: int, b: int) -> np.ndarray:
        parts = [x[max(a - s, 0):max(b - s, 0)] for s, x in self._chunks if s < b and s + x.size > a]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def _trim(self) -> None:
        keep = self._newest - self.lookback
        if self._open is not None:
            keep = min(keep, self._open)
        while self._chunks and self._chunks[0][0] + self._chunks[0][1].size <= keep:
            self._chunks.popleft()
