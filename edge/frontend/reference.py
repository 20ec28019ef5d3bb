"""Float64 reference of the front-end's definition (for tests and benchmarks, not the device).

Frame i covers samples [i·H, i·H+L); periodic Hann window of length L; zero-padded to N;
P_k = |DFT_k|² of the windowed int16 samples (unnormalised); E_m = Σ_k w[m,k]·P_k with the
triangular HTK Mel weights of `filterbank.mel_weights`; dB = 10·log10(E_m).
"""

from __future__ import annotations

import numpy as np

from .config import FrontendConfig
from .filterbank import mel_weights


def frame_count(n_samples: int, cfg: FrontendConfig) -> int:
    L, H = cfg.frame_length, cfg.hop_length
    return 0 if n_samples < L else (n_samples - L) // H + 1


def reference_energy(pcm: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """Mel band energies E (frames, n_mels) float64, in LSB² of the int16 input."""
    L, H, N = cfg.frame_length, cfg.hop_length, cfg.fft_size
    x = np.asarray(pcm).astype(np.float64)
    n = frame_count(len(x), cfg)
    if n == 0:
        return np.zeros((0, cfg.n_mels))
    frames = np.lib.stride_tricks.sliding_window_view(x, L)[::H][:n]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(L) / L)
    spec = np.fft.rfft(frames * window, n=N, axis=1)
    p = spec.real ** 2 + spec.imag ** 2
    return p @ mel_weights(cfg).T


def reference_db(pcm: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """10·log10(E) in dB (−inf where E = 0)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(reference_energy(pcm, cfg))
