"""Accuracy of the integer front-end against the float64 definition (issue 2, item 3).

Bands in scope: reference energy above 0 dB (one LSB²) and within 60 dB of the frame's
loudest band. Bound: max |error| ≤ 0.25 dB and mean |error| ≤ 0.05 dB per signal.
"""

import numpy as np
import pytest

from edge.frontend import Frontend, FrontendConfig, to_db
from edge.frontend.reference import reference_db, reference_energy
from tests.edge.golden.frontend_signals import CONFIGS, chirp, spike_train, white_noise

LEVELS = (-60.0, -40.0, -20.0, -6.0, 0.0)
SIGNALS = {"noise": white_noise, "chirp": chirp, "spikes": spike_train}


def band_errors(pcm: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    ours = to_db(Frontend(cfg).process(pcm), cfg)
    ref = reference_db(pcm, cfg)
    assert ours.shape == ref.shape
    in_scope = (ref > 0.0) & (ref >= ref.max(axis=1, keepdims=True) - 60.0)
    return np.abs(ours - ref)[in_scope]


@pytest.mark.parametrize("sr", sorted(CONFIGS))
@pytest.mark.parametrize("kind", sorted(SIGNALS))
def test_error_bounds_from_minus_60_to_0_dbfs(sr, kind):
    cfg = FrontendConfig(**CONFIGS[sr])
    n = sr // 4
    for level in LEVELS:
        if kind == "noise":
            pcm = white_noise(n, sr, level, seed=int(-level) + 7)
        else:
            pcm = SIGNALS[kind](n, sr, level)
        err = band_errors(pcm, cfg)
        assert err.size >= 2 * cfg.n_mels, (kind, level, err.size)  # the bound is really exercised
        assert err.max() <= 0.25, (kind, sr, level, err.max())
        assert err.mean() <= 0.05, (kind, sr, level, err.mean())


def test_error_is_dominated_by_output_quantisation():
    """The arithmetic is far finer than the bound: the error stays near the 1/128 dB rounding."""
    cfg = FrontendConfig(**CONFIGS[44100])
    err = band_errors(chirp(44100 // 4, 44100, -20.0), cfg)
    assert err.max() < 0.02
    assert err.mean() < 0.006


def test_silence_and_sub_lsb_bands_sit_on_the_0_db_floor():
    cfg = FrontendConfig(**CONFIGS[16000])
    fe = Frontend(cfg)
    assert not fe.process(np.zeros(4000, dtype=np.int16)).any()
    fe.reset()
    tiny = np.zeros(4000, dtype=np.int16)
    tiny[1000] = 1  # one LSB: reference energies are all below 0 dB, except near the window peak
    ours = to_db(fe.process(tiny), cfg)
    ref = reference_db(tiny, cfg)
    assert (ours >= 0.0).all()
    np.testing.assert_array_equal(ours[ref < -0.01], 0.0)


def test_float64_reference_agrees_with_librosa():
    """The reference implements the issue's definition: librosa with HTK Mel, no norm, no centring."""
    librosa = pytest.importorskip("librosa")
    cfg = FrontendConfig(**CONFIGS[22050])
    pcm = white_noise(22050 // 4, 22050, -20.0, seed=5)
    s = librosa.feature.melspectrogram(
        y=pcm.astype(np.float64), sr=cfg.sample_rate, n_fft=cfg.fft_size, win_length=cfg.frame_length,
        hop_length=cfg.hop_length, window="hann", center=False, power=2.0, n_mels=cfg.n_mels,
        fmin=cfg.fmin_hz, fmax=cfg.fmax_hz, htk=True, norm=None).T
    # librosa centres the L-sample window in its N-sample frame
    ref = reference_energy(pcm[(cfg.fft_size - cfg.frame_length) // 2:], cfg)
    n = min(len(s), len(ref))
    np.testing.assert_allclose(s[:n], ref[:n], rtol=1e-6)
