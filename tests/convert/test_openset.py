"""Calibration of the open-set guard (convert.openset) on windows with a known distribution."""

import numpy as np
import pytest

from convert.openset import fit_open_set, guard_cost

LABELS = ("rest", "voluntary_muap", "fibrillation")
PATH = ("fibrillation",)


def _windows(rng, n, level_db, tilt_db=0.0):
    bands = np.linspace(0.0, tilt_db, 64)
    lv = level_db + rng.normal(0.0, 2.0, (n, 1, 1)) + bands[None, None, :]
    return np.round((lv + rng.standard_normal((n, 50, 64))) * 64).astype(np.int16)


def test_fitted_guard_keeps_held_out_in_distribution_and_withholds_unlike_windows():
    rng = np.random.default_rng(0)
    Xtr = np.concatenate([_windows(rng, 400, 30.0), _windows(rng, 200, 10.0)])
    ytr = np.r_[np.full(400, 2), np.full(200, 0)]
    Xva = _windows(rng, 300, 30.0)
    yva = np.full(300, 2)
    pva = np.tile([0.02, 0.03, 0.95], (300, 1))
    g = fit_open_set(Xtr, ytr, Xva, yva, pva, LABELS, PATH)
    assert g.min_confidence == pytest.approx(0.5)  # capped
    Xte = _windows(rng, 500, 30.0)
    pte = np.tile([0.02, 0.03, 0.95], (500, 1))
    cost = guard_cost(g, Xte, np.full(500, 2), pte, LABELS, PATH)
    assert cost["pathological_hits"] == 500
    assert cost["recall_cost"] <= 0.02  # calibrated at the 99.5 % quantile
    # Windows unlike any fibrillation in training (a +20 dB tilt across the bands), called
    # fibrillation by the model: withheld.
    Xodd = _windows(rng, 200, 30.0, tilt_db=20.0)
    odd = guard_cost(g, Xodd, np.full(200, 1), np.tile([0.02, 0.03, 0.95], (200, 1)), LABELS, PATH)
    assert odd["normal_called_pathological"] == 200
    assert odd["normal_called_pathological_withheld"] >= 195


def test_fit_refuses_bad_quantiles():
    z = np.zeros((1, 50, 64), np.int16)
    with pytest.raises(ValueError, match="quantile"):
        fit_open_set(z, np.zeros(1, int), z, np.zeros(1, int), np.ones((1, 3)) / 3, LABELS, PATH, quantile=0.3)
