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


def test_spectrum_within_6_db(result):
    # 1.3.0 was 6-14 dB short between 0.6 and 2 kHz (RE §1.1), 1.4.0 7-9 dB over; 1.5.0's
    # thicker MUAPs (TA area/amplitude) and denser distant background bring it inside ±6 dB.
    assert [b for b in R.check(result) if b.startswith("octave")] == []


@pytest.mark.xfail(strict=True, reason="generator 1.7.0: median turns/s ~210 (real 103-190) and swings ~385 uV "
                   "(real 196-328): its efforts span 1-40 % MVC and its pools the TA control amplitudes, the "
                   "record is one gentle contraction with smaller units (benchmarks/results/realism.json)")
def test_turns_amplitude_cloud(result):
    assert [b for b in R.check(result) if b.startswith("sim median")] == []


def test_qemg_measures_of_simulated_units_as_the_real_records(result):
    """(d): the kit's QEMG on the same 4 kHz signals finds units in both, and the simulated
    ones measure as normal MUAPs do (a single MUAP 2–15 ms, Aminoff, CW §2; mostly 2–4
    phases), with amplitudes within 2× of the real record's (measured here, 4 seeds × 8 s,
    simulator 1.7.0: 447 µV, 12.45 ms, 2 phases, 38 units against 233 µV, 6.15 ms, 2 phases,
    10 units: 1.92×; the benchmark's 6 seeds × 10 s give 473 µV, 2.03×)."""
    r, s = result["real"]["qemg"], result["sim"]["qemg"]
    assert r["units"] >= 3 and s["units"] >= 10, (r, s)
    assert 2.0 <= s["duration_ms_median"] <= 15.0 and s["phases_median"] <= 4, s
    assert 0.5 <= s["amplitude_uv_median"] / r["amplitude_uv_median"] <= 2.0, (r, s)


@pytest.mark.xfail(strict=True, reason="generator 1.7.0: simulated units measure 12.5 ms median against the "
                   "record's 6.15 ms (benchmarks/results/realism.json): its terminal phases are long (docs/QEMG.md)")
def test_qemg_durations_within_2x_of_the_real_record(result):
    r, s = result["real"]["qemg"], result["sim"]["qemg"]
    assert 0.5 <= s["duration_ms_median"] / r["duration_ms_median"] <= 2.0, (r, s)
