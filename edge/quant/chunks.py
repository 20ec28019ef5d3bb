"""Chunked filtering with overlap: the stage that keeps memory flat on long input.

:func:`windows` filters a signal block by block through a :class:`~edge.quant.bands.Bands`
(state carried, so the output equals filtering the whole) and yields overlapping buffers:
each buffer holds a *core* (the samples this buffer is responsible for; the cores partition
the signal) plus ``margin`` samples of context before and after. Later stages look up to
``margin`` samples around a core sample. The detection buffer is carried from one buffer to
the next by reference, so a stage that edits it in place (template subtraction) sees its
edits in the next buffer's leading context.

The detection band (≤ 3 kHz) is kept every ``q``-th sample (``q = decimation(fs)``: 10–20 kHz
input is matched at ~10 kHz), so matching costs the same at 44.1 kHz as at 10 kHz; buffer
starts and the block length are multiples of ``q`` so decimated samples keep one global grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .bands import BandConfig, Bands

__all__ = ["Window", "windows"]


def decimation(fs: float) -> int:
    """Keep every q-th detection-band sample: q = floor(fs / 10 kHz), at least 1."""
    return max(1, int(float(fs) // 10_000))


@dataclass
class Window:
    """``display`` covers global samples ``start .. start + len``, its core is ``lo .. hi``;
    ``detect`` is the detection band at every ``q``-th sample: its sample j is global sample
    ``start + q·j``, its core ``dlo .. dhi``."""

    start: int
    display: np.ndarray
    detect: np.ndarray
    lo: int
    hi: int
    q: int = 1

    @property
    def dstart(self) -> int:
        return self.start // self.q

    @property
    def dlo(self) -> int:
        return -(-self.lo // self.q)

    @property
    def dhi(self) -> int:
        return -(-self.hi // self.q)


def windows(x: np.ndarray, fs: float, bands: BandConfig, block: int, margin: int, scale: float = 1.0) -> Iterator[Window]:
    """Yield :class:`Window` s over ``x`` (any numeric array; ``x · scale`` is µV)."""
    n = len(x)
    f = Bands(float(fs), bands)
    q = decimation(fs)
    margin = -(-int(margin) // q) * q
    block = -(-max(int(block), 2 * margin + 1) // q) * q
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
        w = Window(start, buf_d, buf_t[::q], core_lo - start, core_hi - start, q)
        yield w
        if last:  # no next buffer: its tail would not fit the q-grid when n is not a multiple of q
            return
        keep_from = max(core_hi - 2 * margin, start)  # context of the next core (a multiple of q)
        tail_d = w.display[keep_from - start:]
        # the (possibly edited) decimated detection samples, re-expanded onto the full grid
        tail_t = np.zeros(end - keep_from)
        tail_t[::q] = w.detect[(keep_from - start) // q:]
        start, core_lo = keep_from, core_hi
