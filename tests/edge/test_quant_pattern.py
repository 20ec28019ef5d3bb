"""Rule-based pattern summary: every branch on constructed measure sets, wording, monotonicity."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.quant.measures import RecordingMeasures, UnitMeasures
from edge.quant.pattern import (INDETERMINATE, MYOPATHIC, NEUROGENIC, NOT_A_DIAGNOSIS, WITHIN_LIMITS, PatternConfig,
                                pattern, recording_means)


def unit(i, amp=660.0, dur=9.3, phases=3, rate=10.0, turns=3):
    return UnitMeasures(id=i, n_discharges=40, firing_rate_hz=rate, isi_cv=0.15, amplitude_uv=amp, duration_ms=dur,
                        phases=phases, turns=turns, area_uv_ms=amp * dur * 0.15, thickness_ms=dur * 0.15,
                        satellites=0)


def rec(units, recruitment_hz=11.0, reason=None):
    return RecordingMeasures(units=list(units), recruitment_hz=recruitment_hz, reason=reason, sample_rate_hz=44100.0,
                             duration_s=10.0)


def normal(n=5, **kw):
    return rec([unit(i, **kw) for i in range(n)])


def test_normal_units_are_within_limits_with_the_wording():
    s = pattern(normal(), muscle="TA")
    assert s.label == WITHIN_LIMITS
    assert s.note == NOT_A_DIAGNOSIS and "not a diagnosis" in s.note
    assert any("mean duration" in d for d in s.drivers)
    assert s.reference.muscle == "tibialis_anterior"
    assert json.loads(json.dumps(s.to_dict()))["label"] == WITHIN_LIMITS


def test_a_low_analysis_rate_is_a_caveat_not_a_decision():
    """Recorded below 10 kHz, amplitudes measure small (docs/QEMG.md): the summary says so and
    decides as it would at 44.1 kHz."""
    high = pattern(normal(), muscle="TA")
    low = pattern(dataclasses.replace(normal(), sample_rate_hz=10_000.0, input_rate_hz=4000.0), muscle="TA")
    assert high.caveats == () and high.to_dict()["caveats"] == []
    assert len(low.caveats) == 1 and "4 kHz" in low.caveats[0] and "amplitude" in low.caveats[0]
    assert (low.label, low.drivers, low.reason) == (high.label, high.drivers, high.reason)


def test_long_large_polyphasic_units_with_reduced_recruitment_look_neurogenic():
    units = [unit(i, amp=2000.0, dur=15.0, phases=6, rate=22.0) for i in range(4)]
    s = pattern(rec(units, recruitment_hz=24.0), muscle="TA")
    assert s.label == NEUROGENIC
    text = " ".join(s.drivers)
    for what in ("mean duration", "mean amplitude", "recruitment frequency", "polyphasic"):
        assert what in text
    assert "> ULN 11.2 ms" in text


def test_long_duration_alone_is_enough_but_large_amplitude_alone_is_not():
    assert pattern(normal(dur=13.0), muscle="TA").label == NEUROGENIC
    s = pattern(normal(amp=1000.0), muscle="TA")
    assert s.label == INDETERMINATE and "single finding" in s.reason and "mean amplitude" in s.reason


def test_large_amplitude_with_polyphasia_looks_neurogenic():
    assert pattern(normal(amp=1000.0, phases=6), muscle="TA").label == NEUROGENIC


def test_short_small_units_recruited_early_look_myopathic():
    units = [unit(i, amp=300.0, dur=5.0, phases=6, rate=6.0) for i in range(8)]
    s = pattern(rec(units, recruitment_hz=6.0), muscle="TA")
    assert s.label == MYOPATHIC
    text = " ".join(s.drivers)
    assert "< LLN 7.49 ms" in text and "recruitment frequency" in text and "mean amplitude" in text


def test_early_recruitment_with_small_amplitude_looks_myopathic_without_duration():
    assert pattern(rec([unit(i, amp=400.0) for i in range(5)], recruitment_hz=6.5), muscle="TA").label == MYOPATHIC


def test_mixed_signs_are_indeterminate():
    s = pattern(rec([unit(i, amp=1200.0, dur=6.0) for i in range(5)]), muscle="TA")
    assert s.label == INDETERMINATE and "mixed" in s.reason


def test_polyphasia_alone_is_reported_but_not_a_pattern():
    s = pattern(normal(phases=6), muscle="TA")
    assert s.label == WITHIN_LIMITS and "polyphasia alone" in s.reason
    assert any("polyphasic units 100 %" in d for d in s.drivers)


def test_fastest_rate_is_reported_but_decides_nothing():
    units = [unit(i, rate=25.0) for i in range(3)]
    for r in (None, 11.0):
        s = pattern(rec(units, recruitment_hz=r), muscle="TA")
        assert s.label == WITHIN_LIMITS
        fast = next(f for f in s.findings if f.measure == "max_firing_hz")
        assert fast.status == "high" and fast.points_to is None and "> ULN 15 Hz" in fast.text


def test_reduced_recruitment_counts_toward_neurogenic():
    assert pattern(rec([unit(i, amp=1000.0) for i in range(4)], recruitment_hz=22.0), muscle="TA").label == NEUROGENIC


def test_too_few_units_or_empty_result_is_indeterminate_with_the_reason():
    s = pattern(normal(n=2), muscle="TA")
    assert s.label == INDETERMINATE and "2 motor units found" in s.reason and s.n_units == 2
    e = pattern(rec([], recruitment_hz=None, reason="no voluntary activity"))
    assert e.label == INDETERMINATE and e.reason == "no voluntary activity" and e.note == NOT_A_DIAGNOSIS
    assert pattern(rec([], recruitment_hz=None)).reason == "no motor units found"


def test_unspecified_muscle_uses_the_wide_limits():
    # 12 ms is long for TA (ULN 11.2) but within the wide generic limits (ULN 12.14)
    assert pattern(normal(dur=12.0), muscle="TA").label == NEUROGENIC
    assert pattern(normal(dur=12.0)).label == WITHIN_LIMITS


def test_unknown_muscle_and_bad_config_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown muscle 'biceps'"):
        pattern(normal(), muscle="biceps")
    with pytest.raises(ValueError, match="min_units = 1"):
        PatternConfig(min_units=1)


def test_means():
    m = recording_means(rec([unit(0, amp=100.0, phases=5, rate=8.0), unit(1, amp=300.0, rate=12.0)]))
    assert m["amplitude_uv"] == 200.0 and m["polyphasic_pct"] == 50.0 and m["max_firing_hz"] == 12.0


unit_sets = st.lists(
    st.tuples(st.floats(100.0, 4000.0), st.floats(3.0, 20.0), st.integers(2, 8), st.floats(4.0, 30.0)),
    min_size=0, max_size=10)
recruitments = st.one_of(st.none(), st.floats(4.0, 30.0))


def build(spec, recruitment_hz):
    return rec([unit(i, amp=a, dur=d, phases=p, rate=r) for i, (a, d, p, r) in enumerate(spec)], recruitment_hz)


def scaled(m, amp=1.0, dur=1.0):
    return dataclasses.replace(m, units=[dataclasses.replace(u, amplitude_uv=u.amplitude_uv * amp,
                                                             duration_ms=u.duration_ms * dur) for u in m.units])


#: direction → (scale range, the call it must never produce from a normal or its own call)
_DIRECTIONS = {"larger": ((1.0, 5.0), NEUROGENIC, MYOPATHIC), "smaller": ((0.2, 1.0), MYOPATHIC, NEUROGENIC)}


@pytest.mark.parametrize("direction", list(_DIRECTIONS))
@settings(max_examples=200, deadline=None)
@given(data=st.data(), spec=unit_sets, recruitment_hz=recruitments, muscle=st.sampled_from(["TA", None]))
def test_scaling_units_never_turns_a_call_the_other_way(direction, data, spec, recruitment_hz, muscle):
    """Larger or longer units never make a call myopathic; smaller or shorter never neurogenic."""
    (lo, hi), keeps, never = _DIRECTIONS[direction]
    k = data.draw(st.floats(lo, hi))
    m = build(spec, recruitment_hz)
    before = pattern(m, muscle).label
    for after in (pattern(scaled(m, amp=k), muscle).label, pattern(scaled(m, dur=k), muscle).label):
        if before in (keeps, WITHIN_LIMITS):
            assert after != never
        if before == keeps:
            assert after == keeps


@settings(max_examples=100, deadline=None)
@given(unit_sets, recruitments)
def test_every_summary_is_a_known_label_with_the_wording(spec, recruitment_hz):
    s = pattern(build(spec, recruitment_hz))
    assert s.label in (WITHIN_LIMITS, NEUROGENIC, MYOPATHIC, INDETERMINATE)
    assert s.note == NOT_A_DIAGNOSIS
    assert (s.reason is not None) or s.label in (NEUROGENIC, MYOPATHIC)
    json.dumps(s.to_dict())
