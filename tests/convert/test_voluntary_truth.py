"""Ground truth of simulated voluntary recordings (convert.simulator.voluntary_truth)."""

from __future__ import annotations

import numpy as np
import pytest

from convert.simulator import simulate_clip
from convert.simulator.voluntary_truth import UnitScore, render_voluntary_truth, score_units, true_template, unit_purity
from edge.quant.units import template_measures


@pytest.fixture(scope="module")
def rec():
    return render_voluntary_truth(7, effort=0.15, duration_s=4.0, sample_rate=10_000)


def test_deterministic_and_int16(rec):
    again = render_voluntary_truth(7, effort=0.15, duration_s=4.0, sample_rate=10_000)
    np.testing.assert_array_equal(rec.pcm, again.pcm)
    assert rec.pcm.dtype == np.int16 and len(rec.pcm) == 40_000
    assert [u.discharge_times_s for u in rec.units] == [u.discharge_times_s for u in again.units]


@pytest.mark.parametrize("effort, lo, hi", [(0.05, 3, 8), (0.3, 7, 10)])
def test_active_units_with_effort(effort, lo, hi):
    r = render_voluntary_truth(3, effort=effort, duration_s=3.0, sample_rate=10_000)
    assert lo <= len(r.units) <= hi  # ≤ 10 active units from 5 to 30 % MVC


def test_truth_measures_use_the_measuring_criteria(rec):
    for u in rec.units:
        m = template_measures(u.template_uv, rec.sample_rate)
        assert (u.amplitude_uv, u.duration_ms, u.phases, u.turns) == (m.amplitude_uv, m.duration_ms, m.phases,
                                                                      m.turns)
        assert 200.0 <= u.amplitude_uv <= 4000.0  # concentric pool (RE §2: 300 µV–3 mV, before band-pass)
        if u.n_discharges >= 10:
            assert 6.0 <= u.firing_rate_hz <= 20.0
            assert 0.05 <= u.isi_cv <= 0.4


def test_discharge_times_are_template_peaks():
    """At an isolated discharge the recording shows the unit's largest deflection. Isolated:
    no other unit within 10 ms, since the pool's potentials last up to ~16 ms (a neighbour 5 ms
    away still adds its tail); a gentle contraction so that enough discharges are isolated."""
    rec = render_voluntary_truth(7, effort=0.05, duration_s=12.0, sample_rate=10_000)
    x = rec.signal_uv
    fs = rec.sample_rate
    every = np.sort(np.concatenate([u.discharge_times_s for u in rec.units]))
    u = max(rec.units, key=lambda v: v.amplitude_uv)
    peak = float(u.template_uv[np.argmax(np.abs(u.template_uv))])
    checked = 0
    for t in u.discharge_times_s:
        if np.sort(np.abs(every - t))[1] < 0.010:  # another unit within 10 ms
            continue
        i = int(round(t * fs))
        seg = x[i - 3:i + 4]
        j = int(np.argmax(np.abs(seg)))
        assert abs(j - 3) <= 1
        assert seg[j] == pytest.approx(peak, rel=0.25)
        checked += 1
    assert checked >= 5


def test_template_peak_shift_of_band_pass(rec):
    tmpl, shift = true_template(rec.subject, 0, rec.sample_rate)
    assert 0 <= shift <= 3  # the causal band-pass delays the peak by < 0.3 ms at 10 kHz


def test_existing_simulator_output_unchanged():
    """Rendering truth does not touch the simulator's streams for existing seeds."""
    before = simulate_clip("voluntary_muap", 1.0, 10_000, 5).pcm
    render_voluntary_truth(5, effort=0.1, duration_s=1.0)
    np.testing.assert_array_equal(simulate_clip("voluntary_muap", 1.0, 10_000, 5).pcm, before)


def test_score_units_on_the_truth_itself(rec):
    class Found:  # the truth, as if decomposed perfectly
        def __init__(self, u, i):
            self.id, self.discharge_times_s = i, u.discharge_times_s
            self.amplitude_uv, self.duration_ms, self.firing_rate_hz = u.amplitude_uv, u.duration_ms, u.firing_rate_hz

    scores = score_units(rec, [Found(u, i) for i, u in enumerate(rec.units)], min_discharges=20)
    assert scores and all(isinstance(s, UnitScore) for s in scores)
    assert all(s.recall == 1.0 and s.agreement == 1.0 and s.amplitude_error == 0.0 for s in scores)
    assert all(s.found_id is None for s in score_units(rec, [], min_discharges=20))


def test_unit_purity_tells_one_unit_from_a_mixture_and_from_none(rec):
    class Train:
        def __init__(self, times):
            self.discharge_times_s = tuple(np.sort(times))

    a, b = (np.asarray(u.discharge_times_s) for u in sorted(rec.units, key=lambda u: -u.n_discharges)[:2])
    mixture = np.concatenate([a[::2], b[1::2]])  # half of each, as a template dealt two units
    off = a + 0.004  # every discharge 4 ms late: no unit's
    own, mix, none_ = unit_purity(rec, [Train(a), Train(mixture), Train(off)])
    assert own == 1.0
    assert 0.4 <= mix <= 0.6
    assert none_ < 0.1
    assert unit_purity(rec, [Train([])]) == [0.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="effort"):
        render_voluntary_truth(1, effort=2.0)
    with pytest.raises(ValueError, match="sample_rate"):
        render_voluntary_truth(1, sample_rate=1000)
