"""The streaming front-end: int16 PCM in, integer log-Mel frames out (edge/FRONTEND.md).

Two implementations compute the same int16 features bit for bit: the numpy stages of this
package (the readable spec) and the compiled kernel `edge.frontend._kernel` (C, edge/frontend/c/),
which `Frontend` uses when it was built. EMG_FRONTEND_KERNEL=numpy forces the numpy path,
EMG_FRONTEND_KERNEL=c requires the kernel; `Frontend.kernel` says which one an instance uses.
"""

from __future__ import annotations

import os

import numpy as np

from .config import FrontendConfig
from .fft import DftPlan
from .filterbank import WEIGHT_BITS, MelFilterbank
from .log import DB_COEFF, DB_PER_LSB, FEATURE_DTYPE, LOG2_TABLE, to_features
from .power import power
from .window import WINDOW_BITS, hann_q30, window_and_normalise

try:  # optional: built by setup.py where a C compiler is available
    from . import _kernel
except ImportError:  # pragma: no cover - depends on the install
    _kernel = None

KERNEL_ENV = "EMG_FRONTEND_KERNEL"
KERNELS = ("c", "numpy")

# frames per block in batch mode: keeps the working set (≈ 0.5 MB at N = 2048) in cache
_BLOCK_FRAMES = 16


def check_pcm(pcm: object) -> np.ndarray:
    """Accept only 1-D int16 arrays; anything else is a clear ValueError."""
    if not isinstance(pcm, np.ndarray):
        raise ValueError(f"PCM must be a numpy int16 array, got {type(pcm).__name__}")
    if pcm.dtype != np.int16:
        raise ValueError(f"PCM dtype is {pcm.dtype}; allowed: int16 (convert floats with "
                         f"np.clip(np.round(x·32767), −32768, 32767).astype(np.int16))")
    if pcm.ndim != 1:
        raise ValueError(f"PCM must be 1-D (one channel), got shape {pcm.shape}; allowed: (n_samples,)")
    return pcm


def kernel_available() -> bool:
    """True when the compiled kernel edge.frontend._kernel was built and imports."""
    return _kernel is not None


def _choose_kernel(kernel: str | None) -> str:
    want = kernel if kernel is not None else (os.environ.get(KERNEL_ENV) or "").strip().lower() or None
    if want is not None and want not in KERNELS:
        src = "kernel" if kernel is not None else KERNEL_ENV
        raise ValueError(f"{src}={want!r}; allowed: {', '.join(KERNELS)} (unset: the compiled kernel if built)")
    if want == "numpy" or (want is None and _kernel is None):
        return "numpy"
    if _kernel is None:
        raise RuntimeError("the compiled front-end kernel edge.frontend._kernel is not built; reinstall with a "
                           "C compiler (pip install -e .) or use the numpy path (EMG_FRONTEND_KERNEL=numpy)")
    return "c"


class Frontend:
    """Integer log-Mel front-end. `process` takes any chunk sizes and returns the frames that
    became complete: feeding a signal in pieces gives exactly the frames of one whole call.

    kernel: "c" (compiled kernel, error if not built), "numpy" (the spec path) or None (the
    EMG_FRONTEND_KERNEL environment variable, else "c" when built, else "numpy"). Both give the
    same output bit for bit; `self.kernel` records the choice.
    """

    #: numpy dtype of the features `process` returns (int16, 1/64 dB).
    dtype = FEATURE_DTYPE

    def __init__(self, cfg: FrontendConfig, *, kernel: str | None = None):
        if not isinstance(cfg, FrontendConfig):
            raise ValueError(f"cfg must be a FrontendConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.window = hann_q30(cfg.frame_length)
        self.filterbank = MelFilterbank(cfg)
        self.plan = DftPlan(cfg.fft_size, cfg.frame_length, self.filterbank.k_lo, self.filterbank.k_hi)
        self._L, self._H, self._M = cfg.frame_length, cfg.hop_length, cfg.n_mels
        self.kernel = _choose_kernel(kernel)
        self._cplan = self._compiled_plan() if self.kernel == "c" else None
        self._sbuf = np.empty(2 * self._L + self._H, dtype=np.int16)  # kernel path: stream buffer
        self.reset()

    def kernel_tables(self) -> dict:
        """This instance's tables under the field names of emg_frontend.h's ``emg_fe_tables``
        (contiguous int64 arrays and ints): what the compiled extension and a firmware header
        (`emg-edge frontend-tables`) are built from, so neither recomputes them."""
        fb, cfg = self.filterbank, self.cfg

        def i64(a):
            return np.ascontiguousarray(a, dtype=np.int64)

        return {"frame_length": cfg.frame_length, "fft_size": cfg.fft_size, "k_lo": fb.k_lo, "k_hi": fb.k_hi,
                "n_mels": cfg.n_mels, "max_power_bits": fb.max_power_bits, "window": i64(self.window),
                "cos_q26": i64(self.plan.cos_q26), "sin_q26": i64(self.plan.sin_q26), "weight": i64(fb._w),
                "weight_bin": i64(fb._k), "band_start": i64(fb._starts), "log2_table": i64(LOG2_TABLE),
                "db_coeff": int(DB_COEFF)}

    def _compiled_plan(self, generic: bool = False):
        """The C plan, built from this instance's own tables (never recomputed in C). generic=True
        forces the portable C code even where the AVX2+FMA variant runs (tests compare both)."""
        return _kernel.Plan(**self.kernel_tables(), generic=generic)

    def reset(self) -> None:
        """Forget buffered samples: the next sample starts frame 0 again."""
        self._buf = np.zeros(0, dtype=np.int16)
        self._skip = 0  # samples still to drop (only when hop > window)
        self._have = 0  # kernel path: unconsumed samples at the start of self._sbuf

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """pcm: 1-D int16 chunk → (new_frames, n_mels) int16 features, LSB = 1/64 dB."""
        pcm = check_pcm(pcm)
        if self._skip:  # hop > window: samples between frames are dropped as they arrive
            drop = min(self._skip, len(pcm))
            pcm, self._skip = pcm[drop:], self._skip - drop
        if self._cplan is not None:
            return self._process_kernel(pcm)
        buf = np.concatenate([self._buf, pcm]) if len(self._buf) else pcm
        L, H = self._L, self._H
        n = 0 if len(buf) < L else (len(buf) - L) // H + 1
        if n == 0:
            self._buf = buf.copy()
            return np.zeros((0, self.cfg.n_mels), dtype=FEATURE_DTYPE)
        if n == 1:
            frames = buf[None, :L]
        else:
            frames = np.lib.stride_tricks.as_strided(buf, (n, L), (H * buf.strides[0], buf.strides[0]),
                                                     writeable=False)
        out = self.compute_frames(frames)
        consumed = n * H
        self._buf = buf[consumed:].copy()
        self._skip = max(0, consumed - len(buf))
        return out

    def _process_kernel(self, pcm: np.ndarray) -> np.ndarray:
        """`process` with the compiled kernel: the same framing, with less copying per call. The
        unconsumed samples (< L) wait at the start of one reusable contiguous buffer; a chunk is
        copied behind them once and the kernel reads frame i at i·H in place (a chunk arriving
        with nothing pending is read where it is). `pcm` has had pending skips dropped."""
        have, L, H = self._have, self._L, self._H
        if have == 0 and pcm.strides[0] == 2:
            src, total = pcm, len(pcm)
        else:
            total = have + len(pcm)
            if total > len(self._sbuf):
                grown = np.empty(max(total, 2 * len(self._sbuf)), dtype=np.int16)
                grown[:have] = self._sbuf[:have]
                self._sbuf = grown
            src = self._sbuf
            src[have:total] = pcm
        if total < L:
            if src is not self._sbuf:
                self._sbuf[:total] = src
            self._have = total
            return np.zeros((0, self._M), dtype=FEATURE_DTYPE)
        n = (total - L) // H + 1
        out = np.empty((n, self._M), dtype=FEATURE_DTYPE)
        self._cplan.compute(src, n, H, out)
        rest = total - n * H  # < L; negative when H > L: samples of the next hop still to skip
        if rest > 0:
            self._sbuf[:rest] = src[n * H:total]  # numpy handles the overlapping move
        self._have = max(rest, 0)
        self._skip = max(-rest, 0)
        return out

    def compute_frames(self, frames: np.ndarray) -> np.ndarray:
        """frames (F, L) int16 → (F, n_mels) int16 features (stateless)."""
        if (self._cplan is not None and isinstance(frames, np.ndarray) and frames.dtype == np.int16
                and frames.ndim == 2 and frames.shape[1] == self._L):
            if frames.strides[1] != frames.itemsize:
                frames = np.ascontiguousarray(frames)
            out = np.empty((frames.shape[0], self._M), dtype=FEATURE_DTYPE)
            self._cplan.compute_frames(frames, out)
            return out
        F = frames.shape[0]
        if F <= _BLOCK_FRAMES:
            return self._block(frames)
        out = np.empty((F, self.cfg.n_mels), dtype=FEATURE_DTYPE)
        for i in range(0, F, _BLOCK_FRAMES):
            out[i:i + _BLOCK_FRAMES] = self._block(frames[i:i + _BLOCK_FRAMES])
        return out

    def _block(self, frames: np.ndarray, dft=None) -> np.ndarray:
        """The numpy spec path for one block of frames (whatever `self.kernel` is)."""
        u, s = window_and_normalise(frames, self.window)
        p, r = power((dft or self.plan.dft)(u))
        energy, e = self.filterbank.apply(p)
        exponent = WEIGHT_BITS + 2 * WINDOW_BITS + 2 * (s - r) - e
        return to_features(energy, exponent)


def to_db(feats: np.ndarray, cfg: FrontendConfig | None = None) -> np.ndarray:
    """Integer features → float64 dB re 1 LSB² (affine: dB = feature/64; 0 is the 0 dB floor).

    cfg is accepted for symmetry with the pipeline; the scale does not depend on it.
    """
    return np.asarray(feats, dtype=np.float64) * DB_PER_LSB
