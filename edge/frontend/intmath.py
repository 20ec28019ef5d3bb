"""Integer helpers shared by the stages (int64 numpy arrays; see edge/FRONTEND.md §2)."""

from __future__ import annotations

import numpy as np


_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)  # 2^0 .. 2^62


def bit_length(x: np.ndarray) -> np.ndarray:
    """Number of significant bits of each non-negative int64 (0 for 0): the count of powers of
    two 2^j ≤ x, found by binary search in the table 2^0..2^62 (exact integer comparisons)."""
    return np.searchsorted(_POW2, np.asarray(x, dtype=np.int64), side="right").astype(np.int64, copy=False)


def frame_bit_length(x: np.ndarray) -> np.ndarray | int:
    """bit_length of per-frame values x (F,); a Python int when F = 1 (streaming: no array work)."""
    if x.size == 1:
        return int(x.flat[0]).bit_length()
    return bit_length(x)


def shift_round(x: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """x·2^-s for int64 x: s > 0 rounds half up, floor((x + 2^(s-1)) / 2^s); s ≤ 0 is exact x·2^-s.

    s is a Python int or one shift per frame (F,) applied along x's first axis.
    """
    if isinstance(s, (int, np.integer)) or np.size(s) == 1:  # one frame: plain Python shifts
        k = int(s) if isinstance(s, (int, np.integer)) else int(np.asarray(s).flat[0])
        return (x + (1 << (k - 1))) >> k if k > 0 else x << -k
    s = np.asarray(s, dtype=np.int64).reshape((-1,) + (1,) * (x.ndim - 1))
    right = np.maximum(s, 0)
    half = (np.int64(1) << right) >> 1  # 0 when s ≤ 0
    return ((x + half) >> right) << np.maximum(-s, 0)
