"""Streaming: any chunking yields exactly the frames of one whole call; reset; empty input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.frontend import FEATURE_DTYPE, Frontend, FrontendConfig
from tests.edge.golden.frontend_signals import CONFIGS, white_noise

CFG = FrontendConfig(**CONFIGS[16000])
PCM = white_noise(3000, 16000, -10.0, seed=3)
FE = Frontend(CFG)
WHOLE = FE.process(PCM)


def feed(fe: Frontend, pcm: np.ndarray, sizes: list[int]) -> np.ndarray:
    fe.reset()
    out, i, j = [], 0, 0
    while i < len(pcm):
        n = sizes[j % len(sizes)]
        out.append(fe.process(pcm[i:i + n]))
        i, j = i + n, j + 1
    return np.concatenate(out)


def test_frame_geometry():
    L, H = CFG.frame_length, CFG.hop_length
    assert (L, H, CFG.fft_size) == (400, 160, 512)
    assert WHOLE.shape == ((len(PCM) - L) // H + 1, CFG.n_mels)
    assert WHOLE.dtype == FEATURE_DTYPE
    # frame i covers [i·H, i·H+L): the second frame equals the first frame of a shifted signal
    np.testing.assert_array_equal(Frontend(CFG).process(PCM[H:H + L]), WHOLE[1:2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1200), min_size=1, max_size=12))
def test_any_chunking_matches_one_call(sizes):
    np.testing.assert_array_equal(feed(FE, PCM, sizes), WHOLE)


def test_one_sample_chunks_match_one_call():
    np.testing.assert_array_equal(feed(Frontend(CFG), PCM, [1]), WHOLE)


def test_partial_frame_waits_and_empty_input_gives_zero_frames():
    fe = Frontend(CFG)
    for chunk in (PCM[:0], PCM[:CFG.frame_length - 1]):
        out = fe.process(chunk)
        assert out.shape == (0, CFG.n_mels) and out.dtype == FEATURE_DTYPE
    np.testing.assert_array_equal(fe.process(PCM[CFG.frame_length - 1:CFG.frame_length]), WHOLE[:1])


def test_reset_starts_a_new_stream():
    fe = Frontend(CFG)
    fe.process(PCM[:777])
    fe.reset()
    np.testing.assert_array_equal(fe.process(PCM), WHOLE)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=8))
def test_hop_longer_than_window_skips_samples_across_chunks(sizes):
    cfg = FrontendConfig(sample_rate=8000, window_ms=10.0, hop_ms=25.0, n_mels=8, fmax_hz=4000.0)
    fe = Frontend(cfg)
    pcm = white_noise(2500, 8000, -20.0, seed=9)
    whole = fe.process(pcm)
    assert whole.shape[0] == (len(pcm) - cfg.frame_length) // cfg.hop_length + 1
    np.testing.assert_array_equal(feed(fe, pcm, sizes), whole)


def test_non_contiguous_input_is_accepted():
    both = np.stack([PCM, PCM], axis=1)[:, 0]  # strided view
    np.testing.assert_array_equal(Frontend(CFG).process(both), WHOLE)
