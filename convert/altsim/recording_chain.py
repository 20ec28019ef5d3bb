"""A plain recording chain: signal at the electrode (µV) → int16 samples at a stated µV per LSB.

Per clip: amplifier band-pass (Butterworth, causal as an analogue filter, default 10 Hz–10 kHz,
the high edge kept below 45 % of the sample rate; [CW] §4: LFF 2–20 Hz, HFF 10 kHz), white
amplifier/needle noise of 3–10 µV RMS after the filter ([CW] §2: amplifier ≤ 3–4 µV, with
needle ~10 µV), mains hum at 50 or 60 Hz of 0–20 µV peak with a third harmonic a quarter as
large (present with probability ``hum_probability``; [CW] §2 mains 50/60 Hz + harmonics), then
rounding to int16 at ``uv_per_lsb`` with saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from convert.altsim._check import check_pair, check_range


@dataclass(frozen=True)
class ChainConfig:
    """Recording chain settings (Hz, µV).

    sample_rate_hz: output rate, 4000–96000 (default 44100, the clinic WAV rate).
    uv_per_lsb: µV per int16 step, 0.05–20 (default 0.8; written into each WAV's comment).
    low_cut_hz: band-pass low edge, 0.5–100 (default 10). high_cut_hz: high edge, 500–20000
        (default 10000), lowered to 45 % of the sample rate when above it.
    filter_order: Butterworth order of each edge, 1–8 (default 2).
    noise_uv_rms: (low, high) of the white noise RMS drawn per clip, within 0–100 µV.
    hum_uv: (low, high) of the mains amplitude (peak, µV) drawn per clip, within 0–1000.
    hum_probability: chance a clip has hum at all, 0–1.
    """

    sample_rate_hz: int = 44100
    uv_per_lsb: float = 0.8
    low_cut_hz: float = 10.0
    high_cut_hz: float = 10000.0
    filter_order: int = 2
    noise_uv_rms: tuple[float, float] = (3.0, 10.0)
    hum_uv: tuple[float, float] = (0.0, 20.0)
    hum_probability: float = 0.5

    def __post_init__(self) -> None:
        check_range("sample_rate_hz", self.sample_rate_hz, 4000, 96000)
        if int(self.sample_rate_hz) != self.sample_rate_hz:
            raise ValueError(f"sample_rate_hz = {self.sample_rate_hz!r}: must be a whole number of Hz in [4000, 96000]")
        check_range("uv_per_lsb", self.uv_per_lsb, 0.05, 20.0)
        check_range("low_cut_hz", self.low_cut_hz, 0.5, 100.0)
        check_range("high_cut_hz", self.high_cut_hz, 500.0, 20000.0)
        check_range("filter_order", self.filter_order, 1, 8)
        check_pair("noise_uv_rms", self.noise_uv_rms, 0.0, 100.0)
        check_pair("hum_uv", self.hum_uv, 0.0, 1000.0)
        check_range("hum_probability", self.hum_probability, 0.0, 1.0)

    def band_hz(self) -> tuple[float, float]:
        """The band-pass edges actually used at this sample rate (Hz)."""
        return self.low_cut_hz, min(self.high_cut_hz, 0.45 * self.sample_rate_hz)


def record(rng: np.random.Generator, signal_uv: np.ndarray, cfg: ChainConfig) -> tuple[np.ndarray, dict]:
    """Pass ``signal_uv`` (µV at ``cfg.sample_rate_hz``) through the chain; return ``(int16, info)``
    where ``info`` records the drawn noise, hum and the number of saturated samples."""
    fs = cfg.sample_rate_hz
    lo, hi = cfg.band_hz()
    sos = butter(int(cfg.filter_order), [lo, hi], btype="bandpass", fs=fs, output="sos")
    x = sosfilt(sos, np.asarray(signal_uv, dtype=np.float64))
    noise_rms = rng.uniform(*cfg.noise_uv_rms)
    noise = sosfilt(sos, rng.standard_normal(len(x)))
    sd = noise.std()
    x = x + (noise * (noise_rms / sd) if sd > 0 else 0.0)
    hum_amp, mains = 0.0, int(rng.choice([50, 60]))
    if rng.random() < cfg.hum_probability:
        hum_amp = rng.uniform(*cfg.hum_uv)
        t = np.arange(len(x)) / fs
        ph = rng.uniform(0, 2 * np.pi, size=2)
        x = x + hum_amp * (np.sin(2 * np.pi * mains * t + ph[0]) + 0.25 * np.sin(2 * np.pi * 3 * mains * t + ph[1]))
    q = np.rint(x / cfg.uv_per_lsb)
    clipped = int(np.count_nonzero((q > 32767) | (q < -32768)))
    pcm = np.clip(q, -32768, 32767).astype(np.int16)
    return pcm, {"noise_uv_rms": round(float(noise_rms), 3), "hum_uv": round(float(hum_amp), 3),
                 "mains_hz": mains if hum_amp > 0 else None, "band_hz": [lo, hi], "clipped_samples": clipped}
