"""Stage 3: power spectrum P_k = X_re² + X_im² in int64 (edge/FRONTEND.md §5).

|X_re|, |X_im| < 2^29 + 2^12, so P < 2^59: no overflow, no rounding.
"""

from __future__ import annotations

import numpy as np


def power(x_re: np.ndarray, x_im: np.ndarray) -> np.ndarray:
    return x_re * x_re + x_im * x_im
