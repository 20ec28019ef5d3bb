"""Stage 2: fixed-point DFT of the normalised frame, two-pass Cooley–Tukey (edge/FRONTEND.md §4).

N = N1·N2 (N2 = 2^ceil(log2(N)/2)); sample n = N2·n1 + n2, bin k = k1 + N1·k2.
Twiddles in Q22:  C_j = floor(2^22·cos(2πj/N) + 0.5),  S_j = floor(2^22·sin(2πj/N) + 0.5), j = 0..N−1.

Pass A (length-N1 DFTs over n1, one per n2; u is real, zero beyond L):
    Y_re[n2,k1] = floor((Σ_n1 u[N2·n1+n2]·C_{(n1·k1·N2) mod N} + 2^21) / 2^22)
    Y_im[n2,k1] = floor((−Σ_n1 u[N2·n1+n2]·S_{(n1·k1·N2) mod N} + 2^21) / 2^22)
Pass B (twiddle and length-N2 DFT over n2 in one sum), for the needed bins k only:
    j = (n2·k) mod N,  k1 = k mod N1
    X_re[k] = floor((Σ_n2 (Y_re·C_j + Y_im·S_j) + 2^21) / 2^22)
    X_im[k] = floor((Σ_n2 (Y_im·C_j − Y_re·S_j) + 2^21) / 2^22)

Bounds (Σ|u| < 2^29 + L): every sum is < 2^52 in magnitude, so int64 never overflows, and the
same sums evaluated as float64 matrix products are exact (integers below 2^53 are exact in float64
in any summation order). `dft` uses that for speed; `dft_int64` is the plain int64 evaluation,
and the tests hold the two equal bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

TWIDDLE_BITS = 22
_HALF = 1 << (TWIDDLE_BITS - 1)
_SCALE = 2.0 ** -TWIDDLE_BITS
_COMPLEX_MAX_FRAMES = 4


def twiddles_q22(fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(C, S): cos and sin of 2πj/N in Q22, round half up, int64, j = 0..N−1."""
    N = fft_size
    c = [math.floor(2.0 ** TWIDDLE_BITS * math.cos(2.0 * math.pi * j / N) + 0.5) for j in range(N)]
    s = [math.floor(2.0 ** TWIDDLE_BITS * math.sin(2.0 * math.pi * j / N) + 0.5) for j in range(N)]
    return np.array(c, dtype=np.int64), np.array(s, dtype=np.int64)


class DftPlan:
    """Tables for bins k_lo..k_hi of an N-point DFT of real frames of length L.

    Layout: complex values are stored as interleaved (re, im) pairs, so a float64 array of
    pairs is also a complex128 array (a view, no copy).
    """

    def __init__(self, fft_size: int, frame_length: int, k_lo: int, k_hi: int):
        N, L = fft_size, frame_length
        self.N, self.L, self.k_lo, self.k_hi = N, L, k_lo, k_hi
        log2n = N.bit_length() - 1
        self.N2 = N2 = 1 << ((log2n + 1) // 2)
        self.N1 = N1 = N // N2
        self.n1_count = -(-L // N2)  # rows of pass A that can hold samples
        C, S = twiddles_q22(N)
        n1 = np.arange(self.n1_count)[:, None]
        k1 = np.arange(N1)[None, :]
        j = (n1 * k1 * N2) % N
        # (n1_count, 2·N1): column 2·k1 gives Y_re, 2·k1+1 gives Y_im
        self.table_a = np.stack([C[j], -S[j]], axis=2).reshape(self.n1_count, 2 * N1)
        self.k2_lo, self.k2_hi = k_lo // N1, k_hi // N1
        k2 = np.arange(self.k2_lo, self.k2_hi + 1)
        self.K2 = K2 = len(k2)
        k = np.arange(N1)[:, None] + N1 * k2[None, :]          # (N1, K2)
        n2 = np.arange(N2)[:, None, None]
        jj = (n2 * k[None, :, :]) % N                           # (N2, N1, K2)
        c, s = C[jj].transpose(1, 0, 2), S[jj].transpose(1, 0, 2)  # (N1, N2, K2)
        # (N1, 2·N2, 2·K2): row 2·n2 multiplies Y_re, 2·n2+1 Y_im; column 2·i is X_re, 2·i+1 X_im
        tb = np.empty((N1, N2, 2, K2, 2), dtype=np.int64)
        tb[:, :, 0, :, 0], tb[:, :, 0, :, 1] = c, -s
        tb[:, :, 1, :, 0], tb[:, :, 1, :, 1] = s, c
        self.table_b = tb.reshape(N1, 2 * N2, 2 * K2)
        self._a_f = self.table_a.astype(np.float64)
        self._b_f = self.table_b.astype(np.float64)
        # the pass-B table as complex C − i·S: half the memory traffic for a few frames
        self._b_c = (c - 1j * s).astype(np.complex128)
        self._sel = slice(k_lo - N1 * self.k2_lo, k_hi - N1 * self.k2_lo + 1)

    # -- layout helpers shared by both evaluations --
    def _pass_a_input(self, u: np.ndarray) -> np.ndarray:
        F = u.shape[0]
        rows = self.n1_count * self.N2
        if u.shape[1] < rows:
            u = np.concatenate([u, np.zeros((F, rows - u.shape[1]), dtype=u.dtype)], axis=1)
        return u.reshape(F, self.n1_count, self.N2).transpose(0, 2, 1)   # (F, N2, n1)

    def _pass_b_input(self, y: np.ndarray) -> np.ndarray:
        F = y.shape[0]  # y: (F, N2, 2·N1) → (N1, F, 2·N2)
        return y.reshape(F, self.N2, self.N1, 2).transpose(2, 0, 1, 3).reshape(self.N1, F, 2 * self.N2)

    def _output(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        F = x.shape[1]  # x: (N1, F, 2·K2) → bins in order k = N1·(k2_lo + i) + k1
        x = x.reshape(self.N1, F, self.K2, 2).transpose(1, 3, 2, 0).reshape(F, 2, self.K2 * self.N1)
        x = x[:, :, self._sel]
        return x[:, 0], x[:, 1]

    def dft(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u (F, L) int64 with Σ|u| < 2^29 + L → (X_re, X_im), each (F, k_hi−k_lo+1) int64.

        Exact integer sums evaluated with float64 BLAS products (all values < 2^53). Up to
        _COMPLEX_MAX_FRAMES frames (streaming) pass B runs as a complex product: the same
        integer arithmetic with the table read once as C − iS.
        """
        a = self._pass_a_input(u).astype(np.float64) @ self._a_f
        y = np.floor((a + _HALF) * _SCALE)
        if u.shape[0] <= _COMPLEX_MAX_FRAMES:
            yc = y.view(np.complex128).transpose(2, 0, 1)                  # (N1, F, N2)
            b = np.matmul(yc, self._b_c).view(np.float64)                  # (N1, F, 2·K2)
        else:
            b = np.matmul(self._pass_b_input(y), self._b_f)
        x = np.floor((b + _HALF) * _SCALE).astype(np.int64)
        return self._output(x)

    def dft_int64(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same computation in plain int64 arithmetic (the readable spec; slower)."""
        a = np.matmul(self._pass_a_input(u.astype(np.int64)), self.table_a)
        y = (a + _HALF) >> TWIDDLE_BITS
        b = np.matmul(self._pass_b_input(y), self.table_b)
        x = (b + _HALF) >> TWIDDLE_BITS
        return self._output(x)
