"""Integer helpers shared by the stages (int64 numpy arrays; see edge/FRONTEND.md §2)."""

from __future__ import annotations

import numpy as np


_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)  # 2^0 .. 2^62


def bit_length(x: np.ndarray) -> np.ndarray:
    """Number of significant bits of each non-negative int64 (0 for 0): the count of powers of
    two 2^j ≤ x, found by binary search in the table 2^0..2^62 (exact integer comparisons)."""
    return np.searchsorted(_POW2, np.asarray(x, dtype=np.int64), side="right").astype(np.int64)


def shift_round(x: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """x·2^-s for int64 x: s > 0 rounds half up, floor((x + 2^(s-1)) / 2^s); s ≤ 0 is exact x·2^-s.

    s broadcasts against x (per-frame shifts as a column).
    """
    s = np.asarray(s, dtype=np.int64)
    if s.size == 1:  # one frame (streaming): plain Python shifts, fewer array passes
        k = int(s.flat[0])
        return (x + (1 << (k - 1))) >> k if k > 0 else x << -k
    right = np.maximum(s, 0)
    half = (np.int64(1) << right) >> 1  # 0 when s ≤ 0
    return ((x + half) >> right) << np.maximum(-s, 0)
