"""A labelled needle-EMG recording: int16 PCM, its scale and its labelled segments.

The simulator produces these; the recording readers load clinics' files into them; windowing
and training consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convert.taxonomy import LABEL_INDEX, REST


@dataclass(frozen=True)
class Segment:
    """A labelled time span, in seconds from the start of the recording."""

    start_s: float
    end_s: float
    label: str

    def __post_init__(self) -> None:
        if self.label not in LABEL_INDEX:
            raise ValueError(f"unknown label {self.label!r}")
        if not (0.0 <= self.start_s < self.end_s):
            raise ValueError(
                f"segment {self.label!r} has start {self.start_s} s and end {self.end_s} s: "
                "need 0 <= start < end"
            )


@dataclass
class Recording:
    """One channel of needle EMG.

    ``pcm`` is 1-D int16 at ``sample_rate`` Hz; ``uv_per_lsb`` converts it to µV.
    ``segments`` label time spans; time not covered by any segment is ``rest``.
    ``events`` optionally lists individual potentials (simulator ground truth).
    """

    pcm: np.ndarray
    sample_rate: int
    uv_per_lsb: float
    segments: list[Segment] = field(default_factory=list)
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        pcm = np.asarray(self.pcm)
        if pcm.ndim != 1 or pcm.dtype != np.int16:
            raise ValueError(f"pcm must be 1-D int16, got {pcm.ndim}-D {pcm.dtype}")
        self.pcm = pcm

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / float(self.sample_rate)

    def label_track(self) -> np.ndarray:
        """Per-sample class index (uint8); later segments overwrite earlier ones where they overlap."""
        track = np.full(len(self.pcm), REST, dtype=np.uint8)
        for seg in self.segments:
            a = int(round(seg.start_s * self.sample_rate))
            b = int(round(seg.end_s * self.sample_rate))
            track[max(a, 0):min(b, len(track))] = LABEL_INDEX[seg.label]
        return track
