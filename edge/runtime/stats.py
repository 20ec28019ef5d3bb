"""Periodic operating statistics for the service log.

One line every ``every_s`` seconds of wall-clock time::

    stats: audio 600.0 s, rtf 1.00x (interval 1.00x), cpu 0.021 s/s, queue 0/512, gaps 0 samples,
    saturated 0 samples, crc errors 0, pending alerts 0, alerts 3, windows 2397

* **rtf** (real-time factor): audio seconds processed per wall-clock second (1.0 = keeping up
  with a live stream; 300 = a WAV replayed 300× faster than real time);
* **cpu**: process CPU seconds per audio second (all threads); 1/cpu is the headroom on one
  core;
* **queue**: blocks waiting between the reader and the pipeline / capacity;
* **gaps**: samples missing in the stream (from the amplifier's sample counter);
* **saturated**: samples the amplitude calibration (:mod:`edge.calibration`) clamped to int16:
  the source's scale is coarser than the bundle's and the signal too large for it;
* **crc errors**: frames the bridge decoder rejected;
* **pending alerts**: stored in the outbox, not yet ACKed by the amplifier.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass


@dataclass
class StatsSnapshot:
    audio_s: float
    wall_s: float
    cpu_s: float
    rtf: float
    interval_rtf: float
    cpu_per_audio_s: float
    queue_depth: int
    queue_capacity: int
    gap_samples: int
    crc_errors: int
    pending_alerts: int
    alerts: int
    windows: int
    saturated_samples: int = 0
    unknown_windows: int = 0
    irregular_windows: int = 0
    prior_windows: int = 0

    def line(self) -> str:
        return (
            f"stats: audio {self.audio_s:.1f} s, rtf {self.rtf:.2f}x (interval {self.interval_rtf:.2f}x), "
            f"cpu {self.cpu_per_audio_s:.3f} s/s, queue {self.queue_depth}/{self.queue_capacity}, "
            f"gaps {self.gap_samples} samples, saturated {self.saturated_samples} samples, crc errors {self.crc_errors}, "
            f"pending alerts {self.pending_alerts}, alerts {self.alerts}, windows {self.windows} "
            f"({self.unknown_windows} withheld as unknown, {self.irregular_windows} as irregular, "
            f"{self.prior_windows} turned normal by the class prior)"
        )

    def to_dict(self) -> dict:
        return asdict(self)


class StatsMeter:
    """Keeps the counters and decides when a stats line is due."""

    def __init__(self, every_s: float = 10.0, clock=time.monotonic, cpu_clock=time.process_time) -> None:
        if every_s < 0:
            raise ValueError(f"stats interval {every_s} s must be >= 0 (0 = never)")
        self.every_s = float(every_s)
        self._clock = clock
        self._cpu = cpu_clock
        self._t0 = clock()
        self._cpu0 = cpu_clock()
        self._last_t = self._t0
        self._last_audio = 0.0
        self.audio_s = 0.0
        self.windows = 0
        self.alerts = 0

    def add_audio(self, seconds: float) -> None:
        self.audio_s += seconds

    def due(self) -> bool:
        return self.every_s > 0 and self._clock() - self._last_t >= self.every_s

    def snapshot(self, queue_depth: int = 0, queue_capacity: int = 0, gap_samples: int = 0,
                 crc_errors: int = 0, pending_alerts: int = 0, mark: bool = True,
                 saturated_samples: int = 0, unknown_windows: int = 0,
                 irregular_windows: int = 0, prior_windows: int = 0) -> StatsSnapshot:
        now = self._clock()
        wall = max(now - self._t0, 1e-9)
        cpu = self._cpu() - self._cpu0
        d_audio = self.audio_s - self._last_audio
        d_wall = max(now - self._last_t, 1e-9)
        snap = StatsSnapshot(
            audio_s=self.audio_s, wall_s=wall, cpu_s=cpu,
            rtf=self.audio_s / wall, interval_rtf=d_audio / d_wall,
            cpu_per_audio_s=cpu / self.audio_s if self.audio_s > 0 else 0.0,
            queue_depth=queue_depth, queue_capacity=queue_capacity, gap_samples=gap_samples,
            crc_errors=crc_errors, pending_alerts=pending_alerts, alerts=self.alerts, windows=self.windows,
            saturated_samples=saturated_samples,
            unknown_windows=unknown_windows, irregular_windows=irregular_windows, prior_windows=prior_windows,
        )
        if mark:
            self._last_t = now
            self._last_audio = self.audio_s
        return snap
