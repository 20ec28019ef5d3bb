"""The compiled front-end kernel (edge/frontend/c, edge.frontend._kernel) against the numpy spec
path: the same int16 features bit for bit, for every input, config, chunking and code path.

Without the built kernel these tests skip, unless EMG_REQUIRE_EXTENSIONS=1 (make test, CI): then
a missing kernel fails.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.frontend import Frontend, FrontendConfig
from edge.frontend import fft as fft_module
from edge.frontend import pipeline
from tests.edge.golden.frontend_signals import CONFIGS, golden_signals, white_noise

RATES = sorted(CONFIGS)


def test_kernel_is_built_when_required():
    if not pipeline.kernel_available():
        if os.environ.get("EMG_REQUIRE_EXTENSIONS") == "1":
            pytest.fail("edge.frontend._kernel did not build (EMG_REQUIRE_EXTENSIONS=1)")
        pytest.skip("edge.frontend._kernel not built: numpy front-end in use")
    assert Frontend(FrontendConfig(**CONFIGS[16000])).kernel == ("numpy" if os.environ.get(pipeline.KERNEL_ENV) == "numpy" else "c")


needs_kernel = pytest.mark.skipif(not pipeline.kernel_available() and os.environ.get("EMG_REQUIRE_EXTENSIONS") != "1",
                                  reason="edge.frontend._kernel not built")

_FE: dict = {}


def frontends(cfg: FrontendConfig):
    """(numpy, C dispatched, C portable) front-ends of one config, cached."""
    if cfg not in _FE:
        c = Frontend(cfg, kernel="c")
        generic = Frontend(cfg, kernel="c")
        generic._cplan = generic._compiled_plan(generic=True)
        _FE[cfg] = (Frontend(cfg, kernel="numpy"), c, generic)
    return _FE[cfg]


def assert_same_frames(cfg: FrontendConfig, frames: np.ndarray):
    ref, c, generic = frontends(cfg)
    want = ref.compute_frames(frames)
    np.testing.assert_array_equal(c.compute_frames(frames), want)
    np.testing.assert_array_equal(generic.compute_frames(frames), want)
    return want


def stream(fe: Frontend, pcm: np.ndarray, sizes: list[int]) -> np.ndarray:
    fe.reset()
    out, i, j = [], 0, 0
    while i < len(pcm):
        out.append(fe.process(pcm[i:i + sizes[j % len(sizes)]]))
        i, j = i + sizes[j % len(sizes)], j + 1
    return np.concatenate(out) if out else np.zeros((0, fe.cfg.n_mels), np.int16)


# ---- golden-vector signals: every config, both C code paths ----

@needs_kernel
@pytest.mark.parametrize("sr", RATES)
def test_golden_signals_bit_exact(sr):
    cfg = FrontendConfig(**CONFIGS[sr])
    ref, c, generic = frontends(cfg)
    assert c._cplan.isa in ("avx2+fma", "generic") and generic._cplan.isa == "generic"
    for name, pcm in golden_signals(sr).items():
        ref.reset(), c.reset(), generic.reset()
        want = ref.process(pcm)
        np.testing.assert_array_equal(c.process(pcm), want, err_msg=name)
        np.testing.assert_array_equal(generic.process(pcm), want, err_msg=name)


# ---- adversarial frames ----

def _extreme_frames(L: int) -> np.ndarray:
    n = np.arange(L)
    rows = [np.full(L, 32767), np.full(L, -32768), np.where(n % 2 == 0, 32767, -32768),
            np.where(n < L // 2, -32768, 32767), np.zeros(L, dtype=np.int64), np.ones(L, dtype=np.int64),
            np.where(n % 3 == 0, -32768, 0)]
    for pos in (0, 1, L // 3, L // 2, L - 1):  # single impulses, both signs, incl. where the window is 0
        for v in (-32768, 32767, 1, -1):
            r = np.zeros(L, dtype=np.int64)
            r[pos] = v
            rows.append(r)
    return np.array(rows).astype(np.int16)


@needs_kernel
@pytest.mark.parametrize("sr", RATES)
def test_extreme_frames_and_silent_frames_inside_blocks(sr):
    cfg = FrontendConfig(**CONFIGS[sr])
    frames = _extreme_frames(cfg.frame_length)
    assert_same_frames(cfg, frames)
    # silent frames between loud ones, at every position of the kernel's 4-frame blocks
    rng = np.random.default_rng(sr)
    mixed = rng.integers(-32768, 32768, (23, cfg.frame_length)).astype(np.int16)
    mixed[[0, 3, 4, 9, 10, 11, 12, 22]] = 0
    got = assert_same_frames(cfg, mixed)
    assert (got[[0, 3, 4, 9, 10, 11, 12, 22]] == 0).all()
    for f in range(1, 9):
        assert_same_frames(cfg, mixed[:f])


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(st.sampled_from(RATES), st.data())
def test_random_frames_bit_exact(sr, data):
    cfg = FrontendConfig(**CONFIGS[sr])
    L = cfg.frame_length
    n = data.draw(st.integers(1, 6))
    elements = st.one_of(st.integers(-32768, 32767), st.sampled_from([-32768, 32767, 0, 1, -1]))
    frames = data.draw(hnp.arrays(np.int16, (n, L), elements=elements))
    scale = data.draw(st.sampled_from([0, 1, 3, 8, 15]))  # quiet frames too: s > 0 and s < 0 shifts
    assert_same_frames(cfg, (frames.astype(np.int32) >> scale).astype(np.int16))


# ---- random configs: rates, odd window lengths, 1..128 bands ----

@st.composite
def configs(draw):
    sr = draw(st.sampled_from([8000, 11025, 16000, 22050, 32000, 44100, 48000]))
    window_ms = draw(st.sampled_from([8.0, 10.0, 15.0, 20.0, 25.0, 32.0, 40.0])) + draw(st.sampled_from([0.0, 0.0625, 0.3]))
    hop_ms = draw(st.sampled_from([5.0, 10.0, 12.5, 30.0]))
    fmax = draw(st.sampled_from([sr / 2.0, min(10000.0, sr / 2.0), sr / 4.0]))
    fmin = draw(st.sampled_from([0.0, 20.0, 100.0, 300.0]))
    n_mels = draw(st.sampled_from([1, 2, 7, 16, 32, 40, 64, 80, 100, 128]))
    try:
        return FrontendConfig(sample_rate=sr, window_ms=window_ms, hop_ms=hop_ms, n_mels=n_mels,
                              fmin_hz=fmin, fmax_hz=fmax)
    except ValueError:
        assume(False)


@needs_kernel
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(configs(), st.integers(0, 2**32 - 1), st.sampled_from([-60.0, -20.0, 0.0]))
def test_random_configs_bit_exact(cfg, seed, level):
    L = cfg.frame_length
    pcm = white_noise(L * 3 + cfg.hop_length * 2 + 17, cfg.sample_rate, level, seed=seed % 1000)
    ref, c, generic = frontends(cfg)
    ref.reset()
    want = ref.process(pcm)
    for fe in (c, generic):
        fe.reset()
        np.testing.assert_array_equal(fe.process(pcm), want)
    frames = np.concatenate([_extreme_frames(L)[:6], white_noise(L * 2, cfg.sample_rate, level, seed=seed % 97).reshape(2, L)])
    assert_same_frames(cfg, frames)


@needs_kernel
@pytest.mark.parametrize("kw", [
    dict(sample_rate=48000, window_ms=40.0, hop_ms=10.0, n_mels=128, fmin_hz=300.0, fmax_hz=24000.0),
    dict(sample_rate=44100, window_ms=25.0, hop_ms=10.0, n_mels=1, fmin_hz=20.0, fmax_hz=10000.0),
    dict(sample_rate=8000, window_ms=8.0, hop_ms=4.0, n_mels=1, fmin_hz=0.0, fmax_hz=4000.0),  # L = 64
    dict(sample_rate=48000, window_ms=341.3, hop_ms=100.0, n_mels=64, fmin_hz=20.0, fmax_hz=24000.0),  # N = 16384
])
def test_extreme_configs_bit_exact(kw):
    cfg = FrontendConfig(**kw)
    frames = np.concatenate([_extreme_frames(cfg.frame_length),
                             white_noise(cfg.frame_length * 3, cfg.sample_rate, -30.0, seed=3).reshape(3, -1)])
    assert_same_frames(cfg, frames)


# ---- streaming vs batch ----

@needs_kernel
@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RATES), st.lists(st.integers(1, 2500), min_size=1, max_size=10))
def test_any_chunking_matches_batch_and_numpy(sr, sizes):
    cfg = FrontendConfig(**CONFIGS[sr])
    ref, c, _ = frontends(cfg)
    pcm = white_noise(sr // 5, sr, -12.0, seed=sr)
    ref.reset()
    want = ref.process(pcm)
    np.testing.assert_array_equal(stream(c, pcm, sizes), want)
    np.testing.assert_array_equal(stream(ref, pcm, sizes), want)


@needs_kernel
def test_hop_longer_than_window_and_non_contiguous_input():
    cfg = FrontendConfig(sample_rate=8000, window_ms=10.0, hop_ms=25.0, n_mels=8, fmax_hz=4000.0)
    ref, c, _ = frontends(cfg)
    pcm = white_noise(2500, 8000, -20.0, seed=9)
    ref.reset()
    want = ref.process(pcm)
    for sizes in ([1], [7, 300], [81, 1], [2500]):
        np.testing.assert_array_equal(stream(c, pcm, sizes), want)
    strided = np.stack([pcm, pcm], axis=1)[:, 0]
    c.reset()
    np.testing.assert_array_equal(c.process(strided), want)
    # compute_frames on a strided (overlapping) frame view and on a column-sliced view
    L, H = cfg.frame_length, cfg.hop_length
    view = np.lib.stride_tricks.as_strided(pcm, ((len(pcm) - L) // H + 1, L), (H * 2, 2), writeable=False)
    np.testing.assert_array_equal(c.compute_frames(view), want)
    wide = np.zeros((3, 2 * L), np.int16)
    wide[:, ::2] = view[:3]
    np.testing.assert_array_equal(c.compute_frames(wide[:, ::2]), want[:3])


# ---- a twiddle table without conjugate symmetry: the kernel must not use the shortcut ----

@needs_kernel
def test_asymmetric_twiddles_take_the_full_pass_a(monkeypatch):
    real = fft_module.twiddles

    def perturbed(N):
        C, S = real(N)
        S = S.copy()
        S[N // 8] -= 3  # breaks S[N-j] = -S[j]: numpy and C must both compute every k1 row
        return C, S

    monkeypatch.setattr(fft_module, "twiddles", perturbed)
    cfg = FrontendConfig(**CONFIGS[22050])
    ref, c = Frontend(cfg, kernel="numpy"), Frontend(cfg, kernel="c")
    assert not ref.plan._symmetric
    pcm = white_noise(6000, 22050, -3.0, seed=5)
    frames = np.concatenate([_extreme_frames(cfg.frame_length),
                             pcm[:cfg.frame_length * 4].reshape(4, -1)])
    want = ref.compute_frames(frames)
    np.testing.assert_array_equal(c.compute_frames(frames), want)
    np.testing.assert_array_equal(ref._block(frames, dft=ref.plan.dft_int64), want)
    generic = Frontend(cfg, kernel="c")
    generic._cplan = generic._compiled_plan(generic=True)
    np.testing.assert_array_equal(generic.compute_frames(frames), want)


# ---- selection and validation ----

def test_kernel_selection_env_and_argument(monkeypatch):
    cfg = FrontendConfig(**CONFIGS[8000])
    monkeypatch.setenv(pipeline.KERNEL_ENV, "numpy")
    assert Frontend(cfg).kernel == "numpy"
    monkeypatch.setenv(pipeline.KERNEL_ENV, "fortran")
    with pytest.raises(ValueError, match="EMG_FRONTEND_KERNEL"):
        Frontend(cfg)
    monkeypatch.delenv(pipeline.KERNEL_ENV)
    assert Frontend(cfg).kernel == ("c" if pipeline.kernel_available() else "numpy")
    assert Frontend(cfg, kernel="numpy").kernel == "numpy"
    with pytest.raises(ValueError, match="kernel"):
        Frontend(cfg, kernel="gpu")
    if not pipeline.kernel_available():
        with pytest.raises(RuntimeError, match="not built"):
            Frontend(cfg, kernel="c")


@needs_kernel
def test_plan_rejects_tables_outside_the_spec_bounds():
    from edge.frontend import _kernel
    from edge.frontend.log import DB_COEFF, LOG2_TABLE

    fe = Frontend(FrontendConfig(**CONFIGS[16000]), kernel="numpy")
    fb, cfg = fe.filterbank, fe.cfg
    base = dict(window=fe.window, cos_q26=fe.plan.cos_q26, sin_q26=fe.plan.sin_q26, weight=fb._w,
                weight_bin=fb._k, band_start=fb._starts, log2_table=LOG2_TABLE)

    def plan(**over):
        t = {k: v if k in over else np.ascontiguousarray(v, dtype=np.int64) for k, v in {**base, **over}.items()}
        return _kernel.Plan(cfg.frame_length, cfg.fft_size, fb.k_lo, fb.k_hi, cfg.n_mels, fb.max_power_bits,
                            t["window"], t["cos_q26"], t["sin_q26"], t["weight"], t["weight_bin"],
                            t["band_start"], t["log2_table"], DB_COEFF)

    plan()  # the real tables are accepted
    too_big = fe.window.copy()
    too_big[5] = 2**30 + 1
    bad_bin = fb._k.copy()
    bad_bin[0] = fb.k_hi - fb.k_lo + 1
    for over in (dict(window=too_big), dict(cos_q26=fe.plan.cos_q26 * 2), dict(weight_bin=bad_bin),
                 dict(weight=np.full(len(fb._w), 70000, dtype=np.int64))):
        with pytest.raises(ValueError, match="bounds"):
            plan(**over)
    with pytest.raises(ValueError, match="int64"):
        plan(window=fe.window.astype(np.int32))
    with pytest.raises(ValueError, match="items"):
        plan(window=fe.window[:-1])
    p = plan()
    with pytest.raises(ValueError, match="shorter"):
        p.compute(np.zeros(10, np.int16), 1, cfg.hop_length, np.empty((1, cfg.n_mels), np.int16))
    with pytest.raises(ValueError, match="too small"):
        p.compute(np.zeros(cfg.frame_length, np.int16), 1, 1, np.empty((1, cfg.n_mels - 1), np.int16))
    with pytest.raises(ValueError, match="int16"):
        p.compute(np.zeros(cfg.frame_length, np.int32), 1, 1, np.empty((1, cfg.n_mels), np.int16))
    with pytest.raises(ValueError, match="contiguous rows"):
        p.compute_frames(np.zeros((2, cfg.frame_length * 2), np.int16)[:, ::2], np.empty((2, cfg.n_mels), np.int16))
