"""Stage 1: periodic Hann window in Q30 and per-frame block normalisation (edge/FRONTEND.md §3).

    W_n = floor(2^30·(0.5 − 0.5·cos(2πn/L)) + 0.5),  n = 0..L−1          (0..2^30, int32)
    v_n = x_n·W_n                                    (int64: |v| ≤ 2^45)
    S   = Σ|v_n|                                     (int64: S < 2^59)
    s   = TARGET_BITS − bit_length(S)                (per frame; S = 0 marks a silent frame)
    u_n = v_n·2^s  (s ≥ 0, exact)   or   floor((v_n + 2^(−s−1)) / 2^(−s))  (s < 0)
so that Σ|u| < 2^35 + L/2: every DFT intermediate is then bounded (§4). A Q15 window would put
a floor about 122 dB below the strongest bin (its rounding is a broadband perturbation); Q30
moves it below 200 dB, so strong out-of-band tones do not swamp quiet in-band bands.
"""

from __future__ import annotations

import math

import numpy as np

from .intmath import frame_bit_length, shift_round

WINDOW_BITS = 30
TARGET_BITS = 35


def hann_q30(frame_length: int) -> np.ndarray:
    """Periodic Hann window of length L in Q30 (int64 values 0..2^30)."""
    L = frame_length
    return np.array([math.floor(2.0 ** 30 * (0.5 - 0.5 * math.cos(2.0 * math.pi * n / L)) + 0.5)
                     for n in range(L)], dtype=np.int64)


def window_and_normalise(frames: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
    """frames (F, L) int16 → (u (F, L) int64, s normalisation shift per frame (int if F = 1)).

    A silent frame (S = 0) gets s = TARGET_BITS and u = 0; its features are 0 whatever s is.
    """
    v = frames * window                      # int16 × int64 → int64
    s = TARGET_BITS - frame_bit_length(np.abs(v).sum(axis=1))
    return shift_round(v, -s), s
