"""Stage 3: power spectrum with a per-frame block exponent (edge/FRONTEND.md §5).

    r   = max(0, bit_length(max_k max(|X_re[k]|, |X_im[k]|)) − 30)        (bins k_lo..k_hi)
    X'  = floor((X + 2^(r−1)) / 2^r)   (X' = X when r = 0), so |X'| ≤ 2^30
    P_k = X'_re² + X'_im²              (int64, ≤ 2^61, exact)
The strongest needed bin keeps 30 bits: the in-band dynamic range is ~180 dB however loud the
out-of-band content that set the DFT scale.
"""

from __future__ import annotations

import numpy as np

from .intmath import frame_bit_length, shift_round

POWER_INPUT_BITS = 30


def power(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
    """x (F, 2, K) int64 = (X_re, X_im) per frame → (P (F, K) int64, r per frame (int if F = 1))."""
    if x.shape[0] == 1:  # one frame (streaming): no |X| array, Python-int exponent
        r = max(max(int(x.max()), -int(x.min())).bit_length() - POWER_INPUT_BITS, 0)
    else:
        r = np.maximum(frame_bit_length(np.abs(x).max(axis=(1, 2))) - POWER_INPUT_BITS, 0)
    xs = shift_round(x, r)
    xs *= xs
    return xs[:, 0] + xs[:, 1], r
