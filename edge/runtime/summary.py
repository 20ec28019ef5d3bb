"""The end-of-run summary :func:`edge.runtime.service.run` returns (times in seconds)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge.runtime.alerts import AlertRecord
from edge.runtime.pipeline import PipelineCounters

#: Alerts kept in :attr:`RunSummary.alerts` (bounded: the full record is the outbox / JSONL).
SUMMARY_ALERTS = 10000


@dataclass
class RunSummary:
    """Outcome of a run: why it ended, what it processed and raised."""

    exit_code: int
    reason: str
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    samples: int = 0
    windows: int = 0
    gap_samples: int = 0
    crc_errors: int = 0
    saturated_samples: int = 0
    unknown_windows: int = 0  # pathological calls withheld by the open-set guard
    irregular_windows: int = 0  # fibrillation / PSW / fasciculation calls withheld by the rhythm check
    prior_windows: int = 0  # pathological calls the class prior turned into normal ones
    source_uv_per_lsb: float | None = None  # µV/LSB the source stated last (None: unknown)
    bundle_uv_per_lsb: float = 0.0
    alerts_raised: int = 0
    alerts_resent: int = 0
    pending_alerts: int = 0
    source_rate: int = 0
    model_rate: int = 0
    model_id: str = ""
    qemg_summaries: int = 0  # voluntary stretches summarised (edge.runtime.qemg_summaries)
    qemg_skipped: int = 0  # stretches skipped: the worker's queue was full
    qemg_failed: int = 0  # stretches whose quantification failed (logged)
    alerts: list[AlertRecord] = field(default_factory=list)
    #: The newest alerts raised this run (copied to :attr:`alerts` at the end).
    recent: deque[AlertRecord] = field(default_factory=lambda: deque(maxlen=SUMMARY_ALERTS), repr=False)

    @property
    def rtf(self) -> float:
        """Real-time factor: audio seconds per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def count(self, counters: PipelineCounters) -> None:
        """Take the stream's totals from the pipeline's counters."""
        self.samples = counters.samples
        self.windows = counters.windows
        self.gap_samples = counters.gap_samples
        self.saturated_samples = counters.saturated_samples
        self.unknown_windows = counters.unknown_windows
        self.irregular_windows = counters.irregular_windows
        self.prior_windows = counters.prior_windows
