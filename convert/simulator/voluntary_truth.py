"""Voluntary recordings with ground truth, for testing motor unit decomposition (QEMG).

:func:`render_voluntary_truth` renders a steady voluntary contraction at a fixed effort
(fraction of MVC) with the simulator's own pool (``scenes._pool_thresholds``,
``motor_units.pool_trains``, ``scenes._place_unit``, ``scenes._distant_background``), over
the subject's background (noise, hum, drift), through the amplifier model, and returns the
int16 recording with, per active near unit:

- its discharge times (s): the time of the template's largest deflection in the recording,
  i.e. the simulator's event time plus the amplifier band-pass's shift of that peak;
- its true template in µV (the unit's MUAP × its amplitude through the amplifier band-pass,
  noise-free) and that template's measures by the SAME criteria as the measuring stage
  (:func:`edge.quant.units.template_measures`): amplitude, duration, phases, turns, area;
- its firing rate and ISI CV by :func:`edge.quant.units.firing` on the true times.

A separate random stream (tag ``_TRUTH_STREAM``) is used, so nothing the simulator already
renders for a seed changes. Deterministic from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convert.simulator import motor_units as mu
from convert.simulator import scenes
from convert.simulator.amplifier import AmplifierConfig, amplify, bandpass
from convert.simulator.background import background as make_background
from convert.simulator.subject import Subject
from edge.quant.units import MeasureConfig, firing, template_measures

__all__ = ["UnitScore", "UnitTruth", "VoluntaryTruth", "render_voluntary_truth", "score_units", "true_template",
           "unit_purity"]

_TRUTH_STREAM = 0x7E0717
_PAD_S = 0.05  # zeros around a template before the band-pass (its causal tail fits)


@dataclass(frozen=True)
class UnitTruth:
    """One active near unit: pool index, discharge times (s), measures of its noise-free
    template (µV, ms) and firing (Hz)."""

    index: int
    discharge_times_s: tuple[float, ...]
    amplitude_uv: float
    duration_ms: float
    phases: int
    turns: int
    area_uv_ms: float
    firing_rate_hz: float
    isi_cv: float
    template_uv: np.ndarray = field(repr=False, compare=False)

    @property
    def n_discharges(self) -> int:
        return len(self.discharge_times_s)


@dataclass
class VoluntaryTruth:
    """A rendered recording (int16 ``pcm`` at ``uv_per_lsb``) and its active units."""

    pcm: np.ndarray
    sample_rate: int
    uv_per_lsb: float
    effort: float
    subject: Subject
    units: list[UnitTruth]
    clipped_samples: int

    @property
    def signal_uv(self) -> np.ndarray:
        return self.pcm.astype(np.float64) * self.uv_per_lsb


def true_template(subject: Subject, i: int, sample_rate: float,
                  amplifier: AmplifierConfig | None = None) -> tuple[np.ndarray, int]:
    """Unit ``i``'s noise-free MUAP in µV through the amplifier band-pass, and the shift
    (samples) of its largest deflection caused by the band-pass."""
    amp = subject.mu_amplitude_uv[i] * mu.needle_gain(subject.needle)
    raw = mu.muap(mu.unit_of(subject, i), subject.needle, sample_rate) * amp
    pad = int(_PAD_S * sample_rate)
    x = np.concatenate([np.zeros(pad), raw, np.zeros(pad)])
    y = bandpass(x, sample_rate, amplifier or AmplifierConfig())
    peak_raw = pad + int(np.argmax(np.abs(raw)))
    return y, int(np.argmax(np.abs(y))) - peak_raw


def render_voluntary_truth(seed: int, effort: float = 0.15, duration_s: float = 20.0, sample_rate: int = 10_000,
                           needle: str = "concentric", muscle: str = "normal",
                           amplifier: AmplifierConfig | None = None,
                           measure: MeasureConfig | None = None) -> VoluntaryTruth:
    """A steady contraction at ``effort`` (fraction of MVC, 0.005–1) for ``duration_s`` s at
    ``sample_rate`` Hz (8–48 kHz) with its ground truth (module docstring)."""
    scenes._check_args(duration_s, sample_rate, seed)
    if not (0.005 <= float(effort) <= 1.0):
        raise ValueError(f"effort = {effort}: allowed range is 0.005..1 (fraction of MVC)")
    amplifier = amplifier or AmplifierConfig()
    subject = Subject.draw(seed, needle=needle, muscle=muscle)
    rng_units, rng_place, rng_bg = (np.random.default_rng(s)
                                    for s in np.random.SeedSequence([int(seed), _TRUTH_STREAM]).spawn(3))
    n = int(round(duration_s * sample_rate))
    c = scenes._Canvas(n, sample_rate)
    steps = max(int(np.ceil(duration_s / scenes._STEP_S)), 2)
    effort_path = np.full(steps, float(effort))
    thr, spacing = scenes._pool_thresholds(subject)
    trains = mu.pool_trains(rng_units, effort_path, scenes._STEP_S, thr, spacing, subject.muscle_state)
    for i, times in enumerate(trains):
        scenes._place_unit(c, rng_place, subject, i, times)
    scenes._distant_background(c, rng_place, subject, effort_path)
    x = c.buf + make_background(rng_bg, n, sample_rate, subject)
    pcm, clipped = amplify(x, sample_rate, amplifier)
    units = []
    for i, times in enumerate(trains):
        times = np.asarray(times)
        times = times[(times >= 0) & (times < duration_s)]
        if len(times) == 0:
            continue
        tmpl, shift = true_template(subject, i, sample_rate, amplifier)
        tm = template_measures(tmpl, sample_rate, measure)
        t = times + shift / sample_rate
        rate, cv = firing(t)
        units.append(UnitTruth(index=i, discharge_times_s=tuple(float(v) for v in t), amplitude_uv=tm.amplitude_uv,
                               duration_ms=tm.duration_ms, phases=tm.phases, turns=tm.turns,
                               area_uv_ms=tm.area_uv_ms, firing_rate_hz=rate, isi_cv=cv, template_uv=tmpl))
    return VoluntaryTruth(pcm=pcm, sample_rate=int(sample_rate), uv_per_lsb=amplifier.uv_per_lsb,
                          effort=float(effort), subject=subject, units=units, clipped_samples=clipped)


# ---------------------------------------------------------------------------------------
# Scoring a decomposition against the truth (EMGLAB convention)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitScore:
    """One true unit against its best-matching found unit (None when not found).

    ``recall``: share of the true discharges with a found discharge within ± tolerance
    (the "≥ 90 % of discharges matched" target); ``agreement``: EMGLAB's
    matched / (matched + missed + false) (McGill, Lateva & Marateb 2005)."""

    index: int
    n_true: int
    found_id: int | None
    recall: float
    agreement: float
    amplitude_error: float | None   # (found − true) / true
    duration_error_ms: float | None  # found − true
    rate_error_hz: float | None      # found − true


def unit_purity(truth: VoluntaryTruth, found, tol_s: float = 0.0005) -> list[float]:
    """Per found unit (objects with ``discharge_times_s``, in order): the largest share of its
    discharges matched one-to-one within ``tol_s`` by one true unit's, over every true unit
    however few its discharges (0 when it has none). Near 1: one unit's train; about 1/k: a
    mixture of k units' discharges; near 0: a train of no listed unit (the simulator's distant
    units, which the truth does not list, or noise)."""
    out = []
    for f in found:
        t = np.sort(np.asarray(f.discharge_times_s))
        k = max((_matched(np.asarray(u.discharge_times_s), t, tol_s) for u in truth.units), default=0)
        out.append(k / len(t) if len(t) else 0.0)
    return out


def _matched(true_t: np.ndarray, found_t: np.ndarray, tol: float) -> int:
    """Discharges matched one-to-one within ``tol`` s (greedy in time order)."""
    if len(true_t) == 0 or len(found_t) == 0:
        return 0
    i = j = k = 0
    while i < len(true_t) and j < len(found_t):
        d = found_t[j] - true_t[i]
        if abs(d) <= tol:
            k, i, j = k + 1, i + 1, j + 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return k


def score_units(truth: VoluntaryTruth, found, min_discharges: int = 20, tol_s: float = 0.0005,
                found_share: float = 0.5) -> list[UnitScore]:
    """Score found units (objects with ``id``, ``discharge_times_s``, ``amplitude_uv``,
    ``duration_ms``, ``firing_rate_hz``, e.g. :class:`edge.quant.UnitMeasures`) against every
    true unit with ≥ ``min_discharges`` discharges. A true unit is *found* by the found unit
    matching most of its discharges if that is ≥ ``found_share`` of them."""
    out = []
    for u in truth.units:
        if u.n_discharges < min_discharges:
            continue
        t = np.asarray(u.discharge_times_s)
        best, best_k = None, 0
        for f in found:
            k = _matched(t, np.sort(np.asarray(f.discharge_times_s)), tol_s)
            if k > best_k:
                best, best_k = f, k
        if best is None or best_k < found_share * len(t):
            out.append(UnitScore(u.index, len(t), None, best_k / len(t), 0.0, None, None, None))
            continue
        nf = len(best.discharge_times_s)
        out.append(UnitScore(
            u.index, len(t), int(best.id), best_k / len(t), best_k / (len(t) + nf - best_k),
            (best.amplitude_uv - u.amplitude_uv) / u.amplitude_uv, best.duration_ms - u.duration_ms,
            best.firing_rate_hz - u.firing_rate_hz))
    return out
