"""Rule-based pattern summary: a recording's motor unit measures against reference values.

``pattern(measures, muscle=None, age=None)`` compares the means over a recording's units
(:class:`edge.quant.measures.RecordingMeasures`) with the reference row of the muscle
(:func:`edge.quant.reference.reference_for`; sources there and in docs/QEMG.md) and returns a
:class:`PatternSummary`: ``within limits``, ``neurogenic-looking``, ``myopathic-looking`` or
``indeterminate`` (with the reason), the findings that drove it, and fixed wording that this is
a pattern, never a diagnosis (:data:`NOT_A_DIAGNOSIS`).

Rules (each finding is a measure outside its limits of normal, LLN/ULN of the reference row)
--------------------------------------------------------------------------------------------
Signs pointing to a **neurogenic** pattern (reinnervated units: large, long, few and fast):

* mean MUAP duration above ULN (weight 2): duration is the most reliable QEMG measure, and
  long MUAPs are the reinnervation finding raters disagree on (real-emg.md §4, Narayanaswami
  2016); the TA ULN is mean + 2 SD (JNNP control table);
* mean MUAP amplitude above ULN (weight 1; TA ULN = mean + 2 SD, JNNP);
* reduced recruitment (weight 1): the recruitment frequency (rate of the first unit when the
  next is recruited) above its ULN (1000 / (90 − 2·19 ms) = 19.2 Hz from the recruitment
  interval 90 ± 19 ms, Petajan; clinical-waveforms.md §2).

The fastest unit's firing rate is reported against its ULN (15 Hz, the upper end of 12–15 Hz
at low–moderate effort; > 15 Hz suggests reduced recruitment, Clin Neurophysiol 2024) but
decides nothing: the effort of a recording is not known, and at stronger effort normal units
fire faster (measured: normal simulated ramps to 40 % MVC reach 20 Hz).

Signs pointing to a **myopathic** pattern (small, short units, recruited early):

* mean MUAP duration below LLN (weight 2; mean − 2 SD);
* mean MUAP amplitude below LLN (weight 1; mean − 2 SD);
* early recruitment (weight 1): recruitment frequency below its LLN (1000 / (90 + 2·19 ms)
  = 7.8 Hz).

**Polyphasia** (share of units with more than :attr:`PatternConfig.polyphasic_phases` − 1
phases above the ULN, 35 % in TA controls, JNNP) occurs in both and adds weight 1 to the side
that already has a sign; alone it is reported but decides nothing.

Decision: fewer than :attr:`PatternConfig.min_units` units (or an empty result) →
``indeterminate`` with the reason. Signs on both sides → ``indeterminate`` (mixed). A side
whose weight reaches :attr:`PatternConfig.min_weight` (2: a duration change on its own, or two
other findings) with no sign on the other side → that pattern. No sign → ``within limits``.
One weight-1 sign alone → ``indeterminate`` (a single finding is not a pattern).

Monotone by construction: raising amplitudes or durations can only add neurogenic signs and
remove myopathic ones, so it never turns a neurogenic or normal call myopathic (and lowering
them never turns a myopathic or normal call neurogenic); tests check this with hypothesis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from edge.quant.reference import Reference, reference_for

#: The fixed wording every pattern summary carries.
NOT_A_DIAGNOSIS = ("A pattern of motor unit measures compared with reference values, not a diagnosis: "
                   "interpret it with the whole examination and the clinical question.")
WITHIN_LIMITS = "within limits"
NEUROGENIC = "neurogenic-looking"
MYOPATHIC = "myopathic-looking"
INDETERMINATE = "indeterminate"
LABELS = (WITHIN_LIMITS, NEUROGENIC, MYOPATHIC, INDETERMINATE)

__all__ = ["pattern", "PatternConfig", "PatternSummary", "Finding", "recording_means", "NOT_A_DIAGNOSIS",
           "WITHIN_LIMITS", "NEUROGENIC", "MYOPATHIC", "INDETERMINATE", "LABELS"]


@dataclass(frozen=True)
class PatternConfig:
    """Rule settings.

    ``min_units``: fewest units whose means are compared (2–100; default 3, a chosen value:
    a mean of one or two units says little). ``polyphasic_phases``: phases from which a unit
    counts as polyphasic (default 5, i.e. more than 4; 3–20). ``min_weight``: weight of signs
    that makes a pattern (1–4, default 2; see the module docstring).
    """

    min_units: int = 3
    polyphasic_phases: int = 5
    min_weight: int = 2

    def __post_init__(self) -> None:
        if not 2 <= self.min_units <= 100:
            raise ValueError(f"PatternConfig.min_units = {self.min_units}: allowed range is 2..100 units")
        if not 3 <= self.polyphasic_phases <= 20:
            raise ValueError(f"PatternConfig.polyphasic_phases = {self.polyphasic_phases}: allowed range is 3..20")
        if not 1 <= self.min_weight <= 4:
            raise ValueError(f"PatternConfig.min_weight = {self.min_weight}: allowed range is 1..4")


@dataclass(frozen=True)
class Finding:
    """One measure against its limits. ``status``: ``low``, ``high``, ``within`` or None (no
    value or no limit); ``points_to``: ``neurogenic``, ``myopathic`` or None; ``weight`` in
    the decision; ``text``: one readable line with units."""

    measure: str
    value: float | None
    lln: float | None
    uln: float | None
    status: str | None
    points_to: str | None = None
    weight: int = 0
    text: str = ""

    def to_dict(self) -> dict:
        v = None if self.value is None else round(float(self.value), 3)
        return {"measure": self.measure, "value": v, "lln": self.lln, "uln": self.uln, "status": self.status,
                "points_to": self.points_to, "weight": self.weight, "text": self.text}


@dataclass(frozen=True)
class PatternSummary:
    """The pattern of one recording: ``label`` (one of :data:`LABELS`), ``drivers`` (the texts
    of the findings that decided it), every ``finding``, ``reason`` (why indeterminate or why
    within limits), the reference row used, the number of units and :data:`NOT_A_DIAGNOSIS`."""

    label: str
    drivers: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    reason: str | None = None
    reference: Reference | None = None
    n_units: int = 0
    note: str = NOT_A_DIAGNOSIS
    means: dict = field(default_factory=dict)
    caveats: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"label": self.label, "drivers": list(self.drivers), "reason": self.reason, "n_units": self.n_units,
                "muscle": self.reference.muscle if self.reference else None,
                "reference_note": self.reference.note if self.reference else "",
                "means": {k: (None if v is None else round(float(v), 3)) for k, v in self.means.items()},
                "findings": [f.to_dict() for f in self.findings], "caveats": list(self.caveats), "note": self.note}


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None


def recording_means(measures, polyphasic_phases: int = 5) -> dict:
    """Means over the units (µV, ms, µV·ms), % polyphasic, recruitment and fastest rate (Hz)."""
    units = list(measures.units)
    rates = [u.firing_rate_hz for u in units if u.firing_rate_hz is not None and math.isfinite(u.firing_rate_hz)]
    return {
        "amplitude_uv": _mean(u.amplitude_uv for u in units),
        "duration_ms": _mean(u.duration_ms for u in units),
        "area_uv_ms": _mean(u.area_uv_ms for u in units),
        "phases": _mean(u.phases for u in units),
        "turns": _mean(u.turns for u in units),
        "polyphasic_pct": 100.0 * sum(u.phases >= polyphasic_phases for u in units) / len(units) if units else None,
        "recruitment_hz": measures.recruitment_hz,
        "max_firing_hz": max(rates) if rates else None,
    }


_UNITS = {"amplitude_uv": "µV", "duration_ms": "ms", "area_uv_ms": "µV·ms", "phases": "", "turns": "",
          "polyphasic_pct": "%", "recruitment_hz": "Hz", "max_firing_hz": "Hz"}
_NAMES = {"amplitude_uv": "mean amplitude", "duration_ms": "mean duration", "area_uv_ms": "mean area",
          "phases": "mean phases", "turns": "mean turns", "polyphasic_pct": "polyphasic units",
          "recruitment_hz": "recruitment frequency", "max_firing_hz": "fastest firing rate"}
#: (measure, status) → (side, weight); see the module docstring.
_SIGNS = {("duration_ms", "high"): ("neurogenic", 2), ("duration_ms", "low"): ("myopathic", 2),
          ("amplitude_uv", "high"): ("neurogenic", 1), ("amplitude_uv", "low"): ("myopathic", 1),
          ("recruitment_hz", "high"): ("neurogenic", 1), ("recruitment_hz", "low"): ("myopathic", 1)}


def _finding(measure: str, value: float | None, ref: Reference) -> Finding:
    lim = ref.limit(measure)
    lln, uln = (lim.lln, lim.uln) if lim else (None, None)
    status = lim.status(value) if lim else None
    side, weight = _SIGNS.get((measure, status), (None, 0))
    unit = _UNITS[measure]
    if value is None:
        text = f"{_NAMES[measure]}: not measured"
    else:
        if status == "high":
            bound = f" > ULN {uln:g} {unit}"
        elif status == "low":
            bound = f" < LLN {lln:g} {unit}"
        elif status == "within":
            bound = f" (limits {'' if lln is None else f'{lln:g}'}..{'' if uln is None else f'{uln:g}'} {unit})"
        else:
            bound = ""
        shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"  # 1890, not 1.89e+03
        text = " ".join(f"{_NAMES[measure]} {shown} {unit}{bound}".split())
    return Finding(measure, value, lln, uln, status, side, weight, text)


#: Below this recording rate (Hz) the band limit takes amplitude off the sharp main spikes:
#: MUP analysis is commonly done at 10 kHz (RE §3), and the same simulated contractions
#: quantified from 4 kHz measured a median amplitude 7 % below that at their own 44.1 kHz
#: (durations alike: the analysis interpolates to 10 kHz, :mod:`edge.quant.upsample`).
AMPLITUDE_RATE_HZ = 10_000.0


def _caveats(measures) -> tuple[str, ...]:
    fs = measures.recorded_rate_hz
    if 0.0 < fs < AMPLITUDE_RATE_HZ:
        return (f"recorded at {fs / 1000:g} kHz: below {AMPLITUDE_RATE_HZ / 1000:g} kHz, the rate MUP "
                "analysis commonly uses, the band limit takes amplitude off the sharp main spikes (7 % at 4 kHz "
                "on simulated contractions), so the amplitude comparison leans towards small",)
    return ()


def pattern(measures, muscle: str | None = None, age: float | None = None,
            config: PatternConfig = PatternConfig()) -> PatternSummary:
    """Summarise ``measures`` (a :class:`~edge.quant.measures.RecordingMeasures`) against the
    reference of ``muscle`` (None = the wide ``unspecified`` limits) for age ``age`` (years).
    ``caveats`` says what limits the comparison (a recording rate below
    :data:`AMPLITUDE_RATE_HZ`); it does not change the decision."""
    out = _pattern(measures, muscle, age, config)
    caveats = _caveats(measures)
    return replace(out, caveats=caveats) if caveats else out


def _pattern(measures, muscle: str | None, age: float | None, config: PatternConfig) -> PatternSummary:
    ref = reference_for(muscle, age)
    units = list(measures.units)
    means = recording_means(measures, config.polyphasic_phases)
    findings = tuple(_finding(m, means[m], ref) for m in means)
    if not units:
        why = measures.reason or "no motor units found"
        return PatternSummary(INDETERMINATE, (), findings, why, ref, 0, means=means)
    if len(units) < config.min_units:
        why = f"{len(units)} motor unit{'s' if len(units) != 1 else ''} found; at least {config.min_units} are needed"
        return PatternSummary(INDETERMINATE, (), findings, why, ref, len(units), means=means)
    weight = {"neurogenic": 0, "myopathic": 0}
    for f in findings:
        if f.points_to:
            weight[f.points_to] += f.weight
    poly = next(f for f in findings if f.measure == "polyphasic_pct")
    signs = [f for f in findings if f.points_to]
    if weight["neurogenic"] and weight["myopathic"]:
        return PatternSummary(INDETERMINATE, tuple(f.text for f in signs), findings,
                              "mixed findings: signs of both a neurogenic and a myopathic pattern", ref, len(units),
                              means=means)
    if not signs:
        why = "every measure within limits" if poly.status != "high" else \
            "size and recruitment within limits; increased polyphasia alone is not a pattern"
        drivers = tuple(f.text for f in findings if f.status is not None and f.measure in
                        ("amplitude_uv", "duration_ms", "polyphasic_pct", "recruitment_hz"))
        return PatternSummary(WITHIN_LIMITS, drivers, findings, why, ref, len(units), means=means)
    side = signs[0].points_to
    total = weight[side] + (1 if poly.status == "high" else 0)
    drivers = tuple(f.text for f in signs) + ((poly.text,) if poly.status == "high" else ())
    if total < config.min_weight:
        return PatternSummary(INDETERMINATE, drivers, findings,
                              f"a single finding ({signs[0].text}) is not a pattern", ref, len(units), means=means)
    return PatternSummary(NEUROGENIC if side == "neurogenic" else MYOPATHIC, drivers, findings, None, ref,
                          len(units), means=means)
