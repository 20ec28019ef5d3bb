"""Filter stage: the display band (measures) and the detection band (finding potentials).

- *Display band*: Butterworth high-pass 2 Hz (order 2) and low-pass 10 kHz (order 2, lowered
  to 0.45 × the sample rate when the rate is too low), the classic needle-EMG display band
  (RE §3: LFF 2 Hz, HFF 10 kHz); removes offset and drift, keeps the MUAP's shape.
- *Detection band*: band-pass 300 Hz–3 kHz (order 2 each edge) of the display signal. It
  keeps the sharp main spike of a near motor unit (rise time 0.1–0.5 ms, energy to 2+ kHz)
  and suppresses the blunt potentials of distant units and the baseline, as the
  high-pass/differentiator of automatic MUAP analysis does.

Both filters are causal (``sosfilt``) with their state carried from chunk to chunk, so a
signal processed in pieces gives exactly the samples of the whole (a streaming caller can
feed stretches). Float64 in, float64 out, µV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from edge.validation import check_ranges

__all__ = ["BandConfig", "Bands"]


@dataclass(frozen=True)
class BandConfig:
    """Edges (Hz) of the display and detection bands."""

    display_low_hz: float = 2.0
    display_high_hz: float = 10_000.0
    detect_low_hz: float = 300.0
    detect_high_hz: float = 3_000.0

    def __post_init__(self) -> None:
        check_ranges(self, (("display_low_hz", 0.1, 100.0), ("display_high_hz", 500.0, 30_000.0),
                            ("detect_low_hz", 20.0, 2000.0), ("detect_high_hz", 500.0, 10_000.0)), unit="Hz")
        if self.detect_high_hz < 2 * self.detect_low_hz:
            raise ValueError(f"BandConfig.detect_high_hz = {self.detect_high_hz!r}: must be at least "
                             f"2 × detect_low_hz ({2 * self.detect_low_hz:g} Hz)")


@dataclass
class Bands:
    """Streaming display/detection filters at ``fs`` Hz (state kept between chunks)."""

    fs: float
    cfg: BandConfig = field(default_factory=BandConfig)

    def __post_init__(self) -> None:
        if not (isinstance(self.fs, (int, float)) and 2000.0 <= float(self.fs) <= 200_000.0):
            raise ValueError(f"sample rate {self.fs!r} Hz: allowed range is 2000..200000 Hz")
        fs, c = float(self.fs), self.cfg
        top = 0.45 * fs
        disp = [signal.butter(2, c.display_low_hz, "highpass", fs=fs, output="sos")]
        if c.display_high_hz < top:
            disp.append(signal.butter(2, c.display_high_hz, "lowpass", fs=fs, output="sos"))
        self._sos_disp = np.vstack(disp)
        hi = min(c.detect_high_hz, top)
        self._sos_det = signal.butter(2, [c.detect_low_hz, hi], "bandpass", fs=fs, output="sos")
        self._zd = None
        self._zt = np.zeros((self._sos_det.shape[0], 2))

    def process(self, x_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(display, detection) signals of the next chunk of ``x_uv`` (µV)."""
        x = np.asarray(x_uv, dtype=np.float64)
        if len(x) == 0:
            return x.copy(), x.copy()
        if self._zd is None:  # start at the first sample's steady state: no offset step
            self._zd = signal.sosfilt_zi(self._sos_disp) * x[0]
        d, self._zd = signal.sosfilt(self._sos_disp, x, zi=self._zd)
        t, self._zt = signal.sosfilt(self._sos_det, d, zi=self._zt)
        return d, t
