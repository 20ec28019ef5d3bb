"""The recording chain of this generator: band-pass, amplifier noise, optional mains hum, int16.

Reference facts (``clinical-waveforms.md`` §2 and §4, ``real-emg.md`` §3): needle-EMG filters
are about 2–20 Hz high-pass and 5–10 kHz low-pass; a commercial amplifier's noise should not
exceed 3–4 µV, about 10 µV with the needle in; mains hum is 50 or 60 Hz with harmonics.

Our choices: a causal 2nd-order Butterworth band-pass whose low edge is drawn in 10–20 Hz and
high edge in 5–10 kHz (capped at 45 % of the sample rate); white amplifier noise of RMS drawn in
2–6 µV before the filter; with probability 0.3 a mains hum of 50 or 60 Hz (fundamental 1–15 µV
peak, 2nd and 3rd harmonics at 20–50 % and 5–25 % of it); int16 at ``uv_per_lsb`` µV per LSB
(default 1.0 µV), clipped at full scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal


def _range(name: str, lo_hi: tuple[float, float], lo: float, hi: float) -> None:
    a, b = lo_hi
    if not (lo <= a <= b <= hi):
        raise ValueError(f"{name} = {lo_hi}: allowed is {lo} <= low <= high <= {hi}")


@dataclass(frozen=True)
class ChainConfig:
    """Ranges the chain draws from per clip. Frequencies Hz, amplitudes µV.

    low_cut_hz: high-pass edge range, within 1–100 Hz (default 10–20).
    high_cut_hz: low-pass edge range, within 1 000–20 000 Hz (default 5 000–10 000).
    noise_rms_uv: amplifier noise RMS range, within 0–50 µV (default 2–6).
    hum_probability: chance of mains hum in a clip, 0–1 (default 0.3).
    hum_uv: hum fundamental peak amplitude range, within 0–200 µV (default 1–15).
    uv_per_lsb: int16 scale, 0.01–100 µV per LSB (default 1.0).
    """

    low_cut_hz: tuple[float, float] = (10.0, 20.0)
    high_cut_hz: tuple[float, float] = (5000.0, 10000.0)
    noise_rms_uv: tuple[float, float] = (2.0, 6.0)
    hum_probability: float = 0.3
    hum_uv: tuple[float, float] = (1.0, 15.0)
    uv_per_lsb: float = 1.0

    def __post_init__(self) -> None:
        _range("low_cut_hz", self.low_cut_hz, 1.0, 100.0)
        _range("high_cut_hz", self.high_cut_hz, 1000.0, 20000.0)
        _range("noise_rms_uv", self.noise_rms_uv, 0.0, 50.0)
        _range("hum_uv", self.hum_uv, 0.0, 200.0)
        if not 0.0 <= self.hum_probability <= 1.0:
            raise ValueError(f"hum_probability = {self.hum_probability}: allowed range is 0..1")
        if not 0.01 <= self.uv_per_lsb <= 100.0:
            raise ValueError(f"uv_per_lsb = {self.uv_per_lsb}: allowed range is 0.01..100 µV per LSB")


def record(rng: np.random.Generator, clean_uv: np.ndarray, fs: int, cfg: ChainConfig) -> tuple[np.ndarray, dict]:
    """Pass a clean signal (µV) through a drawn chain; return ``(int16 pcm, what was drawn)``."""
    n = len(clean_uv)
    low = float(rng.uniform(*cfg.low_cut_hz))
    high = float(min(rng.uniform(*cfg.high_cut_hz), 0.45 * fs))
    noise_rms = float(rng.uniform(*cfg.noise_rms_uv))
    x = np.asarray(clean_uv, float) + noise_rms * rng.standard_normal(n)
    sos = signal.butter(2, [low, high], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, x)
    hum = None
    if rng.uniform() < cfg.hum_probability:
        f0 = float(rng.choice([50.0, 60.0]))
        a1 = float(rng.uniform(*cfg.hum_uv))
        rel = (1.0, rng.uniform(0.2, 0.5), rng.uniform(0.05, 0.25))
        t = np.arange(n) / fs
        for h, r in enumerate(rel, 1):
            x = x + a1 * r * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi))
        hum = {"mains_hz": f0, "fundamental_uv": round(a1, 3)}
    pcm = np.clip(np.round(x / cfg.uv_per_lsb), -32768, 32767).astype(np.int16)
    info = {"low_cut_hz": round(low, 3), "high_cut_hz": round(high, 3), "noise_rms_uv": round(noise_rms, 3),
            "hum": hum, "uv_per_lsb": cfg.uv_per_lsb}
    return pcm, info
