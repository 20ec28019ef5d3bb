"""Stage 2: fixed-point DFT of the normalised frame, two-pass Cooley–Tukey (edge/FRONTEND.md §4).

N = N1·N2 (N2 = 2^ceil(log2(N)/2)); sample n = N2·n1 + n2, bin k = k1 + N1·k2.
Twiddles in Q26:  C_j = floor(2^26·cos(2πj/N) + 0.5),  S_j = floor(2^26·sin(2πj/N) + 0.5), j = 0..N−1.

Pass A (length-N1 DFTs over n1, one per n2; u is real, zero beyond L):
    Y_re[n2,k1] = floor((Σ_n1 u[N2·n1+n2]·C_{(n1·k1·N2) mod N} + 2^25) / 2^26)
    Y_im[n2,k1] = floor((−Σ_n1 u[N2·n1+n2]·S_{(n1·k1·N2) mod N} + 2^25) / 2^26)
Pass B (twiddle and length-N2 DFT over n2 in one sum), for the needed bins k only:
    j = (n2·k) mod N,  k1 = k mod N1
    X_re[k] = floor((Σ_n2 (Y_re·C_j + Y_im·S_j) + 2^25) / 2^26)
    X_im[k] = floor((Σ_n2 (Y_im·C_j − Y_re·S_j) + 2^25) / 2^26)

Bounds: Σ|u| < 2^35 + L, so |Y|, |X| < 2^35 + 2^14; pass-A sums are < 2^62 and pass-B sums
< (2·Σ|u| + N2)·2^26 < 2^63: int64 holds them.

Evaluation: `dft_int64` is the plain int64 computation (the readable spec). `dft` computes the
same integers faster with float64 BLAS: each twiddle is split as T = T_hi·2^13 + T_lo
(T_hi = T >> 13, T_lo = T & 8191, both ≤ 2^13 in magnitude). Every partial sum of data×T_hi or
data×T_lo stays below 2^50, so float64 products are exact in any summation order; the halves are
recombined exactly in int64. The tests hold both evaluations equal bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

TWIDDLE_BITS = 26
SPLIT_BITS = 13
_HALF = 1 << (TWIDDLE_BITS - 1)
_LO_MASK = (1 << SPLIT_BITS) - 1


def twiddles(fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(C, S): cos and sin of 2πj/N in Q26, round half up, int64, j = 0..N−1."""
    N = fft_size
    one = 2.0 ** TWIDDLE_BITS
    c = [math.floor(one * math.cos(2.0 * math.pi * j / N) + 0.5) for j in range(N)]
    s = [math.floor(one * math.sin(2.0 * math.pi * j / N) + 0.5) for j in range(N)]
    return np.array(c, dtype=np.int64), np.array(s, dtype=np.int64)


def _split_rows(t: np.ndarray, axis: int) -> np.ndarray:
    """[T_hi, T_lo] concatenated along axis, float64 (exact: |values| ≤ 2^13)."""
    return np.ascontiguousarray(np.concatenate([t >> SPLIT_BITS, t & _LO_MASK], axis=axis), dtype=np.float64)


def _join(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Exact int64 hi·2^13 + lo from float64 partial sums."""
    return (hi.astype(np.int64) << SPLIT_BITS) + lo.astype(np.int64)


class DftPlan:
    """Tables for bins k_lo..k_hi of an N-point DFT of real frames of length L.

    table_a / table_b are the int64 spec tables (complex values as interleaved (re, im) pairs);
    the fast path keeps split float64 copies in a layout that suits BLAS.
    """

    def __init__(self, fft_size: int, frame_length: int, k_lo: int, k_hi: int):
        N, L = fft_size, frame_length
        self.N, self.L, self.k_lo, self.k_hi = N, L, k_lo, k_hi
        log2n = N.bit_length() - 1
        self.N2 = N2 = 1 << ((log2n + 1) // 2)
        self.N1 = N1 = N // N2
        self.n1_count = -(-L // N2)  # rows of pass A that can hold samples
        C, S = twiddles(N)
        self.cos_q26, self.sin_q26 = C, S  # the Q26 tables themselves (the compiled kernel's input)
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
        # Fast-path tables. u is real and the twiddles are symmetric (C[N−j] = C[j],
        # S[N−j] = −S[j], checked here), so the pass-A sums of k1 and N1−k1 are conjugate: only
        # k1 = 0..N1/2 are multiplied out. Pass B uses [C | S] per k1, which Y_re and Y_im share.
        self._half = N1 // 2 + 1
        jn = (N - np.arange(1, N)) % N
        self._symmetric = bool(np.array_equal(C[jn], C[1:]) and np.array_equal(S[jn], -S[1:]))
        rows_a = 2 * self._half if self._symmetric else 2 * N1
        self._a_t = _split_rows(self.table_a.T[:rows_a], axis=0)                   # (2·rows_a, n1)
        self._b_cs = _split_rows(np.concatenate([c, s], axis=2), axis=2)           # (N1, N2, 4·K2)
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

    def _output(self, x: np.ndarray) -> np.ndarray:
        F = x.shape[1]  # x: (N1, F, 2·K2) → (F, 2, K), bins in order k = N1·(k2_lo + i) + k1
        x = x.reshape(self.N1, F, self.K2, 2).transpose(1, 3, 2, 0).reshape(F, 2, self.K2 * self.N1)
        return x[:, :, self._sel]

    def dft(self, u: np.ndarray) -> np.ndarray:
        """u (F, L) int64 with Σ|u| < 2^35 + L → X (F, 2, k_hi−k_lo+1) int64: [X_re, X_im].

        The same integers as `dft_int64` (every sum formed exactly), in a layout where the
        reshuffles between the passes copy whole n2 rows.
        """
        F, n1, N1, N2, K2 = u.shape[0], self.n1_count, self.N1, self.N2, self.K2
        ua = np.zeros((n1, F, N2))                                          # (n1, f, n2), zero-padded
        full = u.shape[1] // N2
        ua[:full] = u[:, :full * N2].reshape(F, full, N2).transpose(1, 0, 2)
        if full < n1:
            ua[full, :, :u.shape[1] - full * N2] = u[:, full * N2:]
        ra = self._a_t.shape[0] // 2
        a = self._a_t @ ua.reshape(n1, F * N2)                              # (2·ra, F·N2)
        a = _join(a[:ra], a[ra:]).reshape(ra // 2, 2, F * N2)              # (k1, re/im, f·n2)
        if self._symmetric:  # rows k1 > N1/2 from the exact sums of N1−k1: same re, negated im
            h = self._half
            y = np.empty((N1, 2, F * N2), dtype=np.int64)
            y[:h] = (a + _HALF) >> TWIDDLE_BITS
            y[h:, 0] = y[N1 - h:0:-1, 0]
            y[h:, 1] = (_HALF - a[N1 - h:0:-1, 1]) >> TWIDDLE_BITS
        else:
            y = (a + _HALF) >> TWIDDLE_BITS
        b = np.matmul(y.reshape(N1, 2 * F, N2).astype(np.float64), self._b_cs)
        b = b.reshape(N1, 2, F, 2, 2, K2)                                   # (k1, re/im, f, hi/lo, C/S, i)
        # X = (Y_re + i·Y_im)(C − i·S): the re/im sums are exact in float64 too, since
        # Σ(|Y_re| + |Y_im|)·2^13 < 2^50
        xs = np.empty((N1, F, 2, K2, 2))                                     # (k1, f, hi/lo, i, re/im)
        np.add(b[:, 0, :, :, 0], b[:, 1, :, :, 1], out=xs[..., 0])
        np.subtract(b[:, 1, :, :, 0], b[:, 0, :, :, 1], out=xs[..., 1])
        x = _join(xs[:, :, 0], xs[:, :, 1])                                 # (k1, f, i, re/im)
        return self._output((x.reshape(N1, F, 2 * K2) + _HALF) >> TWIDDLE_BITS)

    def dft_int64(self, u: np.ndarray) -> np.ndarray:
        """The same computation in plain int64 arithmetic (the readable spec; slower)."""
        a = np.matmul(self._pass_a_input(u.astype(np.int64)), self.table_a)
        y = (a + _HALF) >> TWIDDLE_BITS
        b = np.matmul(self._pass_b_input(y), self.table_b)
        x = (b + _HALF) >> TWIDDLE_BITS
        return self._output(x)
