"""The rhythm check (edge.runtime.rhythm): regular trains keep fibrillation / PSW calls,
irregular ones (a voluntary unit) lose them; scale, polarity and block size do not matter."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.runtime import rhythm as rh
from edge.runtime.config import RuntimeConfig
from edge.runtime.pipeline import Pipeline

LABELS = ("rest", "voluntary_muap", "fibrillation", "positive_sharp_wave", "fasciculation")
PATH = ("fibrillation", "positive_sharp_wave", "fasciculation")
FS = 10_000


def train(rate_hz: float, cv: float, seconds: float, seed: int = 0, slowing: float = 0.0) -> np.ndarray:
    """Discharge times (s): Gaussian intervals of coefficient of variation ``cv``."""
    rng = np.random.default_rng(seed)
    iv = np.clip(rng.normal(1.0, cv, 400), 0.3, None) / rate_hz * np.linspace(1.0, 1.0 + slowing, 400)
    t = np.cumsum(iv)
    return t[t < seconds]


def signal(times: np.ndarray, seconds: float, amp: float = 300.0, noise: float = 5.0, seed: int = 0) -> np.ndarray:
    """A biphasic 2 ms potential (µV) at each of ``times`` over Gaussian noise, int16 at 1 µV/LSB."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, noise, int(seconds * FS))
    k = np.arange(20)
    shape = amp * np.sin(2 * np.pi * k / 20) * np.hanning(20)
    for t in times:
        i = int(t * FS)
        x[i:i + 20] += shape[:max(0, min(20, x.size - i))]
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


# -- pairs ----------------------------------------------------------------------------------
@given(st.floats(0.5, 50.0), st.floats(0.0, 100.0), st.integers(4, 60))
def test_an_exactly_periodic_train_is_regular_at_any_rate_and_start(rate, start, n):
    t = start + np.arange(n) / rate
    ok = rh.regular_pairs(t, rh.RhythmConfig())
    assert ok.size == n - 2 and ok.all()


@given(st.integers(2, 40), st.floats(1.0, 20.0))
def test_one_missed_discharge_does_not_break_regularity(missing, rate):
    t = np.arange(50) / rate
    t = np.delete(t, min(missing, 47))
    assert rh.regular_pairs(t, rh.RhythmConfig()).all()


def test_regular_share_separates_fibrillation_from_voluntary_variability():
    cfg = rh.RhythmConfig()
    fib = np.mean([rh.regular_pairs(train(8.0, 0.02, 60.0, s), cfg).mean() for s in range(5)])
    vol = np.mean([rh.regular_pairs(train(10.0, 0.12, 60.0, s), cfg).mean() for s in range(5)])
    assert fib > 0.9 and vol < 0.4


@pytest.mark.parametrize("cv", [0.05, 0.1, 0.2])
def test_successive_variability_estimates_the_interval_cv(cv):
    est = [rh.successive_variability(train(10.0, cv, 40.0, s), rh.RhythmConfig()) for s in range(5)]
    assert abs(np.mean(est) / cv - 1.0) < 0.25


def test_successive_variability_ignores_slowing_and_missed_discharges():
    cfg = rh.RhythmConfig()
    t = train(8.0, 0.01, 20.0, seed=2, slowing=0.5)
    assert rh.successive_variability(np.delete(t, [5, 40, 90]), cfg) < 0.02


def test_judged_irregular_rarely_at_fibrillation_regularity_and_mostly_at_voluntary_variability():
    cfg = rh.RhythmConfig()

    def share(cv, rate):
        v = [rh.verdict(t, strong(t), cfg) for t in (train(rate, cv, 4.0, s) for s in range(100))]
        return np.mean([x == rh.IRREGULAR for x in v])

    assert share(0.03, 3.0) <= 0.03 and share(0.03, 12.0) == 0.0
    assert share(0.15, 6.0) >= 0.9 and share(0.15, 12.0) >= 0.9


# -- verdict --------------------------------------------------------------------------------
def strong(times):
    return np.full(len(times), 40.0)


def test_verdicts():
    cfg = rh.RhythmConfig()
    assert rh.verdict(train(8.0, 0.01, 4.0), strong(train(8.0, 0.01, 4.0)), cfg) == rh.REGULAR
    vol = train(10.0, 0.2, 4.0, seed=3)
    assert rh.verdict(vol, strong(vol), cfg) == rh.IRREGULAR
    # a weak train (near the detection threshold) may not be judged irregular
    assert rh.verdict(vol, np.full(len(vol), 8.0), cfg) == rh.UNDECIDED
    # too few potentials to judge
    assert rh.verdict(vol[:5], strong(vol[:5]), cfg) == rh.UNDECIDED
    assert rh.verdict(np.zeros(0), np.zeros(0), cfg) == rh.UNDECIDED


def test_a_slow_regular_fibre_under_an_irregular_unit_keeps_its_call():
    cfg = rh.RhythmConfig()
    vol, fib = train(10.0, 0.2, 4.0, seed=1), 0.1 + np.arange(4) / 1.0  # 1 Hz: 4 discharges, 2 pairs in 4 s
    t = np.concatenate([vol, fib])
    h = np.concatenate([np.full(vol.size, 60.0), np.full(fib.size, 15.0)])
    order = np.argsort(t)
    assert rh.verdict(t[order], h[order], cfg) == rh.UNDECIDED


def test_a_train_that_has_just_turned_regular_is_not_withheld():
    # irregular spikes, then a regular fibre of the same size starts: its first intervals are the train's latest
    cfg = rh.RhythmConfig()
    t = np.concatenate([train(10.0, 0.3, 3.0, seed=2), 3.0 + np.arange(6) * 0.1])
    assert rh.verdict(t, strong(t), cfg) == rh.UNDECIDED


def test_several_regular_fibres_of_one_size_are_not_judged_irregular():
    # Four fibres at 3-13 Hz, each regular, merged into one train of one size: the merged
    # intervals are irregular, but their spread says several sources, not one unit.
    cfg = rh.RhythmConfig()
    t = np.sort(np.concatenate([train(r, 0.02, 4.0, seed=s) for s, r in enumerate((3.1, 5.3, 8.2, 12.7))]))
    assert rh.interval_spread(np.diff(t)) > cfg.single_train_spread
    assert rh.verdict(t, strong(t), cfg) != rh.IRREGULAR


def test_interval_spread_ignores_a_few_missed_discharges():
    t = train(10.0, 0.1, 8.0, seed=9)
    assert rh.interval_spread(np.diff(np.delete(t, [10, 30, 50]))) < 1.2 * rh.interval_spread(np.diff(t))


def test_potentials_faster_than_any_single_source_are_not_judged():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 4.0, 400))  # 100 per second: an interference pattern or an oscillation
    assert rh.verdict(t, strong(t), rh.RhythmConfig()) == rh.UNDECIDED


def test_size_groups_split_at_the_ratio():
    groups = rh.size_groups(np.array([10.0, 11.0, 30.0, 10.5, 33.0]), 1.25)
    assert [g.tolist() for g in groups] == [[0, 1, 3], [2, 4]]


def test_config_names_bad_values():
    with pytest.raises(ValueError, match="tolerance"):
        rh.RhythmConfig(tolerance=0.9)
    with pytest.raises(ValueError, match="band_lo_hz"):
        rh.RhythmConfig(band_lo_hz=900.0, band_hi_hz=800.0)


# -- detection ------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(st.sampled_from([0.1, 0.5, 2.0, 8.0]), st.booleans())
def test_detection_is_independent_of_scale_and_polarity(scale, invert):
    x = signal(train(9.0, 0.15, 3.0, seed=4), 3.0).astype(np.float64)
    t0, h0 = rh.detect(x, FS, rh.RhythmConfig())
    t1, h1 = rh.detect(x * scale * (-1 if invert else 1), FS, rh.RhythmConfig())
    assert t0.size >= 20
    np.testing.assert_allclose(t1, t0, atol=2 / FS)
    np.testing.assert_allclose(h1, h0, rtol=1e-6)


def test_detection_finds_each_potential_once():
    times = train(8.0, 0.01, 3.0, seed=5)
    t, _ = rh.detect(signal(times, 3.0).astype(np.float64), FS, rh.RhythmConfig())
    assert t.size == times.size
    assert np.max(np.abs(t - times)) < 3e-3


# -- the guard ------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=12), st.booleans())
def test_the_context_is_the_same_whatever_the_block_sizes(sizes, check_every_block):
    # Checked after every block, the held |band| is the whole signal's filtered at once; after
    # more than a context without a check, the held samples' filtered afresh.
    x = np.random.default_rng(1).integers(-3000, 3000, 40_000).astype(np.int16)
    g = rh.RhythmGuard(LABELS, PATH, FS, rh.RhythmConfig(context_s=1.0))
    sos = rh.band_sos(FS, rh.RhythmConfig())
    i = 0
    for n in sizes * 50:
        if i >= x.size:
            break
        g.samples(i, x[i:i + n])
        i += min(n, x.size - i)
        if check_every_block:
            g.context(i)
    if check_every_block or i <= FS:
        band = rh.band_filter(sos, x[:i])[0]
    else:
        band = np.concatenate([np.zeros(i - FS), rh.band_filter(sos, x[i - FS:i])[0]])
    np.testing.assert_allclose(g.context(i), band[max(0, i - FS):i], rtol=1e-4, atol=1e-2)
    if i > 100:  # an earlier end: the held samples before it
        np.testing.assert_allclose(g.context(i - 100), band[max(0, i - FS):i - 100], rtol=1e-4, atol=1e-2)


def test_the_guard_withholds_a_psw_call_on_an_irregular_unit_and_keeps_it_on_a_regular_train():
    probs = np.array([0.0, 0.02, 0.03, 0.9, 0.05])  # called positive sharp waves
    irregular = signal(train(10.0, 0.15, 4.0, seed=6), 4.0)
    regular = signal(train(6.0, 0.01, 4.0, seed=6, slowing=0.05), 4.0)
    for x, want in ((irregular, rh.IRREGULAR), (regular, rh.REGULAR)):
        g = rh.RhythmGuard(LABELS, PATH, FS)
        g.samples(0, x)
        assert g.check(probs, x.size) == want
    p = g.withhold(probs)
    assert p[[2, 3, 4]].sum() == 0  # the checked classes' mass goes to the normal ones
    assert p.sum() == pytest.approx(1.0) and np.argmax(p) == LABELS.index("voluntary_muap")
    # a call of a class that is not checked
    assert g.check(np.array([0.1, 0.8, 0.0, 0.0, 0.1]), x.size) == rh.UNDECIDED


def test_a_fasciculation_call_on_a_steady_voluntary_unit_is_withheld_and_kept_on_sparse_potentials():
    fasc = np.array([0.0, 0.1, 0.0, 0.0, 0.9])  # called fasciculation
    unit = signal(train(10.0, 0.15, 4.0, seed=6), 4.0)
    sparse = signal(np.array([0.4, 1.9, 2.3, 3.6]), 4.0, amp=800.0)  # fasciculation potentials, s apart
    for x, want in ((unit, rh.IRREGULAR), (sparse, rh.UNDECIDED)):
        g = rh.RhythmGuard(LABELS, PATH, FS)
        g.samples(0, x)
        assert g.check(fasc, x.size) == want


def test_a_bursting_train_does_not_contradict_a_fasciculation_call():
    # grouped discharges at 30-55 Hz inside bursts about three times a second (myokymic),
    # irregular from interval to interval: faster than a voluntary unit, so not a reason to withhold
    rng = np.random.default_rng(2)
    starts = np.cumsum(rng.uniform(0.25, 0.45, 12))
    times = np.concatenate([s + np.cumsum(np.r_[0.0, rng.uniform(0.018, 0.034, 3)]) for s in starts])
    times = np.sort(times[times < 3.95])
    x = signal(times, 4.0)
    t, h = rh.band_peaks(np.abs(rh.band_filter(rh.band_sos(FS, rh.RhythmConfig()), x.astype(float))[0]), FS,
                         rh.RhythmConfig())
    cfg = rh.RhythmConfig()
    assert rh.verdict(t, h, cfg, cfg.min_interval_ms) == rh.IRREGULAR  # what a regular-class call would face
    g = rh.RhythmGuard(LABELS, PATH, FS)
    g.samples(0, x)
    assert g.check(np.array([0.0, 0.1, 0.0, 0.0, 0.9]), x.size) == rh.UNDECIDED


def test_an_empty_block_changes_nothing():
    g = rh.RhythmGuard(LABELS, PATH, FS, rh.RhythmConfig(context_s=1.0))
    g.samples(0, np.arange(100, dtype=np.int16))
    before = g.context(100)
    g.samples(100, np.zeros(0, dtype=np.int16))
    np.testing.assert_array_equal(g.context(100), before)
    assert before.size == 100


def test_a_new_segment_forgets_the_signal():
    g = rh.RhythmGuard(LABELS, PATH, FS)
    g.samples(0, np.ones(1000, dtype=np.int16))
    g.samples(50_000, np.full(10, 7, dtype=np.int16))  # a jump in the stream index
    # only the new segment's 10 samples, its filter restarted in their steady state (no ringing)
    np.testing.assert_allclose(g.context(50_010), np.zeros(10), atol=1e-4)


class PSWClassifier:
    """Calls every window positive sharp waves."""

    def predict(self, window):
        return np.array([0.0, 0.0, 0.02, 0.98, 0.0])


def test_pipeline_counts_and_withholds_irregular_windows_unless_turned_off(tmp_path):
    from tests.edge.runtime_standins import EnergyFrontend, standin_bundle

    b = dataclasses.replace(standin_bundle(FS), labels=LABELS, pathological=frozenset(PATH))
    x = signal(train(10.0, 0.2, 12.0, seed=7), 12.0)
    alerts = {}
    for on in (True, False):
        pipe = Pipeline(b, PSWClassifier(), RuntimeConfig(rhythm_check=on), FS, frontend=EnergyFrontend(b.frontend_config))
        dets = []
        for i in range(0, x.size, 1000):
            dets += pipe.feed(SimpleNamespace(first_index=i, samples=x[i:i + 1000]))
        alerts[on] = dets
        if on:
            assert pipe.counters.irregular_windows >= 0.8 * pipe.counters.windows
        else:
            assert pipe.rhythm is None and pipe.counters.irregular_windows == 0
    assert alerts[True] == [] and [d.label for d in alerts[False]] == ["positive_sharp_wave"]


def test_toml_key_turns_the_check_off():
    assert RuntimeConfig.from_dict({"detector": {"rhythm_check": False}}).rhythm_check is False
    with pytest.raises(ValueError, match="rhythm_check"):
        RuntimeConfig(rhythm_check="yes")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([4000, 10_000, 44_100]), st.floats(0.0, 3.0))
def test_detection_equals_find_peaks_on_the_whole_band(seed, fs, spikes):
    # detect() zeroes samples below the threshold before find_peaks: the same peaks as the plain call
    from scipy.signal import butter, find_peaks, sosfilt, sosfilt_zi

    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 20.0, 2 * fs) + 40.0 * rng.standard_t(2, 2 * fs) * spikes
    cfg = rh.RhythmConfig()
    sos = butter(2, [cfg.band_lo_hz, min(cfg.band_hi_hz, 0.4 * fs)], btype="bandpass", fs=fs, output="sos")
    band = np.abs(sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])[0])
    sigma = np.median(band[::max(1, -(-band.size // cfg.sigma_samples))]) / 0.6745
    peaks, props = find_peaks(band, height=cfg.threshold_sigma * sigma, distance=max(1, round(cfg.dead_ms * 1e-3 * fs)))
    t, h = rh.detect(x, fs, cfg)
    np.testing.assert_array_equal(t, peaks / fs)
    np.testing.assert_allclose(h, props["peak_heights"] / sigma)
