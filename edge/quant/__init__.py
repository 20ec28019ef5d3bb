"""Motor unit potential quantification (QEMG) for voluntary needle EMG.

    from edge.quant import quantify
    result = quantify(int16_samples, 10_000, uv_per_lsb=0.5, muscle="tibialis_anterior")
    result.to_json()   # motor_units, summary, reference, pattern

Stages (one per module): :mod:`.upsample` (a recording below 10 kHz read at 10 kHz),
:mod:`.bands` (display and detection filters), :mod:`.chunks` (blocks with overlap),
:mod:`.decompose` (threshold, templates, peel-off), :mod:`.gaps` (a found unit's missed
discharges recovered by its rhythm), :mod:`.units`
(template and firing measures), :mod:`.measures` (result types), :mod:`.quantify` (the
passes and the result), :mod:`.cli` (``emg-edge quantify``), :mod:`.plot` (the PNG).
"""

from .measures import RecordingMeasures, UnitMeasures
from .quantify import QuantConfig, QuantResult, quantify

__all__ = ["QuantConfig", "QuantResult", "RecordingMeasures", "UnitMeasures", "quantify"]
