"""Chunked filtering with overlap: the stage that keeps memory flat on long input.

:func:`windows` filters a signal block by block through a :class:`~edge.quant.bands.Bands`
(state carried, so the output equals filtering the whole) and yields overlapping buffers:
each buffer holds a *core* (the samples this buffer is responsible for; the cores partition
the signal) plus ``margin`` samples of context before and after. Later stages look up to
``margin`` samples around a core sample. The detection buffer is carried from one buffer to
the next by reference, so a stage that edits it in place (template subtraction) sees its
edits in the next buffer's leading context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .bands import BandConfig, Bands

__all__ = ["Window", "windows"]


@dataclass
class Window:
    """``display``/``detect`` cover global samples ``start .. start + len``; the core is
    ``lo .. hi`` in buffer coordinates."""

    start: int
    display: np.ndarray
    detect: np.ndarray
    lo: int
    hi: int


def windows(x: np.ndarray, fs: float, bands: BandConfig, block: int, margin: int, scale: float = 1.0) -> Iterator[Window]:
    """Yield :class:`Window` s over ``x`` (any numeric array; ``x · scale`` is µV)."""
    n = len(x)
    f = Bands(float(fs), bands)
    block = max(int(block), 2 * margin + 1)
    tail_d = np.zeros(0)
    tail_t = np.zeros(0)
    start = 0  # global index of the current buffer's first sample
    core_lo = 0  # global index of the next core's first sample
    for a in range(0, n, block):
        d, t = f.process(np.asarray(x[a:a + block], dtype=np.float64) * scale)
        buf_d = np.concatenate([tail_d, d])
        buf_t = np.concatenate([tail_t, t])
        end = start + len(buf_d)
        last = a + block >= n
        core_hi = end if last else max(end - margin, core_lo)
        w = Window(start, buf_d, buf_t, core_lo - start, core_hi - start)
        yield w
        keep_from = max(core_hi - 2 * margin, start)  # context of the next core
        tail_d, tail_t = w.display[keep_from - start:], w.detect[keep_from - start:]
        start, core_lo = keep_from, core_hi
