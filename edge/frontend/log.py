"""Stage 5: integer log to dB in units of 1/64 dB, saturating at 0 dB (edge/FRONTEND.md §7).

log2 in Q16 of a positive int64 E:  b = bit_length(E) − 1,  t = E·2^(30−b) (right shifts truncate)
so 2^30 ≤ t < 2^31;  i = (t >> 22) − 256,  r = t & (2^22 − 1),
    log2_q16(E) = b·65536 + T[i] + floor(((T[i+1] − T[i])·r + 2^21) / 2^22)
with T[i] = floor(65536·log2(1 + i/256) + 0.5), i = 0..256.
Reference energy exponent: log2 E_ref = log2 E − (16 + 60 + 2s − 2r − e) (Q16 weights, Q30
window squared, normalisation shift s, DFT output shift r, power shift e).
With ℓ = log2_q16(E) − (76 + 2s − 2r − e)·65536:
    y = clamp(floor((ℓ·K + 2^31) / 2^32), 0, 32767),   K = floor(10·log10(2)·64·65536 + 0.5)
so y ≈ 64·10·log10(E_ref): dB = y/64. E = 0 (or a silent frame) gives y = 0.
"""

from __future__ import annotations

import math

import numpy as np

from .intmath import bit_length

FEATURE_DTYPE = np.int16
DB_PER_LSB = 1.0 / 64.0
MAX_FEATURE = 32767
LOG2_TABLE = np.array([math.floor(65536.0 * math.log2(1.0 + i / 256.0) + 0.5) for i in range(257)],
                      dtype=np.int64)
DB_COEFF = math.floor(10.0 * math.log10(2.0) * 64.0 * 65536.0 + 0.5)


def log2_q16(e: np.ndarray) -> np.ndarray:
    """log2 of positive int64 values in Q16 (int64); 0 is treated as 1 (callers mask it)."""
    e = np.maximum(e, 1)
    b = bit_length(e) - 1
    up = np.maximum(30 - b, 0)
    down = np.maximum(b - 30, 0)
    t = (e << up) >> down
    i = (t >> 22) - 256
    r = t & ((1 << 22) - 1)
    t0 = LOG2_TABLE[i]
    t1 = LOG2_TABLE[i + 1]
    return b * 65536 + t0 + (((t1 - t0) * r + (1 << 21)) >> 22)


# The same arithmetic as log2_q16 followed by the dB scaling, with the per-value branches
# turned into table look-ups indexed by n = bit_length(E) (0..62) and j = t >> 22, so that a
# frame costs few array passes. E = 0 (n = 0) gets t = 0 and a base far below zero, which the
# final clamp turns into 0.
_N = np.arange(64)
_UP = np.maximum(31 - _N, 0) * (_N > 0)                 # 30 − b with b = n − 1
_DOWN = np.maximum(_N - 31, 0)
_BASE = np.where(_N > 0, (_N - 1) * 65536, -(1 << 30)).astype(np.int64)
_T0 = np.zeros(512, dtype=np.int64)
_T0[256:] = LOG2_TABLE[:256]
_DT = np.zeros(512, dtype=np.int64)
_DT[256:] = np.diff(LOG2_TABLE)


def to_features(energy: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """energy (F, M) int64 ≥ 0, exponent (F,) = 76 + 2s − 2r − e → features (F, M) int16, 1/64 dB."""
    n = bit_length(energy)
    t = (energy << _UP[n]) >> _DOWN[n]
    j = t >> 22
    ell = _BASE[n] + _T0[j] + ((_DT[j] * (t & ((1 << 22) - 1)) + (1 << 21)) >> 22)
    if np.ndim(exponent) == 0:
        ell -= int(exponent) << 16
    else:
        ell -= (np.asarray(exponent, dtype=np.int64) << 16)[:, None]
    y = (ell * DB_COEFF + (1 << 31)) >> 32
    np.maximum(y, 0, out=y)
    np.minimum(y, MAX_FEATURE, out=y)
    return y.astype(FEATURE_DTYPE)
