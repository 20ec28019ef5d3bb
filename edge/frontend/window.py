"""Stage 1: periodic Hann window in Q15 and per-frame block normalisation (edge/FRONTEND.md §3).

    W_n = floor(32768·(0.5 − 0.5·cos(2πn/L)) + 0.5),  n = 0..L−1        (0..32768, uint16 + 1 bit)
    v_n = x_n·W_n                                    (int32: |v| ≤ 2^30)
    S   = Σ|v_n|                                     (int64)
    s   = TARGET_BITS − bit_length(S)                (per frame; S = 0 marks a silent frame)
    u_n = v_n·2^s  (s ≥ 0, exact)   or   floor((v_n + 2^(−s−1)) / 2^(−s))  (s < 0)
so that Σ|u| < 2^29 (+ L/2 from rounding): every FFT intermediate is then bounded (§4).
"""

from __future__ import annotations

import math

import numpy as np

from .intmath import bit_length, shift_round

WINDOW_BITS = 15
TARGET_BITS = 29


def hann_q15(frame_length: int) -> np.ndarray:
    """Periodic Hann window of length L in Q15 (int64 values 0..32768)."""
    L = frame_length
    return np.array([math.floor(32768.0 * (0.5 - 0.5 * math.cos(2.0 * math.pi * n / L)) + 0.5)
                     for n in range(L)], dtype=np.int64)


def window_and_normalise(frames: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """frames (F, L) int16 → (u (F, L) int64, s (F,) int64 normalisation shift; u = 0 when silent)."""
    v = frames.astype(np.int64) * window
    total = np.abs(v).sum(axis=1)
    s = np.where(total > 0, TARGET_BITS - bit_length(total), 0)
    return shift_round(v, -s[:, None]), s
