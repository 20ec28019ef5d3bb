"""Stage-level numerics: integer helpers, the exact DFT evaluation, bounds, log accuracy."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.frontend import Frontend, FrontendConfig
from edge.frontend.fft import DftPlan
from edge.frontend.intmath import bit_length, shift_round
from edge.frontend.log import DB_COEFF, LOG2_TABLE, log2_q16
from edge.frontend.power import power
from edge.frontend.window import TARGET_BITS, hann_q30, window_and_normalise
from tests.edge.golden.frontend_signals import CONFIGS, chirp, white_noise

I64 = st.integers(min_value=0, max_value=2**63 - 1)


@given(st.lists(I64, min_size=1, max_size=50))
def test_bit_length_matches_python(xs):
    assert bit_length(np.array(xs, dtype=np.int64)).tolist() == [x.bit_length() for x in xs]


@given(st.integers(-2**50, 2**50), st.integers(-12, 20))
def test_shift_round_is_round_half_up(x, s):
    got = int(shift_round(np.array([x], dtype=np.int64), s)[0])
    want = x << -s if s <= 0 else (x + (1 << (s - 1))) >> s  # floor((x + 2^(s−1)) / 2^s)
    assert got == want


def test_window_table():
    w = hann_q30(1103)
    assert w[0] == 0 and w.max() <= 2**30
    assert np.abs(w / 2**30 - (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1103) / 1103))).max() <= 2**-31
    np.testing.assert_array_equal(hann_q30(1024)[1:], hann_q30(1024)[1:][::-1])  # periodic: symmetric about L/2


def _plan(sr=44100):
    fe = Frontend(FrontendConfig(**CONFIGS[sr]))
    return fe, fe.plan


def _adversarial_frames(L, rng):
    """Frames at the normalisation bound: full-scale, alternating, spikes, a DC block, noise."""
    n = np.arange(L)
    frames = [np.full(L, 32767), np.where(n % 2 == 0, 32767, -32768), np.zeros(L, dtype=np.int64),
              np.where(n < L // 2, -32768, 32767), rng.integers(-32768, 32768, L), rng.integers(-3, 4, L)]
    frames[2][L // 2] = -32768
    return np.array(frames).astype(np.int16)


def test_fast_dft_equals_int64_spec_bit_for_bit():
    rng = np.random.default_rng(11)
    for sr in sorted(CONFIGS):
        fe, plan = _plan(sr)
        L = fe.cfg.frame_length
        frames = np.concatenate([_adversarial_frames(L, rng), white_noise(L * 8, sr, -30.0).reshape(8, L)])
        u, _ = window_and_normalise(frames, fe.window)
        assert (np.abs(u).sum(axis=1) < 2**TARGET_BITS + L).all()
        for f in (1, 2, len(u)):  # complex (streaming) and real (batch) paths
            np.testing.assert_array_equal(plan.dft(u[:f]), plan.dft_int64(u[:f]))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.int16, 1103))
def test_fast_dft_equals_int64_spec_on_any_frame(frame):
    fe, plan = _plan()
    u, _ = window_and_normalise(frame[None, :], fe.window)
    np.testing.assert_array_equal(plan.dft(u), plan.dft_int64(u))


def test_dft_error_is_far_below_the_strongest_bin_and_stays_in_bounds():
    fe, plan = _plan()
    L = fe.cfg.frame_length
    n = np.arange(L)
    tones = [np.round(32767 * np.sin(2 * np.pi * f * n / 44100)) for f in (300.0, 5000.0, 15000.0, 20000.0)]
    frames = np.concatenate([_adversarial_frames(L, np.random.default_rng(2)), np.array(tones).astype(np.int16)])
    u, _ = window_and_normalise(frames, fe.window)
    x = plan.dft(u)
    re, im = x[:, 0], x[:, 1]
    full = np.fft.rfft(u.astype(np.float64), n=fe.cfg.fft_size, axis=1)
    err = np.abs(re + 1j * im - full[:, plan.k_lo:plan.k_hi + 1])
    peak = np.abs(full).max(axis=1)
    # twiddle rounding (Q26) and the rounding of u dominate; measured ≤ 2^-26 of the peak
    assert (err.max(axis=1) <= 2.0**-25 * peak).all()
    assert (np.sqrt((err ** 2).mean(axis=1)) <= 10 ** (-160 / 20) * peak).all()
    assert np.abs(re).max() < 2**35 + 2**14 and np.abs(im).max() < 2**35 + 2**14
    p, r = power(x)
    assert p.min() >= 0 and p.max() <= 2**61


def test_plan_split_covers_small_and_large_ffts():
    for N, L in ((64, 64), (256, 200), (2048, 1103), (16384, 16384)):
        plan = DftPlan(N, L, 1, N // 2)
        assert plan.N1 * plan.N2 == N and plan.N2 >= plan.N1


def test_log2_q16_is_accurate():
    rng = np.random.default_rng(4)
    e = np.concatenate([np.int64(1) << np.arange(62), rng.integers(1, 2**62, 5000)])
    got = log2_q16(e) / 65536.0
    want = np.array([math.log2(int(v)) for v in e])
    assert np.abs(got - want).max() < 3e-5
    assert LOG2_TABLE[0] == 0 and LOG2_TABLE[256] == 65536
    assert abs(DB_COEFF - 10 * math.log10(2) * 64 * 65536) <= 0.5


def test_batch_and_frame_by_frame_use_different_evaluations_but_agree():
    cfg = FrontendConfig(**CONFIGS[22050])
    pcm = chirp(22050 // 2, 22050, -10.0)
    whole = Frontend(cfg).process(pcm)   # blocks of many frames: real float64 products
    fe = Frontend(cfg)
    step = np.concatenate([fe.process(pcm[i:i + cfg.hop_length]) for i in range(0, len(pcm), cfg.hop_length)])
    np.testing.assert_array_equal(whole, step)
