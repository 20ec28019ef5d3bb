"""Polyphase sample-rate conversion, streaming and one-shot, shared by the runtime and training.

Both sides must feed the front-end the same samples, so the device runtime (amplifier rate →
model rate) and the training readers (file rate → model rate) use this one module.

Method
------
The ratio ``to_rate / from_rate`` is reduced by the gcd to ``up / down`` (44 100 → 16 000 Hz
is 160/441; 48 000 → 44 100 Hz is 147/160). Conceptually the input is zero-stuffed by ``up``,
low-pass filtered at the up-sampled rate ``up * from_rate`` and kept every ``down``-th
sample; the polyphase form computes only the kept outputs.

Filter (designed once per ratio, cached): a linear-phase FIR from
``scipy.signal.firwin`` with a Kaiser window whose length and beta come from
``scipy.signal.kaiserord``:

* ``f_ny = min(from_rate, to_rate) / 2``, the lower of the two Nyquist frequencies;
* cutoff (−6 dB) at ``f_ny``; pass band up to ``0.9 * f_ny``; stop band from ``1.1 * f_ny``
  (transition width :data:`TRANSITION` = 0.2 · ``f_ny``). Aliases of content in the
  transition band fold only into ``0.9…1.0 · f_ny``, never into the pass band (so at
  48 000 → 44 100 Hz, input between 22 050 and 24 000 Hz is only partly attenuated — it lies in
  the transition band — and its aliases land above 20 kHz);
* stop-band attenuation :data:`STOPBAND_DB` = 80 dB by the Kaiser formulas; measured on the
  designed filters: ≥ 79.0 dB in the stop band, pass-band ripple ≤ 0.002 dB;
* taps ≈ 50 · max(up, down), made odd so the group delay is a whole number of up-sampled
  samples; DC gain ``up`` (so a stuffed signal keeps its amplitude).

Memory is bounded before anything is built (a unit's HELLO or a file header chooses the input
rate, issue 14): :func:`ratio` computes the tap count (:func:`filter_taps`, Kaiser's formula)
and refuses more than :data:`MAX_FILTER_TAPS` = 2 500 000 taps, i.e. a reduced ratio term above
about 49 800 (every pair of whole rates up to 48 kHz passes). Measured with tracemalloc: the
design peaks at 48 bytes per tap (≤ 120 MB at the bound; 106 MB for 44 100 → 7 919 Hz), a
stream keeps 16 bytes per tap (taps and the phase bank; ≤ 40 MB). Streaming computes outputs
in chunks of at most :data:`RUN_BYTES` of gathered input (32 MB).

Timing: the filter is applied zero-phase, i.e. output sample ``k`` is the band-limited input
evaluated at input time ``k * from_rate / to_rate`` samples (``k / to_rate`` seconds), so
sample indices map exactly between rates. A stream therefore holds back its newest outputs
until the filter's right half has seen input: :attr:`StreamResampler.latency` input samples
(e.g. 70 samples = 1.6 ms at 44 100 → 16 000 Hz). :meth:`StreamResampler.flush` ends a stream
as if zeros followed, so a flushed stream of ``n`` input samples yields exactly
``ceil(n * up / down)`` outputs, the same as :func:`resample`.

Numerics: every output is a float64 dot product over the same taps in the same order no matter
how the input was split into blocks, so any chunking gives bit-identical output. int16 input
gives int16 output rounded half to even and saturated to [−32768, 32767]; float input gives
float64 output, not clipped. Equal rates pass samples through unchanged (no filter, no delay).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: Stop-band attenuation of the anti-alias / anti-image filter, dB.
STOPBAND_DB = 80.0
#: Transition width as a fraction of the lower Nyquist frequency (pass band 0.9, stop band 1.1).
TRANSITION = 0.2
#: Longest filter designed (taps); ~50 taps per unit of max(up, down), so a reduced ratio term up
#: to ~49 800. Terms above :data:`CACHED_RATIO_TERM` (rates with a small common divisor, e.g.
#: 44 100 → 7 919 Hz) cost ~1 s to design and are not cached.
MAX_FILTER_TAPS = 2_500_000
#: Bytes per tap at design time (peak, measured) and kept by a stream; for the messages.
DESIGN_BYTES_PER_TAP, KEPT_BYTES_PER_TAP = 48, 16
CACHED_RATIO_TERM = 4000
#: Bumped whenever the filter design or the numerics change (feature caches key on it).
RESAMPLER_VERSION = 1

_CHUNK_OUT = 4096  # most outputs computed per vectorised step
#: Bound on the input gathered per vectorised step (outputs × taps per phase × 8 bytes).
RUN_BYTES = 32 << 20


def ratio(from_rate: int, to_rate: int) -> tuple[int, int]:
    """Reduced ``(up, down)`` for converting ``from_rate`` Hz to ``to_rate`` Hz."""
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if int(rate) != rate or rate <= 0:
            raise ValueError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    from_rate, to_rate = int(from_rate), int(to_rate)
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    taps = filter_taps(up, down)
    if taps > MAX_FILTER_TAPS:
        raise ValueError(
            f"cannot resample {from_rate} Hz to {to_rate} Hz: reduced ratio {up}/{down} needs a {taps}-tap filter "
            f"(~{taps * DESIGN_BYTES_PER_TAP / 1e6:.0f} MB to design), above the bound of {MAX_FILTER_TAPS} taps; "
            "pick rates with a larger common divisor"
        )
    return up, down


def filter_taps(up: int, down: int) -> int:
    """Taps of the filter for ``up/down`` (odd; 1 for equal rates), by Kaiser's formula as
    ``scipy.signal.kaiserord`` computes it, without designing anything."""
    if up == down == 1:
        return 1
    width = TRANSITION / float(max(up, down))  # transition width relative to the up-sampled Nyquist
    return math.ceil((STOPBAND_DB - 7.95) / 2.285 / (np.pi * width) + 1) | 1


def design_filter(up: int, down: int) -> np.ndarray:
    """FIR taps (float64, odd length, DC gain ``up``) for the reduced ratio ``up/down``.

    Frequencies are relative to the up-sampled rate; see the module docstring for the spec.
    Designed once per ratio (cached) unless a ratio term exceeds :data:`CACHED_RATIO_TERM`.
    """
    if max(up, down) <= CACHED_RATIO_TERM:
        return _design_cached(up, down)
    return _design(up, down)


@lru_cache(maxsize=32)
def _design_cached(up: int, down: int) -> np.ndarray:
    taps = _design(up, down)
    taps.flags.writeable = False  # shared between streams
    return taps


def _design(up: int, down: int) -> np.ndarray:
    from scipy.signal import firwin, kaiser_beta  # design only; applying the filter is numpy

    if up == down == 1:
        return np.ones(1)
    nyq_up = float(max(up, down))  # up-sampled Nyquist in units of the lower Nyquist
    numtaps = filter_taps(up, down)  # odd: integer group delay
    taps = firwin(numtaps, 1.0 / nyq_up, window=("kaiser", kaiser_beta(STOPBAND_DB)), scale=True)
    return taps * up


class StreamResampler:
    """Stateful polyphase resampler: ``process`` blocks as they arrive, ``flush`` at the end.

    Any split of the input into blocks gives the same concatenated output as one call
    (bit-identical). ``from_rate``/``to_rate`` are in Hz (whole numbers).
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.up, self.down = ratio(from_rate, to_rate)
        self.from_rate, self.to_rate = int(from_rate), int(to_rate)
        self.taps = design_filter(self.up, self.down)
        self._identity = self.up == self.down
        n = len(self.taps)
        self._delay = (n - 1) // 2  # group delay in up-sampled samples
        self._k = -(-n // self.up)  # taps per phase (input samples per output)
        padded = np.zeros(self._k * self.up)
        padded[:n] = self.taps
        # Row p holds the taps of phase p, reversed so that they meet an ascending input slice:
        # y[k] = sum_j bank[p_k, j] * x[n_k - K + 1 + j].
        self._bank = padded.reshape(self._k, self.up).T[:, ::-1].copy()
        self.reset()

    @property
    def latency(self) -> int:
        """Input samples a stream holds back before the matching outputs can be emitted."""
        return -(-self._delay // self.up)

    def reset(self) -> None:
        """Forget all input: the next block starts a new stream at sample 0."""
        self._hist = np.zeros(self._k - 1)  # x[n_in - K + 1 .. n_in - 1], zeros before t = 0
        self.n_in = 0  # input samples consumed
        self.n_out = 0  # output samples emitted

    def output_length(self, n_in: int) -> int:
        """Outputs a flushed stream of ``n_in`` input samples yields: ``ceil(n_in*up/down)``."""
        return -(-n_in * self.up // self.down)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Consume a 1-D block; return every output that is now fully determined.

        int16 in → int16 out (round half to even, saturate); float in → float64 out.
        """
        x = np.asarray(block)
        if x.ndim != 1:
            raise ValueError(f"resampler input must be 1-D, got shape {x.shape}")
        is_int16 = x.dtype == np.int16
        if not (is_int16 or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"resampler input must be int16 or float, got {x.dtype}")
        if self._identity:
            self.n_in += len(x)
            self.n_out += len(x)
            return x.copy() if is_int16 else x.astype(np.float64)
        y = self._run(x.astype(np.float64), self._ready(self.n_in + len(x)))
        return _to_int16(y) if is_int16 else y

    def flush(self, dtype=np.int16) -> np.ndarray:
        """Emit the remaining outputs as if zeros followed the input, then :meth:`reset`.

        ``dtype`` is the output type: ``np.int16`` (rounded, saturated) or ``np.float64``.
        """
        if self._identity:
            self.reset()
            return np.zeros(0, dtype=dtype)
        total = self.output_length(self.n_in)
        need = ((total - 1) * self.down + self._delay) // self.up + 1 if total else self.n_in
        pad = max(0, need - self.n_in)
        y = self._run(np.zeros(pad), total)
        self.reset()
        return _to_int16(y) if np.dtype(dtype) == np.int16 else y

    def _ready(self, n_avail: int) -> int:
        """Outputs computable from ``n_avail`` input samples: k with n_k <= n_avail - 1."""
        return max(0, (n_avail * self.up - 1 - self._delay) // self.down + 1)

    def _run(self, x: np.ndarray, k_end: int) -> np.ndarray:
        """Append ``x`` to the stream and compute outputs ``n_out .. k_end - 1``."""
        buf = np.concatenate([self._hist, x])
        base = self.n_in - (self._k - 1)  # input index of buf[0]
        out = np.empty(max(0, k_end - self.n_out))
        windows = np.lib.stride_tricks.sliding_window_view(buf, self._k) if len(out) else None
        chunk = max(1, min(_CHUNK_OUT, RUN_BYTES // (8 * self._k)))  # rows are independent: any chunk, same output
        for c0 in range(0, len(out), chunk):
            k = np.arange(self.n_out + c0, min(k_end, self.n_out + c0 + chunk), dtype=np.int64)
            t = k * self.down + self._delay  # up-sampled time of each output's newest tap
            n_k, phase = np.divmod(t, self.up)  # newest input sample used, and the phase
            rows = windows[n_k - self._k + 1 - base]
            out[c0:c0 + len(k)] = (rows * self._bank[phase]).sum(axis=1)
        self.n_in += len(x)
        self.n_out = max(self.n_out, k_end)
        self._hist = buf[len(buf) - (self._k - 1):] if self._k > 1 else np.zeros(0)
        return out


def _to_int16(y: np.ndarray) -> np.ndarray:
    """Round half to even and saturate to int16."""
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One-shot conversion of a whole 1-D signal; ``ceil(len(x) * to_rate / from_rate)`` outputs.

    Identical to streaming ``x`` through :class:`StreamResampler` and flushing. int16 in →
    int16 out (rounded, saturated); float in → float64 out.
    """
    x = np.asarray(x)
    rs = StreamResampler(from_rate, to_rate)
    head = rs.process(x)
    tail = rs.flush(dtype=np.int16 if x.dtype == np.int16 else np.float64)
    return np.concatenate([head, tail])
