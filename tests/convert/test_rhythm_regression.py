"""A real false alarm, kept as a regression: a lone voluntary unit called positive sharp waves.

A single voluntary unit firing at about 10 Hz (interval CV about 12 %, 350 µV) through a
10 kHz recording chain with a 4.3 kHz low-pass and −5.3 dB of gain error is called positive
sharp waves by the shipped model on most of its windows, and raised a PSW alert (confidence
0.98) through ``emg-edge run``. Positive sharp waves fire regularly; this unit does not. The
rhythm check (``edge.runtime.rhythm``) withholds those calls. The recording is the simulator's
held-out test clip (seed 300058) through the drawn chain that showed the alarm.
"""

from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture(scope="module")
def lone_unit():
    from convert.chain import Chain, apply_chain
    from convert.simulator import simulate_clip

    chain = Chain(seed=900058, sample_rate=10000, highpass_hz=8.1996, highpass_order=1, lowpass_hz=4301.321,
                  lowpass_order=4, lowpass_clamped_from_hz=None, gain_error_db=-5.2995, inverted=False,
                  mains_hz=50.0, hum_uv=0.0, hum_harmonics=(0.08762, 0.10639, 0.04415, 0.06733), noise_uv=3.4461,
                  clip_below_peak_db=None, uv_per_lsb=0.25)
    return apply_chain(simulate_clip("voluntary_muap", 10.0, 44100, 300058), chain)


def test_the_rhythm_check_stops_the_lone_unit_alarm(lone_unit):
    from convert.real_records import run_record
    from edge.bundle import load_bundle
    from edge.runtime.config import RuntimeConfig

    bundle = load_bundle("default")
    on = run_record(bundle, lone_unit.pcm, lone_unit.sample_rate, lone_unit.uv_per_lsb, block_s=0.1)
    off = run_record(bundle, lone_unit.pcm, lone_unit.sample_rate, lone_unit.uv_per_lsb, block_s=0.1,
                     config=dataclasses.replace(RuntimeConfig(), rhythm_check=False))
    assert on["pathological_alerts"] == 0
    if off["pathological_alerts"]:  # the shipped model's call that the check exists for
        assert on["irregular_windows"] >= 0.5 * off["pathological_windows"]
