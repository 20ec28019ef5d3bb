"""``quantify`` on arbitrary input (hypothesis): whatever the signal, rate and calibration, it
returns a result and never raises (issue 13: bad input gives an empty result with a reason,
never a crash), and what it reports is self-consistent: a reason exactly when no unit is
reported, units in recruitment order, discharge times sorted and inside the recording, a
rate and amplitude in the ranges a unit is reported for, and a JSON document that
serialises."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.quant import QuantConfig, quantify

CFG = QuantConfig()

#: rates a recording chain delivers (RE §3) and odd ones (the analysis interpolates integer
#: rates below 10 kHz; a non-integer rate is analysed as it is)
RATES = st.one_of(st.sampled_from([4000, 8000, 10_000, 20_000, 44_100, 48_000]),
                  st.integers(2000, 50_000), st.floats(2000.0, 50_000.0))


@st.composite
def signals(draw):
    """(samples, rate Hz, µV per LSB): noise, hum, steps, spike trains at random rates and
    amplitudes, silence and rail-to-rail bursts, mixed; int16 codes or float µV."""
    fs = draw(RATES)
    seconds = max(0.0, draw(st.floats(-0.5, 4.0)))  # a third too short to analyse (< 1 s) or empty
    n = int(seconds * fs)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.zeros(n)
    t = np.arange(n) / fs
    kinds = ["noise", "spikes", "spikes", "noise", "hum", "step", "silence", "burst"]  # bursts clip: rarer
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=0, max_size=5)):
        if n == 0:
            break
        if kind == "noise":
            x += rng.normal(0.0, draw(st.floats(0.1, 2000.0)), n)
        elif kind == "hum":
            x += draw(st.floats(0.0, 5000.0)) * np.sin(2 * np.pi * draw(st.floats(1.0, 400.0)) * t)
        elif kind == "step":
            x[rng.integers(n):] += draw(st.floats(-20_000.0, 20_000.0))
        elif kind == "spikes":
            rate = draw(st.floats(2.0, 60.0))
            amp = draw(st.floats(10.0, 5000.0))
            width = max(1, int(fs * draw(st.floats(0.0002, 0.005))))
            shape = amp * np.diff(np.hanning(width + 2))[: width] * width / 2  # biphasic
            at = np.cumsum(rng.normal(1.0 / rate, draw(st.floats(0.0, 0.5)) / rate, int(seconds * rate) + 1))
            for g in (at[(at > 0) & (at < seconds)] * fs).astype(int):
                seg = x[g:g + width]
                seg += shape[: len(seg)]
        elif kind == "burst":
            a = int(rng.integers(n))
            x[a:a + int(rng.integers(1, max(2, n // 4)))] = draw(st.sampled_from([32767.0, -32768.0]))
        else:
            a = int(rng.integers(n))
            x[a:a + int(rng.integers(1, max(2, n // 2)))] = 0.0
    uv = draw(st.sampled_from([0.5, 1.0, 2.0, 0.1]))
    if draw(st.booleans()):
        return np.clip(np.rint(x / uv), -32768, 32767).astype(np.int16), fs, uv
    return x, fs, 1.0


@st.composite
def pools(draw):
    """(samples µV, rate Hz, 1.0): 2–4 s of 1–6 spike trains of distinct shapes (a scaled,
    stretched and possibly inverted triphasic wave) firing at 4–25 Hz with interval CV
    0.02–0.4 over 2–40 µV of noise: input that reaches the decomposition and the measures."""
    fs = draw(st.sampled_from([4000, 10_000, 20_000, 44_100]))
    seconds = draw(st.floats(2.0, 4.0))
    n = int(seconds * fs)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(0.0, draw(st.floats(2.0, 40.0)), n)
    for _ in range(draw(st.integers(1, 6))):
        width = max(3, int(fs * draw(st.floats(0.002, 0.012))))
        u = np.linspace(-3.0, 3.0, width)
        shape = np.diff(np.exp(-u**2), 2, append=[0, 0])
        shape *= draw(st.floats(100.0, 3000.0)) * draw(st.sampled_from([1.0, -1.0])) / np.abs(shape).max()
        rate, cv = draw(st.floats(4.0, 25.0)), draw(st.floats(0.02, 0.4))
        at = np.cumsum(np.abs(rng.normal(1.0 / rate, cv / rate, int(seconds * rate) + 2)))
        for g in (at[at < seconds] * fs).astype(int):
            seg = x[g:g + width]
            seg += shape[: len(seg)]
    return x, fs, 1.0


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(signals())
def test_any_signal_gives_a_consistent_result(sig):
    _check(*sig)


@SETTINGS
@given(pools())
def test_spike_trains_give_a_consistent_result(sig):
    _check(*sig)


def _check(x: np.ndarray, fs: float, uv: float) -> None:
    r = quantify(x, fs, uv_per_lsb=uv, muscle="tibialis_anterior")
    units = r.units
    dur = len(x) / fs
    # a reason exactly when nothing is reported
    assert (r.measures.reason is None) == bool(units), r.measures.reason
    firsts = [u.discharge_times_s[0] for u in units]
    assert firsts == sorted(firsts)  # recruitment order
    lo, hi = CFG.rate_range_hz
    for i, u in enumerate(units):
        assert u.id == i
        t = np.asarray(u.discharge_times_s)
        assert len(t) == u.n_discharges >= CFG.min_discharges
        assert np.all(np.diff(t) > 0)
        # times are the template's peak, inside the recording
        assert t[0] >= 0.0 and t[-1] <= dur
        assert lo <= u.firing_rate_hz <= hi
        assert CFG.min_isi_cv <= u.isi_cv
        assert u.amplitude_uv >= CFG.min_amplitude_uv and np.isfinite(u.amplitude_uv)
        assert 0.0 < u.duration_ms <= CFG.pre_ms + CFG.post_ms
        assert u.phases >= 1 and u.turns >= 0 and u.area_uv_ms >= 0.0
    json.dumps(r.to_json())  # finite numbers and plain types throughout
