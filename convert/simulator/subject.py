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
from scipy.special import ndtr, ndtri

from edge.validation import check_range, check_ranges

#: Stream tag so that a subject's draws never collide with an episode's draws for one seed.
_SUBJECT_STREAM = 0x5B1EC7

#: Size of a normal subject's pool of motor units near the needle (voluntary recruitment,
#: fasciculating, myokymic and neuromyotonic units are drawn from it). Enough for ~5.9
#: simultaneously active MUAPs on average from threshold to 30 % MVC (RE §2, ADEMG) and a
#: full interference pattern at strong effort. A neurogenic pool has lost most units.
MU_POOL_SIZE = 12
NEUROGENIC_POOL_SIZE = 5

NEEDLES = ("concentric", "monopolar")
MUSCLE_STATES = ("normal", "myopathic", "neurogenic")
#: Draw probabilities when ``Subject.draw`` is not told the needle / muscle state.
NEEDLE_P = {"concentric": 0.6, "monopolar": 0.4}
MUSCLE_P = {"normal": 0.6, "myopathic": 0.2, "neurogenic": 0.2}


def _truncated_lognormal(rng: np.random.Generator, sigma: float, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` draws of exp(N(0, ``sigma``²)) restricted to [``lo``, ``hi``] (ratios, lo < 1 < hi)
    by inverting the normal CDF over the allowed range: one uniform per draw, no pile-up at
    either bound."""
    a, b = ndtr(np.log(lo) / sigma), ndtr(np.log(hi) / sigma)
    return np.exp(sigma * ndtri(rng.uniform(a, b, n)))


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
    #: Needle type: "concentric" or "monopolar" (monopolar: same MUAPs at ~2.05× amplitude,
    #: ~1.86× duration, wider pick-up; RE §2). Fix it to validate across needles.
    needle: str = "concentric"
    #: "normal", "myopathic" (small, short, polyphasic MUAPs, early recruitment) or
    #: "neurogenic" (large, long, polyphasic MUAPs, reduced recruitment) (CW §2, RE §2).
    #: Shapes the voluntary activity only, which stays labelled ``voluntary_muap``.
    muscle_state: str = "normal"

    def __post_init__(self) -> None:
        if self.needle not in NEEDLES:
            raise ValueError(f"Subject.needle = {self.needle!r}: allowed values are {', '.join(NEEDLES)}")
        if self.muscle_state not in MUSCLE_STATES:
            raise ValueError(f"Subject.muscle_state = {self.muscle_state!r}: allowed values are "
                             f"{', '.join(MUSCLE_STATES)}")
        if self.mains_hz not in (50.0, 60.0):
            raise ValueError(f"Subject.mains_hz = {self.mains_hz} Hz: allowed values are 50 or 60 Hz")
        check_ranges(self, (("hum_uv", 0.0, 100.0, "µV"), ("noise_uv_rms", 1.0, 20.0, "µV RMS"),
                            ("drift_uv", 0.0, 1000.0, "µV"), ("fibre_diameter_um", 10.0, 120.0, "µm"),
                            ("mepp_uv", 2.0, 60.0, "µV")))
        n = len(self.mu_amplitude_uv)
        if n == 0 or not (len(self.mu_duration_ms) == len(self.mu_phases) == len(self.mu_shape_seed) == n):
            raise ValueError("Subject motor-unit pool tuples must be non-empty and of equal length")
        for a in self.mu_amplitude_uv:
            check_range("Subject", "mu_amplitude_uv[i]", a, 50.0, 8000.0, "µV")
        for d in self.mu_duration_ms:
            check_range("Subject", "mu_duration_ms[i]", d, 2.0, 30.0, "ms")

    @property
    def fibre_scale(self) -> float:
        """Fibrillation/PSW amplitude multiplier from fibre diameter (1.0 at 50 µm)."""
        return self.fibre_diameter_um / 50.0

    @classmethod
    def draw(cls, seed: int, needle: str | None = None, muscle: str | None = None) -> "Subject":
        """Draw a subject deterministically from ``seed`` (any non-negative int).

        ``needle`` ("concentric" | "monopolar") and ``muscle`` ("normal" | "myopathic" |
        "neurogenic") fix those conditions (e.g. train on concentric, test on monopolar);
        None draws them from the seed (concentric 0.6 / monopolar 0.4; normal 0.6, myopathic
        0.2, neurogenic 0.2). Fixing one does not change any other draw.
        """
        if int(seed) < 0:
            raise ValueError(f"subject seed {seed} must be >= 0")
        cond = np.random.default_rng([int(seed), _SUBJECT_STREAM, 1])
        drawn_needle = str(cond.choice(list(NEEDLE_P), p=list(NEEDLE_P.values())))
        drawn_muscle = str(cond.choice(list(MUSCLE_P), p=list(MUSCLE_P.values())))
        needle = drawn_needle if needle is None else needle
        muscle = drawn_muscle if muscle is None else muscle
        if needle not in NEEDLES:
            raise ValueError(f"needle = {needle!r}: allowed values are {', '.join(NEEDLES)}")
        if muscle not in MUSCLE_STATES:
            raise ValueError(f"muscle = {muscle!r}: allowed values are {', '.join(MUSCLE_STATES)}")
        rng = np.random.default_rng([int(seed), _SUBJECT_STREAM])
        mains = float(rng.choice([50.0, 60.0]))
        hum = float(rng.uniform(0.5, 6.0))
        harmonics = tuple(float(h) for h in rng.uniform(0.05, 0.5, size=4) / np.arange(2, 6))
        noise = float(rng.uniform(3.0, 10.0))  # CW §2 noise floor: 3–4 µV amp, ~10 µV with needle
        drift = float(rng.uniform(10.0, 150.0))
        fibre = float(rng.uniform(30.0, 75.0))
        n = MU_POOL_SIZE
        # Concentric-needle pool amplitudes: a subject-level median (TA controls 661.5 ± 92 µV,
        # RE §2) times a log-spread so that the pool spans 300 µV–3 mV (Aminoff, CW §2);
        # sorted small → large (Henneman's size principle orders recruitment). The needle's
        # gain is applied when rendering (monopolar 2.05×, RE §2). The median spans the
        # controls' mean ± ~1.3 SD, so the units recruited first average ~690 µV (1.4.0 drew
        # 450–1100 µV and its first units averaged ~890 µV, above the ULN of 845.5 µV).
        # The spread is drawn truncated to 300 µV–2.8 mV (inverse CDF), not clipped: before
        # 1.7.0 clipping piled 6 % of units at exactly 300 µV, and 18 % of normal subjects had
        # ≥ 2 of their first 10 units of identical amplitude, which no real pool has.
        median = rng.uniform(420.0, 780.0)
        amps = np.sort(median * _truncated_lognormal(rng, 0.4, 300.0 / median, 2800.0 / median, n))
        # Durations (amplitude criterion) TA mean 9.35 ± 0.93 ms, 2–15 ms (CW §2, RE §2);
        # larger units a little longer.
        dmean = rng.uniform(8.0, 11.0)
        durs = np.clip(dmean + rng.normal(0.0, 1.2, n) + 1.5 * (np.arange(n) / n - 0.5), 5.0, 15.0)
        # Phases: mean 3.47, 5–40 % polyphasic (RE §2): the share of units whose fibres are
        # scattered in time (the rendered shape decides the phases; this flags the units).
        phases = np.where(rng.random(n) < 0.15, rng.integers(5, 8, n), rng.integers(2, 5, n))
        shape_seeds = rng.integers(0, 2**31 - 1, n)
        mepp = float(rng.uniform(10.0, 25.0))
        if muscle == "myopathic":
            # Small, short, polyphasic (CW §2): fibre loss and fibre-size variation.
            amps, durs = np.clip(amps * 0.45, 60.0, None), np.clip(durs * 0.6, 3.0, None)
            phases = np.where(rng.random(n) < 0.5, 5, phases)
        elif muscle == "neurogenic":
            # Reinnervated units: large, long, polyphasic; few of them (reduced recruitment).
            keep = np.sort(rng.choice(n, NEUROGENIC_POOL_SIZE, replace=False))
            amps = np.clip(amps[keep] * rng.uniform(2.0, 3.0), 300.0, 7500.0)
            durs = np.clip(durs[keep] * rng.uniform(1.4, 1.8), 5.0, 28.0)
            phases = np.where(rng.random(len(keep)) < 0.5, 5, phases[keep])
            shape_seeds = shape_seeds[keep]
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
            needle=needle,
            muscle_state=muscle,
        )
