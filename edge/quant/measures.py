"""Result types of motor unit potential quantification (QEMG): per unit and per recording.

These are plain, frozen records shared by every QEMG stage (decomposition, measurement,
reference tables, pattern summaries); they hold no numerics of their own, so any stage can
import them without pulling in scipy.

Units: times in s, durations in ms, amplitudes in µV (at the electrode, through the
calibration chain: samples × µV/LSB of the source), area in µV·ms, rates in Hz.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["UnitMeasures", "RecordingMeasures"]


@dataclass(frozen=True)
class UnitMeasures:
    """One motor unit found in a recording: its template's measures and its firing.

    ``id``: 0-based, in order of first discharge (recruitment order).
    ``n_discharges``: discharges assigned to the unit.
    ``firing_rate_hz``: mean rate over the unit's regular inter-discharge intervals (Hz).
    ``isi_cv``: coefficient of variation (SD/mean) of those intervals (dimensionless).
    ``amplitude_uv``: peak-to-peak amplitude of the template (µV).
    ``duration_ms``: template onset to end (ms; criterion in :mod:`edge.quant.units`).
    ``phases``: baseline crossings within the duration + 1.
    ``turns``: slope reversals of at least the turn threshold within the duration.
    ``area_uv_ms``: integral of |template| over the duration (µV·ms).
    ``thickness_ms``: area / amplitude (ms).
    ``satellites``: separate late components after the main potential's end.
    ``discharge_times_s``: time of each discharge's peak from the start of the recording (s).
    ``duration_range_ms``: (shortest, longest) duration with the onset/end level ±2 dB (ms;
    how much the duration depends on the criterion, :mod:`edge.quant.units`); None if not
    measured.
    """

    id: int
    n_discharges: int
    firing_rate_hz: float
    isi_cv: float
    amplitude_uv: float
    duration_ms: float
    phases: int
    turns: int
    area_uv_ms: float
    thickness_ms: float
    satellites: int
    discharge_times_s: tuple[float, ...] = ()
    duration_range_ms: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["discharge_times_s"] = [round(float(t), 6) for t in self.discharge_times_s]
        r = self.duration_range_ms
        d["duration_range_ms"] = None if r is None else [round(float(r[0]), 3), round(float(r[1]), 3)]
        return d


@dataclass(frozen=True)
class RecordingMeasures:
    """All units of one recording (or stretch) and the per-recording measures.

    ``units``: the motor units found, in recruitment order (may be empty).
    ``recruitment_hz``: firing rate (Hz) of the first-recruited unit when the second unit
    starts firing; None with fewer than two units or too few discharges to tell.
    ``interference``: for dense activity, ``{"turns_per_s": .., "mean_amplitude_uv": ..}``
    (turns of the whole signal per second and the mean amplitude between consecutive turns,
    µV); None when not computed.
    ``reason``: why ``units`` is empty (no activity, clipping, too short, ...); None otherwise.
    ``sample_rate_hz``, ``duration_s``: of the analysed signal (a signal below
    ``QuantConfig.analysis_rate_hz`` is analysed interpolated to it, :mod:`edge.quant.upsample`).
    ``input_rate_hz``: the rate the samples came at (None: ``sample_rate_hz``).
    """

    units: list[UnitMeasures] = field(default_factory=list)
    recruitment_hz: float | None = None
    interference: dict | None = None
    reason: str | None = None
    sample_rate_hz: float = 0.0
    duration_s: float = 0.0
    input_rate_hz: float | None = None

    def to_dict(self) -> dict:
        return {
            "units": [u.to_dict() for u in self.units],
            "recruitment_hz": self.recruitment_hz,
            "interference": self.interference,
            "reason": self.reason,
            "sample_rate_hz": self.sample_rate_hz,
            "duration_s": self.duration_s,
            "input_rate_hz": self.recorded_rate_hz,
        }

    @property
    def recorded_rate_hz(self) -> float:
        """The rate the samples came at (Hz): ``input_rate_hz``, or ``sample_rate_hz`` if unset."""
        return self.sample_rate_hz if self.input_rate_hz is None else self.input_rate_hz
