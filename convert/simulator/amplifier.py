"""Amplifier model: band-pass, gain and int16 conversion with saturation.

Specification (so that a firmware engineer can reproduce it):

1. Band-pass: Butterworth high-pass (order 2) at ``highpass_hz`` and low-pass (order 4) at
   ``lowpass_hz``, applied causally (as analogue filters are) with ``scipy.signal.sosfilt``;
   the filter state starts at the first sample's steady state so drift does not ring in.
   The low-pass edge is lowered to 0.45 × sample rate when the rate is too low for it.
   Default 10 Hz–10 kHz ([U] textbook default, CW §4; Norwegian KNF HFF 10 kHz [V]).
2. Gain: ``code = x_µV / uv_per_lsb``, rounded half-to-even (``numpy.rint``).
3. Saturation: codes outside [-32768, 32767] clip to the rail (an overloaded amplifier);
   the number of clipped samples is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

INT16_MIN = -32768
INT16_MAX = 32767


@dataclass(frozen=True)
class AmplifierConfig:
    """Gain in µV per LSB and band-pass edges in Hz.

    The default 0.5 µV/LSB gives a ±16.4 mV range (MUAPs reach a few mV) and a noise floor of
    6–20 LSB RMS for 3–10 µV of needle noise.
    """

    uv_per_lsb: float = 0.5
    highpass_hz: float = 10.0
    lowpass_hz: float = 10_000.0
    highpass_order: int = 2
    lowpass_order: int = 4

    def __post_init__(self) -> None:
        if not (0.01 <= self.uv_per_lsb <= 100.0):
            raise ValueError(f"uv_per_lsb = {self.uv_per_lsb}: allowed range is 0.01..100 µV per LSB")
        if not (0.1 <= self.highpass_hz <= 500.0):
            raise ValueError(f"highpass_hz = {self.highpass_hz}: allowed range is 0.1..500 Hz")
        if not (self.highpass_hz * 4 <= self.lowpass_hz <= 30_000.0):
            raise ValueError(
                f"lowpass_hz = {self.lowpass_hz}: allowed range is {self.highpass_hz * 4:g}..30000 Hz"
            )
        for name in ("highpass_order", "lowpass_order"):
            if not 1 <= getattr(self, name) <= 8:
                raise ValueError(f"{name} = {getattr(self, name)}: allowed range is 1..8")

    def sos(self, sample_rate: float) -> np.ndarray:
        """Second-order sections of the band-pass at ``sample_rate`` Hz."""
        lp = min(self.lowpass_hz, 0.45 * sample_rate)
        hp = signal.butter(self.highpass_order, self.highpass_hz, "highpass", fs=sample_rate, output="sos")
        lo = signal.butter(self.lowpass_order, lp, "lowpass", fs=sample_rate, output="sos")
        return np.vstack([hp, lo])


def bandpass(x_uv: np.ndarray, sample_rate: float, cfg: AmplifierConfig) -> np.ndarray:
    """Causal band-pass of a µV signal (float64)."""
    sos = cfg.sos(sample_rate)
    zi = signal.sosfilt_zi(sos) * (x_uv[0] if len(x_uv) else 0.0)
    y, _ = signal.sosfilt(sos, x_uv, zi=zi)
    return y


def digitise(x_uv: np.ndarray, cfg: AmplifierConfig) -> tuple[np.ndarray, int]:
    """µV → int16 codes (round half-to-even, saturate). Returns (pcm, clipped sample count)."""
    codes = np.rint(np.asarray(x_uv, dtype=np.float64) / cfg.uv_per_lsb)
    clipped = int(np.count_nonzero((codes < INT16_MIN) | (codes > INT16_MAX)))
    return np.clip(codes, INT16_MIN, INT16_MAX).astype(np.int16), clipped


def amplify(x_uv: np.ndarray, sample_rate: float, cfg: AmplifierConfig | None = None) -> tuple[np.ndarray, int]:
    """Band-pass then digitise. Returns (int16 pcm, clipped sample count)."""
    cfg = cfg or AmplifierConfig()
    return digitise(bandpass(np.asarray(x_uv, dtype=np.float64), sample_rate, cfg), cfg)
