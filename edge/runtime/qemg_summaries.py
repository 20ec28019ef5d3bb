"""QEMG while detection runs, part 2: stretches → :func:`edge.quant.quantify` → stretch summaries.

::

    StretchTracker ──Stretch──▶ QemgWorker (bounded queue, one thread: quantify, rules, pattern
    (edge.runtime.qemg_stretches)            model) ──▶ results
    service loop ◀── StretchSummary ── QemgRun.poll ──┘ ──▶ Delivery.summary: JSON lines, QEMG_SUMMARY frame

Quantifying costs about 1.3 s per 60 s of 10 kHz EMG (docs/QEMG.md), so it runs on one worker
thread behind a queue of ``QemgConfig.queue`` stretches: :meth:`QemgWorker.submit` never waits;
when the queue is full the stretch is skipped and counted (``skipped``), the detection loop
loses nothing. A failure inside a quantification is logged and counted (``failed``), never
raised. :class:`QemgRun` wires a tracker and a worker into one run of the service.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from edge.runtime.qemg_stretches import QemgConfig, Stretch, StretchTracker

log = logging.getLogger("emg-edge")

#: QemgPattern codes (firmware_bridge.codec.QemgPattern) of the rule labels and the model labels.
RULE_CODES = {"indeterminate": 1, "within limits": 2, "neurogenic-looking": 3, "myopathic-looking": 4}
MODEL_CODES = {"indeterminate": 1, "normal": 2, "neurogenic": 3, "myopathic": 4}

__all__ = ["StretchSummary", "QemgWorker", "QemgRun", "summarise", "RULE_CODES", "MODEL_CODES"]


@dataclass(frozen=True)
class StretchSummary:
    """The measures of one stretch, as written to the JSON lines (``type: qemg_summary``).

    Times: ``start_s``/``end_s`` = sample index / ``sample_rate`` (s). Measures over the units
    found (None when there are none): median peak-to-peak amplitude (µV), median duration (ms),
    share of polyphasic units (≥ 5 phases, %), mean firing rate (Hz). ``pattern``: the rule-based
    label (:mod:`edge.quant.pattern`) with ``pattern_drivers``/``pattern_reason``;
    ``model_pattern``/``model_confidence``: the learned model's call and its mean probability
    (None without a model). ``reason``: why no unit was found. ``compute_s``: wall time of the
    quantification (s). A pattern, never a diagnosis (``note``).
    """

    stretch_id: int
    start_sample: int
    end_sample: int
    start_s: float
    end_s: float
    sample_rate: int
    n_units: int
    median_amplitude_uv: float | None
    median_duration_ms: float | None
    polyphasic_pct: float | None
    mean_firing_rate_hz: float | None
    pattern: str
    pattern_drivers: list[str] = field(default_factory=list)
    pattern_reason: str | None = None
    model_pattern: str | None = None
    model_confidence: float | None = None
    reason: str | None = None
    muscle: str | None = None
    uv_per_lsb: float = 0.0
    compute_s: float = 0.0
    note: str = ""
    type: str = "qemg_summary"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"type": d.pop("type"), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def to_frame(self):
        """The QEMG_SUMMARY frame: each measure rounded half to even to its wire unit, then
        clamped to its field (µV u16, 0.1 ms u16, 0.01 % 0..10000, 0.01 Hz u16, units u8)."""
        from firmware_bridge.codec import QemgSummary  # local: keeps this module light

        def fixed(v: float | None, scale: float, hi: int) -> int:
            return 0 if v is None or not math.isfinite(v) else int(min(max(round(v * scale), 0), hi))

        return QemgSummary(
            stretch_id=self.stretch_id & 0xFFFFFFFF, start=int(self.start_sample), end=int(self.end_sample),
            n_units=min(self.n_units, 255), rule_pattern=RULE_CODES.get(self.pattern, 1),
            model_pattern=0 if self.model_pattern is None else MODEL_CODES.get(self.model_pattern, 1),
            amplitude_uv=fixed(self.median_amplitude_uv, 1, 0xFFFF),
            duration_tenth_ms=fixed(self.median_duration_ms, 10, 0xFFFF),
            polyphasic_hundredth_pct=fixed(self.polyphasic_pct, 100, 10000),
            rate_hundredth_hz=fixed(self.mean_firing_rate_hz, 100, 0xFFFF),
            model_confidence=min(max(float(self.model_confidence or 0.0), 0.0), 1.0))


def summarise(stretch: Stretch, stretch_id: int, cfg: QemgConfig, model: Any = None) -> StretchSummary:
    """Quantify one stretch (:func:`edge.quant.quantify`), its rule-based pattern and, with
    ``model`` (an :class:`edge.quant.pattern_model.PatternModel`), the model's call."""
    from edge.quant import quantify
    from edge.quant.pattern import NOT_A_DIAGNOSIS, recording_means

    t0 = time.monotonic()
    result = quantify(stretch.samples, stretch.sample_rate, uv_per_lsb=stretch.uv_per_lsb, muscle=cfg.muscle)
    units = result.units
    med = (lambda f: round(float(np.median([f(u) for u in units])), 3) if units else None)
    means = recording_means(result.measures)
    pat = result.pattern or {}
    call = model.classify(stretch.samples, stretch.sample_rate, stretch.uv_per_lsb) if model is not None else None
    rate = stretch.sample_rate
    return StretchSummary(
        stretch_id=stretch_id, start_sample=stretch.start, end_sample=stretch.end,
        start_s=round(stretch.start / rate, 4), end_s=round(stretch.end / rate, 4), sample_rate=rate,
        n_units=len(units), median_amplitude_uv=med(lambda u: u.amplitude_uv),
        median_duration_ms=med(lambda u: u.duration_ms),
        polyphasic_pct=None if means["polyphasic_pct"] is None else round(means["polyphasic_pct"], 2),
        mean_firing_rate_hz=round(float(np.mean([u.firing_rate_hz for u in units])), 3) if units else None,
        pattern=str(pat.get("label", "indeterminate")), pattern_drivers=list(pat.get("drivers", [])),
        pattern_reason=pat.get("reason"),
        model_pattern=None if call is None else call.label,
        model_confidence=None if call is None or not call.probabilities else round(
            float(call.probabilities.get(call.label, 0.0)), 4),
        reason=result.measures.reason, muscle=cfg.muscle, uv_per_lsb=stretch.uv_per_lsb,
        compute_s=round(time.monotonic() - t0, 3), note=NOT_A_DIAGNOSIS)


_STOP = object()


class QemgWorker:
    """One background thread that summarises stretches in order (:func:`summarise`).

    :meth:`submit` never blocks (a full queue skips the stretch: ``skipped``); :meth:`results`
    returns the summaries finished since the last call; :meth:`close` waits at most its timeout
    for the queue, then leaves the rest (``abandoned``). The pattern model is loaded on the
    worker's thread at the first stretch (its interpreter is used by that thread only); if it
    cannot be loaded the summaries carry no model call (logged once).
    """

    def __init__(self, cfg: QemgConfig) -> None:
        self.cfg = cfg
        self._jobs: queue.Queue = queue.Queue(maxsize=cfg.queue)
        self._done: queue.Queue = queue.Queue()
        self.submitted = 0
        self.skipped = 0
        self.failed = 0
        self.abandoned = 0
        self._next_id = 1
        self._closed = False
        self._model: Any = None
        self._model_tried = cfg.pattern_bundle is None
        self._thread = threading.Thread(target=self._run, name="qemg-worker", daemon=True)
        self._thread.start()

    def submit(self, stretch: Stretch) -> bool:
        try:
            self._jobs.put_nowait(stretch)
        except queue.Full:
            self.skipped += 1
            log.warning("QEMG: stretch %.1f-%.1f s skipped: %d still being quantified (%d skipped so far)",
                        stretch.start / stretch.sample_rate, stretch.end / stretch.sample_rate, self.cfg.queue,
                        self.skipped)
            return False
        self.submitted += 1
        return True

    def results(self) -> list[StretchSummary]:
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the queued stretches, then stop the thread (once)."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._put_stop(deadline):
            try:  # still full at the deadline: leave what is queued
                self._jobs.get_nowait()
                self.abandoned += 1
            except queue.Empty:
                pass
        self._thread.join(max(deadline - time.monotonic(), 0.0) + 0.05)
        if self._thread.is_alive():
            self.abandoned += max(self._jobs.qsize() - 1, 0)  # not the stop marker; the current one finishes

    def _put_stop(self, deadline: float) -> bool:
        try:
            self._jobs.put(_STOP, timeout=max(deadline - time.monotonic(), 0.001))
            return True
        except queue.Full:
            return False

    def _load_model(self) -> None:
        self._model_tried = True
        try:
            from edge.quant.pattern_model import PatternModel

            self._model = PatternModel(self.cfg.pattern_bundle)
        except Exception as exc:  # noqa: BLE001 - summaries go on without the model's call
            log.warning("QEMG: pattern model %r not loaded (%s); summaries carry the rule-based pattern only",
                        self.cfg.pattern_bundle, " ".join(str(exc).split()))

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            if not self._model_tried:
                self._load_model()
            model = self._model
            if model is not None and job.sample_rate < model.bundle.min_sample_rate:
                model = None  # the model's front-end needs a higher rate: rules only
            try:
                rec = summarise(job, self._next_id, self.cfg, model)
            except Exception as exc:  # noqa: BLE001 - a bad stretch must not stop the worker
                self.failed += 1
                log.warning("QEMG: stretch %.1f-%.1f s not quantified: %s", job.start / job.sample_rate,
                            job.end / job.sample_rate, " ".join(str(exc).split()))
                continue
            self._next_id += 1
            self._done.put(rec)


class QemgRun:
    """The QEMG side of one run: a tracker on the pipeline (:attr:`Pipeline.tap`), a worker, and
    the summaries handed to ``publish`` (:meth:`edge.runtime.delivery.Delivery.summary`).

    :meth:`for_run` decides whether there is one: ``enabled`` None (the default) = on when the
    bundle has the stretch class (a detector bundle with ``voluntary_muap``), True = required
    (UserError without that class), False = off.
    """

    def __init__(self, cfg: QemgConfig, pipe: Any, sample_rate: int) -> None:
        self.cfg = cfg
        self.published = 0
        self.worker = QemgWorker(cfg)
        lookback = 2 * int(pipe.window_samples) + int(sample_rate)  # a window's span and the chain's delay
        self.tracker = StretchTracker(cfg, pipe.bundle.labels, sample_rate, pipe.bundle_uv_per_lsb, lookback,
                                      self.worker.submit)
        pipe.tap = self.tracker

    @classmethod
    def for_run(cls, enabled: bool | None, cfg: QemgConfig, pipe: Any, sample_rate: int) -> "QemgRun | None":
        from clikit import UserError

        labels = list(pipe.bundle.labels)
        if enabled is False or (enabled is None and cfg.label not in labels):
            return None
        if cfg.label not in labels:
            raise UserError(f"--qemg: bundle {pipe.bundle.model_id} has no class {cfg.label!r} to find voluntary "
                            "stretches in (use --no-qemg)")
        if cfg.muscle is not None:
            from edge.quant.reference import reference_for

            try:
                reference_for(cfg.muscle)
            except ValueError as exc:
                raise UserError(f"--qemg-muscle: {exc}") from None
        log.info("QEMG: on (%s stretches of %g..%g s, pattern model %s)", cfg.label, cfg.min_s, cfg.max_s,
                 cfg.pattern_bundle or "none")
        return cls(cfg, pipe, sample_rate)

    def poll(self, publish: Callable[[StretchSummary], None]) -> None:
        """Hand out the summaries finished since the last call (the detection loop's thread)."""
        for rec in self.worker.results():
            publish(rec)
            self.published += 1

    def finish(self, publish: Callable[[StretchSummary], None], ended: bool, run_summary: Any = None) -> None:
        """At the end of the run: with ``ended`` (the stream ended) the open stretch is closed and
        the queue gets up to ``drain_s``; after a stop nothing more is quantified. The counts go
        to ``run_summary`` (:class:`edge.runtime.summary.RunSummary`) when given."""
        if ended:
            self.tracker.reset()
        self.worker.close(self.cfg.drain_s if ended else 0.0)
        self.poll(publish)
        if run_summary is not None:
            run_summary.qemg_summaries = self.published
            run_summary.qemg_skipped, run_summary.qemg_failed = self.worker.skipped, self.worker.failed
