"""The peel-off's per-discharge template fit (``edge.quant.decompose.Peeler.fits``): what the
shape alone says about every discharge that one template explained, and about each member of
a superimposed pair with the other member taken out, for the re-deal of two units of one shape
(``edge.quant.gaps.separate``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.quant.chunks import Window
from edge.quant.decompose import DecomposeConfig, Peeler

FS = 10_000.0
CFG = DecomposeConfig()
H = CFG.samples(FS)[0]


def _shape(width: float, sign: float = 1.0, scale: float = 1.0) -> np.ndarray:
    t = np.arange(-H, H + 1, dtype=np.float64)
    return scale * sign * -t * np.exp(-(t / width) ** 2)


def _peel(T: np.ndarray, at: list[int], which: list[int], sigma: float, seed: int) -> Peeler:
    rng = np.random.default_rng(seed)
    d = sigma * rng.standard_normal(max(at) + 4 * H + 50)
    for a, m in zip(at, which):
        d[a - H:a + H + 1] += T[m]
    peeler = Peeler(T, 5.0 * sigma, CFG, FS)
    peeler.process(Window(start=0, display=d.copy(), detect=d, lo=0, hi=len(d)))
    return peeler


def test_each_single_fit_prefers_its_own_template_by_the_shapes_difference():
    T = np.stack([_shape(2.0, scale=20.0), _shape(2.0, scale=20.0) * 1.3, _shape(4.0, -1.0, 20.0)])
    at = [200 + 300 * i for i in range(12)]
    which = [i % 3 for i in range(12)]
    peeler = _peel(T, at, which, 1.0, 0)
    idx, z = peeler.fits()
    assert np.array_equal(idx, np.sort(idx)) and z.shape == (len(idx), 3) and z.dtype == np.float16
    assert np.array_equal(idx, np.asarray(at))
    for row, m in zip(z, which):
        assert row[m] == 0.0 and np.all(row >= 0)
        # another template leaves at most |T_m − T_o|² more residual, in noise variances (σ = 1;
        # less at its own best shift), and more than the noise; two templates of one shape
        # (0 and 1: 1.3 ×, no shift helps) leave about that, divided by the window's own noise
        # variance (the best fit's residual per sample: at least σ², over 31 samples of white
        # noise within ~1.5 σ² at 2 SD)
        for o in range(3):
            if o != m:
                gap = float(np.sum((T[m] - T[o]) ** 2))
                assert 20.0 < row[o] < 1.1 * gap + 50.0
                if {m, o} == {0, 1}:
                    assert row[o] > 0.55 * gap


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.floats(0.5, 3.0))
def test_fits_are_the_single_discharges_each_once_with_a_zero_at_the_best_template(seed, n_templates, sigma):
    rng = np.random.default_rng(seed)
    T = np.stack([_shape(1.5 + i, (-1.0) ** i, 15.0 + 5 * i) for i in range(n_templates)])
    gaps = rng.integers(2 * H + 2, 8 * H, 15)
    at = (100 + np.cumsum(gaps)).tolist()
    which = rng.integers(0, n_templates, len(at)).tolist()
    peeler = _peel(T, at, which, sigma, seed)
    idx, z = peeler.fits()
    recorded = np.concatenate([np.asarray(u, dtype=np.int64) for u in peeler.units])
    assert len(idx) == len(np.unique(idx)) and np.isin(idx, recorded).all()
    assert np.all(np.isfinite(z.astype(np.float64))) and np.all(z >= 0)
    assert np.allclose(z.min(axis=1), 0.0)


def test_each_member_of_a_superimposed_pair_has_its_fit_with_the_other_member_taken_out():
    T = np.stack([_shape(2.0, scale=20.0), _shape(2.0, scale=20.0) * 1.3, _shape(4.0, -1.0, 20.0)])
    lag = H // 2 + 2  # the two potentials overlap: no single template explains them
    at, which = [], []
    for i in range(6):
        a = 300 + 400 * i
        at += [a, a + lag]
        which += [0 if i % 2 else 1, 2]
    peeler = _peel(T, at, which, 1.0, 3)
    idx, z = peeler.fits()
    assert np.array_equal(idx, np.sort(idx))
    got = dict(zip(idx.tolist(), z.astype(np.float64)))
    found = 0
    for a, m in zip(at, which):
        row = next((got[g] for g in (a - 1, a, a + 1) if g in got), None)
        if row is None:
            continue
        found += 1
        assert row[m] == 0.0
        for o in range(3):
            if o != m:
                assert row[o] > 20.0  # the other member no longer masks the difference
    assert found >= 10  # nearly every member of every pair (a candidate may be matched at ±1 sample)
    # without the pair members (``DecomposeConfig.pair_fits=False``) the superpositions leave no fit
    off = Peeler(T, 5.0, DecomposeConfig(pair_fits=False), FS)
    rng = np.random.default_rng(3)
    d = rng.standard_normal(max(at) + 4 * H + 50)
    for a, m in zip(at, which):
        d[a - H:a + H + 1] += T[m]
    off.process(Window(start=0, display=d.copy(), detect=d, lo=0, hi=len(d)))
    assert len(off.fits()[0]) < len(idx)


def test_a_busy_window_makes_the_same_shape_difference_count_less():
    # the fit is in the window's own noise variances (the best fit's residual per sample, at
    # least the band's σ²): among other potentials the same difference is weaker evidence
    T = np.stack([_shape(2.0, scale=40.0), _shape(2.0, scale=40.0) * 1.3])
    at = [300 + 300 * i for i in range(12)]
    rng = np.random.default_rng(5)
    d = rng.standard_normal(max(at) + 4 * H + 50)
    busy = at[1::2]
    for a in at:
        d[a - H:a + H + 1] += T[0]
    for a in busy:  # a local background 3 × the band's noise
        d[a - 2 * H:a + 2 * H + 1] += 3.0 * rng.standard_normal(4 * H + 1)
    peeler = Peeler(T, 5.0, CFG, FS)
    peeler.process(Window(start=0, display=d.copy(), detect=d, lo=0, hi=len(d)))
    idx, z = peeler.fits()
    got = dict(zip(idx.tolist(), z[:, 1].astype(np.float64)))
    quiet = [got[a] for a in at[0::2] if a in got]
    loud = [got[a] for a in busy if a in got]
    assert len(quiet) >= 5 and len(loud) >= 5
    gap = float(np.sum((T[0] - T[1]) ** 2))
    assert 0.7 * gap < np.median(quiet) < 1.1 * gap + 50.0
    assert np.median(loud) < 0.3 * np.median(quiet)  # ~1/10: the residual per sample is ~10 σ²


def test_no_discharge_no_fits():
    T = np.stack([_shape(2.0, scale=20.0)])
    peeler = Peeler(T, 5.0, CFG, FS)
    idx, z = peeler.fits()
    assert idx.shape == (0,) and z.shape == (0, 1)
