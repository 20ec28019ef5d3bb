"""Motor unit potential quantification (QEMG) for voluntary needle EMG.

Stages (one per module): :mod:`.measures` (result types). More to come: detection,
decomposition, per-unit measures and :func:`quantify`.
"""

from .measures import RecordingMeasures, UnitMeasures

__all__ = ["RecordingMeasures", "UnitMeasures"]
