"""A false alarm kept as a regression: a myopathic voluntary unit called fibrillation.

A myopathic subject's voluntary unit at about 8 Hz, recorded at 4 kHz through a 1.8 kHz
low-pass, inverted, is called fibrillation by the shipped model on about half its windows and
raised a fibrillation alert (confidence 0.76) through the runtime, with or without the rhythm
check: its potentials stand about 6.5 robust σ above the check's band noise, below the 12 σ at
which it judges irregularity. The bundle's class prior on voluntary activity
(``edge.runtime.prior``) stops it. The recording is the simulator's held-out test clip (seed
300056) through the recording chain drawn for it (seed 900056) in the model card's "other
equipment" row.
"""

from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture(scope="module")
def myopathic_unit():
    from convert.chain import Chain, apply_chain
    from convert.simulator import simulate_clip

    chain = Chain(seed=900056, sample_rate=4000, highpass_hz=2.8875, highpass_order=1, lowpass_hz=1800.0,
                  lowpass_order=4, lowpass_clamped_from_hz=4040.196, gain_error_db=-4.1528, inverted=True,
                  mains_hz=60.0, hum_uv=38.445, hum_harmonics=(0.11386, 0.11856, 0.10943, 0.04799), noise_uv=0.0,
                  clip_below_peak_db=None, uv_per_lsb=0.25)
    return apply_chain(simulate_clip("voluntary_muap", 10.0, 44100, 300056), chain)


def test_the_class_prior_stops_the_myopathic_unit_alarm(myopathic_unit):
    from convert.real_records import run_record
    from edge.bundle import load_bundle
    from edge.runtime.config import RuntimeConfig

    r = myopathic_unit
    bundle = load_bundle("default")
    on = run_record(bundle, r.pcm, r.sample_rate, r.uv_per_lsb, block_s=0.1)
    off = run_record(bundle, r.pcm, r.sample_rate, r.uv_per_lsb, block_s=0.1,
                     config=dataclasses.replace(RuntimeConfig(), class_prior=False))
    assert on["pathological_alerts"] == 0
    assert on["pathological_windows"] <= off["pathological_windows"]
