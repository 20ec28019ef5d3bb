"""Realism check (convert.realism): simulated normal voluntary activity vs the PhysioNet
emg_healthy record (tests/data/physionet-emgdb, ODC-By, see the README there). Tolerances and
their reasons are in convert/realism.py's docstring."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert import realism as R

DATA = Path(__file__).resolve().parents[1] / "data" / "physionet-emgdb"


@pytest.fixture(scope="module")
def result():
    real = R.load_physionet(DATA / "emg_healthy")
    return R.compare(real, R.simulated_voluntary(range(4), 8.0))


def test_baseline_during_contraction_never_quiet(result):
    assert result["sim"]["rms20ms_p10_uv"] >= 15.0, result["sim"]  # > any needle-noise floor (CW §2)


def test_amplitude_percentiles_same_order(result):
    r, s = result["real"], result["sim"]
    for k in ("abs_p50_uv", "abs_p90_uv", "abs_p99_uv"):
        assert 0.5 <= s[k] / r[k] <= 2.0, (k, r[k], s[k])


@pytest.mark.xfail(strict=False, reason="generator 1.4.0 (coherent near fibres) still overshoots: 0.4-1.6 kHz ~7-9 dB "
                   "above the real record re band 0, median turns/s 210 (real 103-190) with larger swings "
                   "(436 uV, real 196-328) (benchmarks/results/realism.json); not met yet")
def test_full_tolerances(result):
    assert R.check(result) == []
