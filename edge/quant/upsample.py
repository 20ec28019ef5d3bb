"""Interpolation stage: a signal below the analysis rate, read block by block at that rate.

The decomposition matches potentials on a grid of about 10 kHz (:func:`.chunks.decimation`)
with sub-sample alignment, and the display-band template is averaged on the input grid. At
4 kHz (the PhysioNet emgdb records) a sample is 0.25 ms, a quarter of a sharp spike's rise:
templates of one unit no longer align, the clustering splits units into fragments and each
fragment's template averages few discharges. Measured on the QEMG benchmark's 10 simulated
contractions resampled to 4 kHz (``benchmarks/quant.py --rate 4000 [--analysis-rate 0]``):
15 % of the units found and 151 units reported for 79; the same signals interpolated back to
10 kHz: 82 % found, 100 reported (8 kHz: 76 % → 80 %). A signal sampled at ``in_rate`` is
band-limited below ``in_rate / 2``, so interpolation adds no content, only a finer grid.

:class:`Upsampled` wraps a 1-D signal at ``in_rate`` Hz and presents it at ``out_rate`` Hz
(whole numbers) to :func:`.chunks.windows`: ``len()`` and forward slices ``[a:b]`` (a pass
starts again at 0), computed block by block through :class:`edge.resample.StreamResampler`
(polyphase FIR, zero-phase: output sample k is the input at time ``k / out_rate`` s) in
float64, so memory stays bounded by the block, not the recording.
"""

from __future__ import annotations

import numpy as np

from edge.resample import StreamResampler

__all__ = ["Upsampled"]


class Upsampled:
    """``x`` (int or float samples at ``in_rate`` Hz) read as float64 at ``out_rate`` Hz."""

    def __init__(self, x: np.ndarray, in_rate: int, out_rate: int):
        self.x = np.asarray(x)
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._rs = StreamResampler(self.in_rate, self.out_rate)
        self._n = self._rs.output_length(len(self.x))
        self._restart()

    def __len__(self) -> int:
        return self._n

    def _restart(self) -> None:
        self._rs.reset()
        self._fed = 0                  # input samples given to the resampler
        self._buf = np.zeros(0)        # outputs computed and not yet read
        self._pos = 0                  # output index of _buf[0]

    def __getitem__(self, s: slice) -> np.ndarray:
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise TypeError("Upsampled supports forward slices [a:b] only")
        a, b, _ = s.indices(self._n)
        if a == 0 and self._pos != 0:
            self._restart()
        if a < self._pos:
            raise ValueError(f"Upsampled is read forward: slice from {a} after {self._pos}")
        step = max(4096, (b - self._pos) * self.in_rate // self.out_rate + 64)
        while self._pos + len(self._buf) < b:
            if self._fed < len(self.x):
                chunk = self.x[self._fed:self._fed + step].astype(np.float64)
                self._fed += len(chunk)
                more = self._rs.process(chunk)
            else:
                more = self._rs.flush(dtype=np.float64)
                if not len(more):
                    break
            self._buf = np.concatenate([self._buf, more])
        out = self._buf[a - self._pos:b - self._pos].copy()
        self._buf = self._buf[b - self._pos:]
        self._pos = b
        return out
