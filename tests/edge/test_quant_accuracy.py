"""QEMG accuracy against the simulator's ground truth (issue 13 targets).

Simulated steady contractions (``convert.simulator.voluntary_truth``), concentric needle,
≤ 10 active units at 5–30 % effort, 10–44.1 kHz. Targets: ≥ 90 % of the units with ≥ 20
discharges found; per found unit ≥ 90 % of its discharges matched within ±0.5 ms (EMGLAB
convention); amplitude within 10 %, duration within 1.5 ms, firing rate within 0.5 Hz of
the truth. A target not met is a strict expected failure carrying the measured figure, and
what is met is held as a regression bound (``benchmarks/quant.py`` measures more seeds).
"""

from __future__ import annotations

import numpy as np
import pytest

from convert.simulator.voluntary_truth import render_voluntary_truth, score_units
from edge.quant import quantify

#: (seed, sample rate Hz, effort)
CASES = [(31, 10_000, 0.05), (32, 10_000, 0.2), (33, 20_000, 0.3), (34, 44_100, 0.1)]


@pytest.fixture(scope="module")
def scores():
    out = []
    for seed, fs, effort in CASES:
        tr = render_voluntary_truth(seed, effort=effort, duration_s=12.0, sample_rate=fs)
        assert len(tr.units) <= 10
        r = quantify(tr.pcm, fs, uv_per_lsb=tr.uv_per_lsb)
        out.extend(score_units(tr, r.units, min_discharges=20))
    return out


def _found(scores):
    return [s for s in scores if s.found_id is not None]


def test_units_found_regression_bound(scores):
    assert len(scores) >= 20
    assert len(_found(scores)) / len(scores) >= 0.85


#: Two of ``benchmarks/quant.py``'s recordings (10 kHz, 20 s) whose pools, before simulator
#: 1.7.0, held several units at a 300 µV floor with near-identical spikes (10 of 15 found then).
HARD_CASES = [(102, 10_000, 0.15), (108, 10_000, 0.1)]


def test_units_found_target():
    # Met since simulator 1.7.0 draws pool amplitudes truncated rather than clipped at 300 µV
    # (measured: 15 of 15 units found here; benchmark 75 of 79, 94.9 %; held-out 97.6 %).
    out = []
    for seed, fs, effort in HARD_CASES:
        tr = render_voluntary_truth(seed, effort=effort, duration_s=20.0, sample_rate=fs)
        out.extend(score_units(tr, quantify(tr.pcm, fs, uv_per_lsb=tr.uv_per_lsb).units, min_discharges=20))
    assert len(_found(out)) / len(out) >= 0.9


def test_amplitude_regression_bound(scores):
    errs = np.array([abs(s.amplitude_error) for s in _found(scores)])
    assert np.mean(errs <= 0.10) >= 0.9
    assert np.median(errs) <= 0.03


def test_amplitude_target(scores):
    # Met since fragments of one unit are joined on one alignment (measured: all 29 found units
    # within 5 %, median 1.3 %; benchmark 75 of 75 and held-out 163 of 163 within 10 %).
    assert all(abs(s.amplitude_error) <= 0.10 for s in _found(scores))


def test_discharges_regression_bound(scores):
    recall = np.array([s.recall for s in _found(scores)])
    # measured 0.92 and 72 % since the template fits the re-deal of two units of one shape
    # weighs are in each window's own noise variance (0.91 and 66 % in the band's; 0.90 and
    # 62 % before each member of a superimposed pair had its own fit, only single discharges; 0.89 and 62 % before the re-deal weighed the fits and could leave a discharge to
    # neither unit; 0.87 and 55 % before the slots a unit's rhythm leaves empty were searched
    # on the peel-off's residual; 0.85 and 48 % before fragments were joined through their
    # members' templates and two units of one shape re-dealt by their rhythms)
    assert np.mean(recall) >= 0.88
    assert np.mean(recall >= 0.9) >= 0.58


@pytest.mark.xfail(strict=True, reason="measured (simulator 1.7.0): mean 0.92 of discharges matched per found unit; "
                                        "72 % of found units reach 0.9 (benchmark 0.893 and 59 %, held-out 0.906 and "
                                        "66 %: similar units of one pool mixed between templates, close superpositions)")
def test_discharges_matched_target(scores):
    assert all(s.recall >= 0.9 for s in _found(scores))


def test_duration_and_rate_regression_bound(scores):
    f = _found(scores)
    assert np.median([abs(s.duration_error_ms) for s in f]) <= 1.6
    assert np.mean([abs(s.rate_error_hz) <= 0.5 for s in f]) >= 0.9
    assert np.median([abs(s.rate_error_hz) for s in f]) <= 0.15


@pytest.mark.xfail(strict=True, reason="measured (simulator 1.7.0): 48 % of found units within 1.5 ms, median "
                                        "error 1.6 ms (benchmark 44 %, 1.7 ms): the broad terminal phase decays "
                                        "slowly through the level, so the end moves with the template's residual "
                                        "background (4-9 uV); a perfect decomposition measured the same way reaches "
                                        "42 % (benchmarks/quant.py duration_within_1_5ms_perfect_decomposition)")
def test_duration_target(scores):
    assert all(abs(s.duration_error_ms) <= 1.5 for s in _found(scores))


@pytest.mark.xfail(strict=True, reason="measured (simulator 1.7.0): 27 of 29 found units within 0.5 Hz, median "
                                        "error 0.04 Hz; two units off by 0.93 and 0.59 Hz (0.81 and 0.59 of their "
                                        "discharges matched; benchmark 97.3 %, held-out 96.9 %)")
def test_rate_target(scores):
    assert all(abs(s.rate_error_hz) <= 0.5 for s in _found(scores))


def test_refine_option_on_the_former_hard_cases():
    """The opt-in refinement (each found unit's own template, DecomposeConfig.refine; not the
    default because of the PhysioNet orderings, README QEMG) was made for units of one pool
    that the learned templates mix. Simulator 1.7.0's pools no longer pile units up at one
    amplitude, and on these recordings it now finds one unit fewer and matches about as many
    discharges per found unit (measured: 14 of 15 units, mean 0.933, against 15 and 0.939; on
    earlier versions: 14 and 0.918 against 15 and 0.927, 14 and 0.915 against 15 and 0.911, 14 and 0.892 against 15 and 0.898,
    12 and 0.83 against 12 and 0.77).
    Held as a regression bound on the option."""
    from edge.quant.decompose import DecomposeConfig
    from edge.quant.quantify import QuantConfig

    refine = QuantConfig(decompose=DecomposeConfig(refine=True, join_residual=0.03, join_noise=1.0))
    found = {"default": [], "refine": []}
    for seed, fs, effort in HARD_CASES:
        tr = render_voluntary_truth(seed, effort=effort, duration_s=12.0, sample_rate=fs)
        for name, kw in (("default", {}), ("refine", {"config": refine})):
            r = quantify(tr.pcm, fs, uv_per_lsb=tr.uv_per_lsb, **kw)
            found[name] += [s for s in score_units(tr, r.units, min_discharges=20) if s.found_id is not None]
    assert len(found["refine"]) >= len(found["default"]) - 1
    assert np.mean([s.recall for s in found["refine"]]) >= np.mean([s.recall for s in found["default"]]) - 0.02
