"""Background present under every class: needle/amplifier noise, mains hum, baseline drift.

All in µV at the needle, before the amplifier model. Levels come from the subject
(:class:`convert.simulator.subject.Subject`): noise 3–10 µV RMS (CW §2 "Amplifier/needle
noise floor"), mains 50/60 Hz with harmonics (CW §2 "Mains hum").
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from convert.simulator.subject import Subject

#: Upper edge of the band in which ``Subject.noise_uv_rms`` is specified, Hz.
NOISE_BAND_HZ = 10_000.0


def noise(rng: np.random.Generator, n: int, sample_rate: float, rms_uv: float) -> np.ndarray:
    """Needle + amplifier noise: white plus a 1/f-ish low-frequency part, scaled so that its
    RMS within 10 Hz–10 kHz is about ``rms_uv`` at any sample rate."""
    white = rng.standard_normal(n)
    # A share of the power below ~300 Hz (electrode noise is not white).
    sos = signal.butter(1, min(300.0, 0.45 * sample_rate), "lowpass", fs=sample_rate, output="sos")
    pink = signal.sosfilt(sos, rng.standard_normal(n))
    pink *= 1.0 / max(np.std(pink), 1e-12)
    in_band = min(1.0, 2.0 * NOISE_BAND_HZ / sample_rate)  # white power kept by a 10 kHz low-pass
    x = (0.9 / np.sqrt(in_band)) * white + 0.44 * pink
    return rms_uv * x


def hum(rng: np.random.Generator, n: int, sample_rate: float, subject: Subject) -> np.ndarray:
    """Mains hum: fundamental plus harmonics 2–5, with a slow amplitude wobble (cable moves)."""
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    amps = (1.0,) + tuple(subject.hum_harmonics)
    for k, a in enumerate(amps, start=1):
        f = k * subject.mains_hz
        if f >= 0.45 * sample_rate:
            break
        out += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    wobble = 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    return subject.hum_uv * wobble * out


def drift(rng: np.random.Generator, n: int, sample_rate: float, amplitude_uv: float) -> np.ndarray:
    """Slow baseline drift (electrode polarisation, movement): a few sinusoids 0.05–1 Hz."""
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for _ in range(4):
        out += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * rng.uniform(0.05, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return amplitude_uv * out / 2.0


def background(rng: np.random.Generator, n: int, sample_rate: float, subject: Subject) -> np.ndarray:
    """Noise + hum + drift for ``n`` samples, µV."""
    return (noise(rng, n, sample_rate, subject.noise_uv_rms) + hum(rng, n, sample_rate, subject)
            + drift(rng, n, sample_rate, subject.drift_uv))
