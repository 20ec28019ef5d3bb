"""Alert records and local sinks (JSON lines to stdout or a file).

An :class:`AlertRecord` is what leaves the device: the outbox stores it, the bridge sends it
as an ALERT frame and the local sinks write it as one JSON object per line. Sample indices
are in the *source's* sample domain (the amplifier's own sample counter), so the unit can
locate an alert in its recording; ``onset_s``/``offset_s`` are those indices divided by the
source rate (Hz). Wall clock is UTC, ISO 8601 with milliseconds.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.runtime.detector import Detection


def iso_utc(t: float) -> str:
    """Unix time (s) → ``2026-11-25T15:30:00.123Z``."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class AlertRecord:
    """One alert. ``id`` is unique and stable across restarts (the outbox's counter)."""

    id: int
    label: str
    pathological: bool
    confidence: float  # 0..1, mean smoothed posterior of the episode at confirmation
    onset_sample: int  # source sample index of the estimated onset
    offset_sample: int  # source sample index (exclusive) of the last evidence at confirmation
    onset_s: float  # onset_sample / sample_rate (s)
    offset_s: float
    detected_s: float  # stream time (s) of the window end that confirmed the episode
    onset_wall: str  # UTC wall clock of the onset sample
    offset_wall: str
    emitted_wall: str  # UTC wall clock when the alert was raised
    severity: int  # 0 info, 1 warning, 2 critical (as in the ALERT frame)
    model_id: str
    sample_rate: int  # Hz of the sample indices above

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AlertRecord":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "AlertRecord":
        return cls.from_dict(json.loads(text))

    def to_frame(self):
        """The bridge's ALERT frame for this record."""
        from firmware_bridge.codec import Alert  # local: keeps this module light

        return Alert(
            alert_id=int(self.id),
            label=self.label,
            confidence=float(min(max(self.confidence, 0.0), 1.0)),
            onset=int(self.onset_sample),
            offset=int(self.offset_sample),
            severity=int(self.severity),
        )


class StreamClock:
    """Source sample index → UTC wall time (s): anchored, at the start of each stream segment,
    on the arrival of the block that starts it (the block's samples taken as just acquired).

    ``replay=True`` (a file read faster or slower than real time): re-anchored on every block,
    so a sample's wall time is when the runtime had it in hand, and an alert's onset and offset
    never come after the moment it was emitted (extrapolating at the nominal rate did that)."""

    def __init__(self, sample_rate: int, replay: bool = False) -> None:
        self.sample_rate = int(sample_rate)
        self.replay = bool(replay)
        self._index = 0
        self._t = time.time()

    def anchor(self, first_index: int, n_samples: int) -> None:
        """A segment starts with a block of ``n_samples`` at ``first_index`` that arrived now."""
        self._index, self._t = int(first_index), time.time() - n_samples / self.sample_rate

    def wall(self, index: int) -> float:
        return self._t + (index - self._index) / self.sample_rate


def alert_fields(det: Detection, clock: StreamClock, model_id: str) -> dict[str, Any]:
    """The :class:`AlertRecord` fields (all but ``id``) of a detection on a stream at
    ``clock.sample_rate`` Hz; stream times rounded to 0.1 ms."""
    rate = clock.sample_rate
    return dict(
        label=det.label, pathological=bool(det.pathological), confidence=float(det.confidence),
        onset_sample=int(det.onset), offset_sample=int(det.offset),
        onset_s=round(det.onset / rate, 4), offset_s=round(det.offset / rate, 4),
        detected_s=round(det.detected_at / rate, 4),
        onset_wall=iso_utc(clock.wall(det.onset)), offset_wall=iso_utc(clock.wall(det.offset)),
        emitted_wall=iso_utc(time.time()), severity=int(det.severity),
        model_id=str(model_id), sample_rate=int(rate),
    )


class JsonlSink:
    """Alert listener (:mod:`edge.runtime.delivery`): JSON lines to a file (appending), to
    stdout (``"-"``) or to an open text stream.

    Each line is flushed (and fsync'ed for regular files) before :meth:`on_alert` returns, so an
    alert the outbox marks as written to local sinks is on disk. A path that is not a regular
    file (``/dev/stdout``, a pipe, a FIFO, a terminal) is written and flushed, never fsync'ed:
    fsync on those fails with EINVAL.
    """

    def __init__(self, target: str | Path | IO[str] = "-", fsync: bool = True) -> None:
        self._lock = threading.Lock()
        self._own = False
        self._fsync = fsync
        if not isinstance(target, (str, Path)):
            self._fh = target
            self.name = "<stream>"
        elif str(target) == "-":
            self._fh = sys.stdout
            self.name = "<stdout>"
        else:
            path = Path(target)
            if path.parent and not path.parent.exists():
                raise FileNotFoundError(f"directory for --alerts-jsonl does not exist: {path.parent}")
            self._fh = open(path, "a", encoding="utf-8")
            self._own = True
            self.name = str(path)
            self._fsync = fsync and stat.S_ISREG(os.fstat(self._fh.fileno()).st_mode)

    def on_alert(self, record: AlertRecord) -> None:
        self._line(record.to_json())

    def on_summary(self, summary: Any) -> None:
        """A QEMG stretch summary (its ``to_json()`` line, ``"type": "qemg_summary"``) among the alerts."""
        self._line(summary.to_json())

    def _line(self, text: str) -> None:
        line = text + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            if self._own and self._fsync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._own and not self._fh.closed:
                self._fh.close()
