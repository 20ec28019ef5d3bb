"""Stage 4: triangular HTK Mel filterbank with Q16 weights (edge/FRONTEND.md §6).

Float64 definition (shared with the reference):  f_k = k·sample_rate/N,  edges f_0..f_{M+1},
    w[m,k] = max(0, min((f_k − f_m)/(f_{m+1} − f_m), (f_{m+2} − f_k)/(f_{m+2} − f_{m+1})))
Integer table: W[m,k] = floor(65536·w[m,k] + 0.5)  (0..65536, needs 17 bits).
G = bit_length(max_m Σ_k W[m,k]).  Per frame, with P the int64 powers of bins k_lo..k_hi:
    e  = max(0, bit_length(max_k P_k) − (62 − G))
    P' = floor((P + 2^(e−1)) / 2^e)     (P' = P when e = 0)
    E_m = Σ_k W[m,k]·P'_k               (int64, < 2^62)
"""

from __future__ import annotations

import numpy as np

from .config import FrontendConfig, mel_edges_hz
from .intmath import bit_length, frame_bit_length, shift_round

WEIGHT_BITS = 16
ACC_BITS = 62


def mel_weights(cfg: FrontendConfig) -> np.ndarray:
    """Float64 triangular weights (n_mels, N/2+1), peak 1, no area normalisation."""
    N = cfg.fft_size
    f = np.arange(N // 2 + 1, dtype=np.float64) * (cfg.sample_rate / N)
    e = np.array(mel_edges_hz(cfg.n_mels, cfg.fmin_hz, cfg.fmax_hz))
    lo, c, hi = e[:-2, None], e[1:-1, None], e[2:, None]
    up = (f[None, :] - lo) / (c - lo)
    down = (hi - f[None, :]) / (hi - c)
    return np.maximum(0.0, np.minimum(up, down))


class MelFilterbank:
    """Integer Mel filterbank over bins k_lo..k_hi (the bins with a non-zero Q16 weight)."""

    def __init__(self, cfg: FrontendConfig):
        w = np.floor(mel_weights(cfg) * 65536.0 + 0.5).astype(np.int64)
        nz = np.nonzero(w.any(axis=0))[0]
        if not w.any(axis=1).all():  # config validation makes this impossible; keep the guard
            raise ValueError(f"a Mel band of {cfg} has no FFT bin; reduce n_mels")
        self.k_lo, self.k_hi = int(nz[0]), int(nz[-1])
        self.weights = w  # (n_mels, N/2+1), Q16
        band = w[:, self.k_lo:self.k_hi + 1]
        self.guard_bits = int(bit_length(band.sum(axis=1).max()))
        self.max_power_bits = ACC_BITS - self.guard_bits
        # sparse layout: the non-zero weights of band m, band after band, for one reduceat
        m_idx, k_idx = np.nonzero(band)
        self._k = k_idx
        self._w = band[m_idx, k_idx]
        self._starts = np.searchsorted(m_idx, np.arange(w.shape[0]))

    def power_shift(self, p: np.ndarray) -> np.ndarray | int:
        """e per frame for powers p (F, K) (int if F = 1)."""
        return np.maximum(frame_bit_length(p.max(axis=1)) - self.max_power_bits, 0)

    def apply(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
        """p (F, K) int64 powers of bins k_lo..k_hi → (E (F, n_mels) int64, e per frame)."""
        e = self.power_shift(p)
        terms = shift_round(p, e)[:, self._k] * self._w
        return np.add.reduceat(terms, self._starts, axis=1), e
