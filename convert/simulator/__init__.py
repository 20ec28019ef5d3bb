"""Needle-EMG simulator: twelve classes over realistic background, deterministic from a seed.

    from convert.simulator import simulate_recording, simulate_clip, Subject, AmplifierConfig

Modules, one job each: :mod:`.subject` (per-subject anatomy), :mod:`.waveforms` (potential
shapes), :mod:`.discharges` (firing patterns), :mod:`.background` (noise, hum, drift),
:mod:`.amplifier` (band-pass, gain, int16), :mod:`.motor_units` (MUAPs summed from single-fibre
potentials, needles, muscle states, motor-unit pools with recruitment and rate coding),
:mod:`.scenes` (episodes, sequencing, labels).
"""

from convert.simulator.amplifier import AmplifierConfig
from convert.simulator.scenes import GENERATOR_VERSION, OVERLAYS, default_plan, simulate_clip, simulate_recording
from convert.simulator.subject import Subject

__all__ = ["AmplifierConfig", "GENERATOR_VERSION", "OVERLAYS", "Subject", "default_plan",
           "simulate_clip", "simulate_recording"]
