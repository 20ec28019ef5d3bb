"""QEMG while detection runs: voluntary stretches → :func:`edge.quant.quantify` → stretch summaries.

::

    Pipeline (calibrated samples, window posteriors) ──▶ StretchTracker ──stretch──▶ QemgWorker
    (the detection loop; never blocks)                    (bounded queue, one thread: quantify,
                                                           rules, pattern model) ──▶ results
    service loop ◀── StretchSummary ── poll ──┘  ──▶ Delivery.summary: JSON lines, QEMG_SUMMARY frame

Config: :class:`QemgConfig`. A *stretch* is a run of consecutive analysis windows whose most
probable class is ``label`` (``voluntary_muap``), from the first one's start to the last one's
end (source sample indices). It ends on a window of another class, at a new stream segment
(:mod:`edge.runtime.pipeline`: long gap, amplifier restart) or at the end of the stream; one
longer than ``max_s`` is cut there and goes on as the next stretch, so a long contraction
reports every ``max_s`` seconds. Stretches shorter than ``min_s`` are not quantified.

The samples are the pipeline's calibrated ones: int16 at the bundle's µV per LSB (the source's
scale through :mod:`edge.calibration`), at the source's rate, gaps up to ``max_gap_fill_s``
filled with zeros. :class:`StretchTracker` keeps only what an open stretch or the next window
can need (at most ``max_s`` plus a few windows of samples).

Quantifying costs about 1.3 s per 60 s of 10 kHz EMG (docs/QEMG.md), so it runs on one worker
thread behind a queue of ``queue`` stretches: :meth:`QemgWorker.submit` never waits; when the
queue is full the stretch is skipped and counted (``skipped``), the detection loop loses nothing.
A failure inside a quantification is logged and counted (``failed``), never raised.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

log = logging.getLogger("emg-edge")

#: The class whose windows make a stretch, unless the config names another.
VOLUNTARY = "voluntary_muap"
#: QemgPattern codes (firmware_bridge.codec.QemgPattern) of the rule labels and the model labels.
RULE_CODES = {"indeterminate": 1, "within limits": 2, "neurogenic-looking": 3, "myopathic-looking": 4}
MODEL_CODES = {"indeterminate": 1, "normal": 2, "neurogenic": 3, "myopathic": 4}

__all__ = ["QemgConfig", "Stretch", "StretchSummary", "StretchTracker", "QemgWorker", "QemgRun", "summarise",
           "VOLUNTARY"]


@dataclass(frozen=True)
class QemgConfig:
    """What ``emg-edge run`` quantifies and how (validated at construction).

    ``min_s``: shortest stretch quantified, s (1–120; default 5: a handful of discharges per
    unit at 8–15 Hz is ~40–75, enough for a median template). ``max_s``: longest, s (``min_s``–600;
    default 30: a long contraction reports every 30 s). ``queue``: stretches waiting for the
    worker (1–64; beyond, skipped and counted). ``drain_s``: how long the end of a stream waits
    for the stretches still queued, s (0–600). ``label``: the class that makes a stretch.
    ``muscle``: reference row of the rule-based pattern (None = the wide *unspecified* limits).
    ``pattern_bundle``: the learned pattern model's bundle (name or directory; None = no model).
    """

    min_s: float = 5.0
    max_s: float = 30.0
    queue: int = 2
    drain_s: float = 30.0
    label: str = VOLUNTARY
    muscle: str | None = None
    pattern_bundle: str | None = "muap_pattern"

    def __post_init__(self) -> None:
        for name, v, lo, hi in (("min_s", self.min_s, 1.0, 120.0), ("max_s", self.max_s, self.min_s, 600.0),
                                ("queue", self.queue, 1, 64), ("drain_s", self.drain_s, 0.0, 600.0)):
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"QemgConfig.{name} = {v!r}: allowed range is {lo:g}..{hi:g}")
        if not isinstance(self.queue, int):
            raise ValueError(f"QemgConfig.queue = {self.queue!r}: must be an integer in 1..64")
        if not (isinstance(self.label, str) and self.label):
            raise ValueError(f"QemgConfig.label = {self.label!r}: must name a class of the bundle")


@dataclass(frozen=True)
class Stretch:
    """One voluntary stretch: source indices ``[start, end)`` and its int16 ``samples`` at
    ``uv_per_lsb`` µV per LSB and ``sample_rate`` Hz."""

    start: int
    end: int
    samples: np.ndarray
    sample_rate: int
    uv_per_lsb: float


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


class StretchTracker:
    """Finds voluntary stretches in the pipeline's window calls and cuts their samples.

    The pipeline calls :meth:`samples` with each calibrated block (source index of its first
    sample), :meth:`window` with each window's posteriors and span, and :meth:`reset` at a new
    segment; ``on_stretch(Stretch)`` gets each stretch of at least ``min_s``. ``labels``: the
    bundle's class order; ``lookback`` (samples): how far behind the newest sample a window may
    start (a few windows; the front-end's and resampler's delay).
    """

    def __init__(self, cfg: QemgConfig, labels, sample_rate: int, uv_per_lsb: float, lookback: int,
                 on_stretch: Callable[[Stretch], None]) -> None:
        labels = list(labels)
        if cfg.label not in labels:
            raise ValueError(f"QEMG: the bundle has no class {cfg.label!r} (its classes: {', '.join(labels)})")
        self.cfg = cfg
        self.index = labels.index(cfg.label)
        self.sample_rate = int(sample_rate)
        self.uv_per_lsb = float(uv_per_lsb)
        self.lookback = int(lookback)
        self.on_stretch = on_stretch
        self.min_samples = int(round(cfg.min_s * self.sample_rate))
        self.max_samples = int(round(cfg.max_s * self.sample_rate))
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._newest = 0  # source index after the last sample received
        self._open: int | None = None  # start of the open stretch
        self._end = 0  # end of its last voluntary window
        self.stretches = 0  # stretches handed to on_stretch

    def samples(self, first_index: int, x: np.ndarray) -> None:
        if x.size:
            self._chunks.append((int(first_index), np.array(x, dtype=np.int16, copy=True)))
            self._newest = int(first_index) + int(x.size)
            self._trim()

    def window(self, probs: np.ndarray, start: int, end: int) -> None:
        if int(np.argmax(probs)) != self.index:
            self._close()
            return
        if self._open is None:
            self._open = int(start)
        self._end = max(self._end, int(end))
        if self._end - self._open >= self.max_samples:  # long contraction: report, go on
            cut = self._open + self.max_samples
            self._emit(self._open, cut)
            self._open = cut

    def reset(self) -> None:
        """A new segment (or the end of the stream): close the open stretch, forget the samples."""
        self._close()
        self._chunks.clear()

    def _close(self) -> None:
        if self._open is not None and self._end - self._open >= self.min_samples:
            self._emit(self._open, self._end)
        self._open = None
        self._end = 0

    def _emit(self, a: int, b: int) -> None:
        x = self._cut(a, b)
        if x.size >= self.min_samples:
            self.stretches += 1
            self.on_stretch(Stretch(a, a + int(x.size), x, self.sample_rate, self.uv_per_lsb))

    def _cut(self, a: int, b: int) -> np.ndarray:
        parts = [x[max(a - s, 0):max(b - s, 0)] for s, x in self._chunks if s < b and s + x.size > a]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def _trim(self) -> None:
        keep = self._newest - self.lookback
        if self._open is not None:
            keep = min(keep, self._open)
        while self._chunks and self._chunks[0][0] + self._chunks[0][1].size <= keep:
            self._chunks.popleft()


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
