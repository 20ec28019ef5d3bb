"""Deterministic int16 test signals for the front-end tests and golden vectors.

Integer generators where possible; noise comes from the PCG64 *bit generator* (its raw stream
is stable across numpy versions and platforms, unlike the distribution methods); sines use
Python's math.sin with round-half-up. Levels are peak dBFS re 32767.
"""

from __future__ import annotations

import math

import numpy as np

FULL_SCALE = 32767

# one configuration per sample rate (the 44.1 kHz one is the issue's)
CONFIGS = {
    8000: dict(sample_rate=8000, n_mels=32, fmin_hz=20.0, fmax_hz=4000.0),
    16000: dict(sample_rate=16000, n_mels=40, fmin_hz=20.0, fmax_hz=8000.0),
    22050: dict(sample_rate=22050, n_mels=64, fmin_hz=20.0, fmax_hz=10000.0),
    44100: dict(sample_rate=44100, n_mels=64, fmin_hz=20.0, fmax_hz=10000.0),
    48000: dict(sample_rate=48000, n_mels=64, fmin_hz=20.0, fmax_hz=10000.0),
}


def amplitude(level_dbfs: float) -> int:
    return int(math.floor(FULL_SCALE * 10.0 ** (level_dbfs / 20.0) + 0.5))


def silence(n: int, sr: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int16)


def sine(n: int, sr: int, freq_hz: float = 1000.0, level_dbfs: float = 0.0) -> np.ndarray:
    a = amplitude(level_dbfs)
    return np.array([math.floor(a * math.sin(2.0 * math.pi * freq_hz * i / sr) + 0.5) for i in range(n)],
                    dtype=np.int16)


def clipped_square(n: int, sr: int, freq_hz: int = 440) -> np.ndarray:
    """A square wave driven past full scale: +32767 / −32768, integer period sr // freq."""
    period = sr // freq_hz
    phase = np.arange(n) % period
    return np.where(phase < period // 2, 32767, -32768).astype(np.int16)


def white_noise(n: int, sr: int, level_dbfs: float = 0.0, seed: int = 1) -> np.ndarray:
    """Uniform integers in [−A, A] (A = peak amplitude), from raw PCG64 output."""
    a = amplitude(level_dbfs)
    raw = np.random.PCG64(seed).random_raw(n).astype(np.uint64)
    r = ((raw >> np.uint64(11)) % np.uint64(2 * a + 1)).astype(np.int64)
    return (r - a).astype(np.int16)


def chirp(n: int, sr: int, level_dbfs: float = 0.0, f0_hz: float = 50.0, f1_hz: float | None = None) -> np.ndarray:
    """Linear chirp from f0 to f1 (default 0.45·sr) over the n samples."""
    f1 = 0.45 * sr if f1_hz is None else f1_hz
    a = amplitude(level_dbfs)
    T = n / sr
    out = []
    for i in range(n):
        t = i / sr
        ph = 2.0 * math.pi * (f0_hz * t + (f1 - f0_hz) * t * t / (2.0 * T))
        out.append(math.floor(a * math.sin(ph) + 0.5))
    return np.array(out, dtype=np.int16)


def spike_train(n: int, sr: int, level_dbfs: float = 0.0, rate_hz: int = 37) -> np.ndarray:
    """Biphasic spikes (+A, −A/2) every sr // rate samples, starting at sample 5."""
    a = amplitude(level_dbfs)
    x = np.zeros(n, dtype=np.int64)
    period = sr // rate_hz
    x[5::period] = a
    x[6::period] = -(a // 2)
    return x.astype(np.int16)


def golden_signals(sr: int) -> dict[str, np.ndarray]:
    """The golden-vector inputs: 0.3 s of each signal at sample rate sr."""
    n = (3 * sr) // 10
    return {
        "silence": silence(n, sr),
        "sine_fullscale": sine(n, sr, 1000.0, 0.0),
        "clipped_square": clipped_square(n, sr),
        "noise_-60dBFS": white_noise(n, sr, -60.0, seed=60),
        "noise_-20dBFS": white_noise(n, sr, -20.0, seed=20),
        "noise_0dBFS": white_noise(n, sr, 0.0, seed=0),
        "chirp": chirp(n, sr, -6.0),
        "spike_train": spike_train(n, sr, -3.0),
    }
