"""Per-subject anatomy and recording conditions.

A simulated subject fixes everything that differs between people and sessions but not
between episodes of one session: the motor-unit pool (sizes, durations, shapes), muscle-fibre
diameter, endplate-noise level, needle/amplifier noise and the mains frequency. Corpora split
by subject so that a model is tested on anatomy it never saw.

Sources are in /work/shared/reference/clinical-waveforms.md (cited as CW §n below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Stream tag so that a subject's draws never collide with an episode's draws for one seed.
_SUBJECT_STREAM = 0x5B1EC7

#: Size of each subject's motor-unit pool (voluntary recruitment, fasciculating,
#: myokymic and neuromyotonic units are drawn from it).
MU_POOL_SIZE = 8


def _check(name: str, value: float, lo: float, hi: float, unit: str) -> None:
    if not (lo <= value <= hi):
        raise ValueError(f"Subject.{name} = {value} {unit}: allowed range is {lo}..{hi} {unit}")


@dataclass(frozen=True)
class Subject:
    """One simulated person plus needle/amplifier conditions.

    Units: µV (amplitudes, peak-to-peak for potentials, RMS for noise), ms, µm, Hz.
    """

    subject_id: str
    seed: int
    #: Mains frequency, Hz: 50 (EU, east Japan) or 60 (US, west Japan) (CW §2 "Mains hum").
    mains_hz: float
    #: Amplitude of the mains fundamental, µV; harmonics relative to it in ``hum_harmonics``.
    hum_uv: float
    hum_harmonics: tuple[float, ...]
    #: Needle + amplifier noise, µV RMS within 10 Hz–10 kHz: amplifier ≤ 3–4 µV, with the
    #: needle about 10 µV (CW §2 "Amplifier/needle noise floor", Norwegian KNF guideline).
    noise_uv_rms: float
    #: Slow baseline drift amplitude, µV (mostly removed by the 10 Hz high-pass).
    drift_uv: float
    #: Mean muscle-fibre diameter, µm. Fibrillation amplitude is proportional to fibre
    #: diameter (CW §2 "Fibrillation potential", StatPearls); 50 µm maps to scale 1.
    fibre_diameter_um: float
    #: Motor-unit pool: peak-to-peak amplitude (µV), duration (ms), phases, shape seed.
    #: Voluntary MUAPs 300 µV–3 mV, 2–15 ms, TA mean 9.35 ms, 3.47 phases (CW §2 "Voluntary MUAP").
    mu_amplitude_uv: tuple[float, ...]
    mu_duration_ms: tuple[float, ...]
    mu_phases: tuple[int, ...]
    mu_shape_seed: tuple[int, ...]
    #: Median miniature-endplate-potential amplitude, µV; endplate noise 10–50 µV
    #: ([U] CW §2 "Endplate noise / spikes").
    mepp_uv: float

    def __post_init__(self) -> None:
        if self.mains_hz not in (50.0, 60.0):
            raise ValueError(f"Subject.mains_hz = {self.mains_hz} Hz: allowed values are 50 or 60 Hz")
        _check("hum_uv", self.hum_uv, 0.0, 100.0, "µV")
        _check("noise_uv_rms", self.noise_uv_rms, 1.0, 20.0, "µV RMS")
        _check("drift_uv", self.drift_uv, 0.0, 1000.0, "µV")
        _check("fibre_diameter_um", self.fibre_diameter_um, 10.0, 120.0, "µm")
        _check("mepp_uv", self.mepp_uv, 2.0, 60.0, "µV")
        n = len(self.mu_amplitude_uv)
        if n == 0 or not (len(self.mu_duration_ms) == len(self.mu_phases) == len(self.mu_shape_seed) == n):
            raise ValueError("Subject motor-unit pool tuples must be non-empty and of equal length")
        for a in self.mu_amplitude_uv:
            _check("mu_amplitude_uv[i]", a, 100.0, 5000.0, "µV")
        for d in self.mu_duration_ms:
            _check("mu_duration_ms[i]", d, 2.0, 25.0, "ms")

    @property
    def fibre_scale(self) -> float:
        """Fibrillation/PSW amplitude multiplier from fibre diameter (1.0 at 50 µm)."""
        return self.fibre_diameter_um / 50.0

    @classmethod
    def draw(cls, seed: int) -> "Subject":
        """Draw a subject deterministically from ``seed`` (any non-negative int)."""
        if int(seed) < 0:
            raise ValueError(f"subject seed {seed} must be >= 0")
        rng = np.random.default_rng([int(seed), _SUBJECT_STREAM])
        mains = float(rng.choice([50.0, 60.0]))
        hum = float(rng.uniform(0.5, 6.0))
        harmonics = tuple(float(h) for h in rng.uniform(0.05, 0.5, size=4) / np.arange(2, 6))
        noise = float(rng.uniform(3.0, 10.0))  # CW §2 noise floor: 3–4 µV amp, ~10 µV with needle
        drift = float(rng.uniform(10.0, 150.0))
        fibre = float(rng.uniform(30.0, 75.0))
        # Pool amplitudes: a subject-level median (TA controls 661.5 ± 92 µV, CW §2) times a
        # log-spread so that the pool spans 300 µV–3 mV (Aminoff, CW §2); sorted small → large
        # (Henneman's size principle orders recruitment).
        median = rng.uniform(450.0, 1100.0)
        amps = np.sort(np.clip(median * np.exp(rng.normal(0.0, 0.45, MU_POOL_SIZE)), 300.0, 2800.0))
        # Durations 2–15 ms, TA mean 9.35 ms (CW §2 "Voluntary MUAP"); larger units a little longer.
        dmean = rng.uniform(7.0, 11.0)
        durs = np.clip(dmean + rng.normal(0.0, 1.5, MU_POOL_SIZE) + 1.5 * (np.arange(MU_POOL_SIZE) / MU_POOL_SIZE - 0.5), 4.0, 15.0)
        # Phases: mean 3.47, 10–15 % polyphasic (> 4 phases) (CW §2 "Voluntary MUAP").
        phases = np.where(rng.random(MU_POOL_SIZE) < 0.12, rng.integers(5, 8, MU_POOL_SIZE), rng.integers(2, 5, MU_POOL_SIZE))
        shape_seeds = rng.integers(0, 2**31 - 1, MU_POOL_SIZE)
        mepp = float(rng.uniform(10.0, 25.0))
        return cls(
            subject_id=f"sim{int(seed):06d}",
            seed=int(seed),
            mains_hz=mains,
            hum_uv=hum,
            hum_harmonics=harmonics,
            noise_uv_rms=noise,
            drift_uv=drift,
            fibre_diameter_um=fibre,
            mu_amplitude_uv=tuple(float(a) for a in amps),
            mu_duration_ms=tuple(float(d) for d in durs),
            mu_phases=tuple(int(p) for p in phases),
            mu_shape_seed=tuple(int(s) for s in shape_seeds),
            mepp_uv=mepp,
        )
