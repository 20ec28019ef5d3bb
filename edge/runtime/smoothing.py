"""Posterior smoothing across consecutive analysis windows.

Windows overlap (hop < window), so neighbouring posteriors are strongly correlated; a short
moving average removes single-window flickers without adding more than
``(windows - 1) / 2`` hops of delay. State is a fixed ring of ``windows`` vectors: memory is
constant however long the stream runs.
"""

from __future__ import annotations

import numpy as np


class PosteriorSmoother:
    """Smooth class posteriors (float, shape ``(n_classes,)``) window by window.

    ``method``: ``"mean"`` (moving average over the last ``windows``), ``"ema"``
    (``s = alpha * p + (1 - alpha) * s``) or ``"none"``. Output rows sum to 1 when inputs do.
    """

    def __init__(self, n_classes: int, method: str = "mean", windows: int = 3, alpha: float = 0.5) -> None:
        if n_classes < 1:
            raise ValueError(f"n_classes={n_classes} must be >= 1")
        if method not in ("mean", "ema", "none"):
            raise ValueError(f"smoothing method {method!r}: allowed mean, ema, none")
        if windows < 1:
            raise ValueError(f"windows={windows} must be >= 1")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha={alpha} is out of range: allowed (0, 1]")
        self.n_classes = n_classes
        self.method = method
        self.windows = windows if method == "mean" else 1
        self.alpha = float(alpha)
        self._ring = np.zeros((self.windows, n_classes), dtype=np.float64)
        self._sum = np.zeros(n_classes, dtype=np.float64)
        self._count = 0
        self._pos = 0
        self._ema: np.ndarray | None = None

    def reset(self) -> None:
        """Forget history (after a gap in the stream)."""
        self._ring[:] = 0.0
        self._sum[:] = 0.0
        self._count = 0
        self._pos = 0
        self._ema = None

    def update(self, probs: np.ndarray) -> np.ndarray:
        """Add one window's posteriors; return the smoothed posteriors (a new array)."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.shape[0] != self.n_classes:
            raise ValueError(f"posterior has {p.shape[0]} classes, expected {self.n_classes}")
        if self.method == "none":
            return p.copy()
        if self.method == "ema":
            self._ema = p.copy() if self._ema is None else self.alpha * p + (1.0 - self.alpha) * self._ema
            return self._ema.copy()
        # Moving average: keep a running sum, recomputed from the ring on wrap to stop
        # floating-point drift over days of streaming.
        self._sum -= self._ring[self._pos]
        self._ring[self._pos] = p
        self._sum += p
        self._pos = (self._pos + 1) % self.windows
        self._count = min(self._count + 1, self.windows)
        if self._pos == 0:
            self._sum = self._ring.sum(axis=0)
        return self._sum / self._count
