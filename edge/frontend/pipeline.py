"""The streaming front-end: int16 PCM in, integer log-Mel frames out (edge/FRONTEND.md)."""

from __future__ import annotations

import numpy as np

from .config import FrontendConfig
from .fft import DftPlan
from .filterbank import WEIGHT_BITS, MelFilterbank
from .log import DB_PER_LSB, FEATURE_DTYPE, to_features
from .power import power
from .window import WINDOW_BITS, hann_q30, window_and_normalise

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


class Frontend:
    """Integer log-Mel front-end. `process` takes any chunk sizes and returns the frames that
    became complete: feeding a signal in pieces gives exactly the frames of one whole call."""

    def __init__(self, cfg: FrontendConfig):
        if not isinstance(cfg, FrontendConfig):
            raise ValueError(f"cfg must be a FrontendConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.window = hann_q30(cfg.frame_length)
        self.filterbank = MelFilterbank(cfg)
        self.plan = DftPlan(cfg.fft_size, cfg.frame_length, self.filterbank.k_lo, self.filterbank.k_hi)
        self._L, self._H = cfg.frame_length, cfg.hop_length
        self.reset()

    def reset(self) -> None:
        """Forget buffered samples: the next sample starts frame 0 again."""
        self._buf = np.zeros(0, dtype=np.int16)
        self._skip = 0  # samples still to drop (only when hop > window)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """pcm: 1-D int16 chunk → (new_frames, n_mels) int16 features, LSB = 1/64 dB."""
        pcm = check_pcm(pcm)
        if self._skip:
            drop = min(self._skip, len(pcm))
            pcm, self._skip = pcm[drop:], self._skip - drop
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

    def compute_frames(self, frames: np.ndarray) -> np.ndarray:
        """frames (F, L) int16 → (F, n_mels) int16 features (stateless)."""
        F = frames.shape[0]
        if F <= _BLOCK_FRAMES:
            return self._block(frames)
        out = np.empty((F, self.cfg.n_mels), dtype=FEATURE_DTYPE)
        for i in range(0, F, _BLOCK_FRAMES):
            out[i:i + _BLOCK_FRAMES] = self._block(frames[i:i + _BLOCK_FRAMES])
        return out

    def _block(self, frames: np.ndarray, dft=None) -> np.ndarray:
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
