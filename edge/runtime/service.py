"""The detection service loop.

::

    source ──reader thread──▶ bounded block queue ──▶ Pipeline (calibration, resample, front-end,
    windows, int8 LiteRT, smoothing, detector) ──▶ Outbox (SQLite, committed first) ──▶ local sinks
    (JSON lines) and ALERT frames over the bridge ──ACK──▶ outbox marks delivered

* The reader thread only moves blocks into a bounded queue and blocks when it is full, so a
  stall never grows memory: the back-pressure reaches the source's own bounded buffer
  (SerialLink stops reading the port and the unit drops what it cannot send; the ADC drops
  its oldest block) and the loss shows up as a gap in the sample counter.
* Alerts are stored before anything else sees them; on start the outbox's undelivered alerts
  are sent again with their original ids and unwritten ones are written to the sinks.
* Calibration: at start-up the source's µV per LSB (HELLO, ``?uv_per_lsb=``, WAV comment), the
  bundle's and the gain are logged (``calibration: source 0.1 µV/LSB → bundle 0.5 µV/LSB
  (-14.0 dB)``). An unknown source scale is a warning (samples used as they are) or, with
  ``strict``, a refusal. The reader thread queues a scale marker when a serial unit's HELLO
  changes it, so the new gain applies from the next block read after that HELLO.
* SIGTERM ends cleanly with exit 0 (systemd's stop), SIGINT with 130; a WAV source ends with
  exit 0 after the last window is processed and every alert is written.

Programmatic use (the demo)::

    from edge.runtime.service import RuntimeOptions, run
    summary = run(RuntimeOptions(bundle="default", source="wav:demo.wav", speed=None,
                                 alerts_jsonl="alerts.jsonl"))
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from clikit import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, UserError
from firmware_bridge.host.source import SampleBlock

from edge.runtime.alerts import AlertRecord, JsonlSink, iso_utc
from edge.runtime.config import RuntimeConfig
from edge.runtime.detector import Detection
from edge.runtime.outbox import Outbox, OutboxError
from edge.runtime.pipeline import Pipeline
from edge.runtime.sources import SourceSpec, check_rate, open_source, parse_source
from edge.runtime.stats import StatsMeter

log = logging.getLogger("emg-edge")

_EOF = object()


@dataclass(frozen=True)
class _Scale:
    """Queue marker: the source's µV per LSB changed (a new HELLO) before the next block."""

    uv_per_lsb: float
#: Most audio (s) merged into one front-end call from blocks already waiting in the queue.
COALESCE_S = 0.1
#: Alerts kept in :attr:`RunSummary.alerts` (bounded: the full record is the outbox / JSONL).
SUMMARY_ALERTS = 10000


@dataclass
class RuntimeOptions:
    """What :func:`run` needs. ``source`` is a source string or an open ``SampleSource``.

    ``speed``: WAV pacing (1.0 real time, N× faster, ``None`` as fast as possible).
    ``alerts_jsonl``: file path, ``"-"`` for stdout, ``None`` for no JSON-lines sink.
    ``outbox``: SQLite file; ``None`` keeps it in memory (not durable: use a file in service).
    ``classifier``/``frontend``: overrides for tests; default the bundle's int8 model and
    ``edge.frontend.Frontend``. ``stop_event``: set it to stop the service from another thread.
    ``drain_s``: how long to wait for outstanding ACKs when the stream ends or on stop.
    ``strict``: refuse (UserError) a source whose µV per LSB is unknown instead of warning.
    """

    bundle: Any = "default"
    source: Any = None
    config: RuntimeConfig | str | Path | None = None
    speed: float | None = 1.0
    alerts_jsonl: str | Path | None = None
    outbox: str | Path | None = None
    xnnpack: bool = False
    num_threads: int = 1
    stats_every_s: float | None = None
    on_alert: Callable[[AlertRecord], None] | None = None
    stop_event: threading.Event | None = None
    classifier: Any = None
    frontend: Any = None
    install_signal_handlers: bool = True
    drain_s: float = 3.0
    give_up_s: float | None = None
    link_kwargs: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


@dataclass
class RunSummary:
    """Outcome of :func:`run`. Times in seconds."""

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
    source_uv_per_lsb: float | None = None  # µV/LSB the source stated last (None: unknown)
    bundle_uv_per_lsb: float = 0.0
    alerts_raised: int = 0
    alerts_resent: int = 0
    pending_alerts: int = 0
    source_rate: int = 0
    model_rate: int = 0
    model_id: str = ""
    alerts: list[AlertRecord] = field(default_factory=list)

    @property
    def rtf(self) -> float:
        """Real-time factor: audio seconds per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


def load_config(config: RuntimeConfig | str | Path | None) -> RuntimeConfig:
    if config is None:
        return RuntimeConfig()
    if isinstance(config, RuntimeConfig):
        return config
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    return RuntimeConfig.from_toml(path)


def load_bundle_checked(bundle: Any) -> Any:
    """A bundle name/path → validated :class:`edge.bundle.Bundle`; refusals become UserError."""
    if not isinstance(bundle, (str, Path)):
        return bundle
    from edge.bundle import BundleError, load_bundle

    try:
        return load_bundle(bundle)
    except BundleError as exc:
        raise UserError(f"bundle refused: {exc}") from None


class _Reader(threading.Thread):
    """Moves blocks from the source to the bounded queue (the "ring buffer" of the pipeline).

    Port loss and reconnection are the source's business (SerialLink reopens the port itself
    and reports the samples it missed as a gap); an exception the source raises ends the
    stream and is re-raised by the service loop.
    """

    def __init__(self, source: Any, q: queue.Queue, stop: threading.Event, coalesce: int = 1,
                 scale: float | None = None) -> None:
        super().__init__(name="emg-edge-reader", daemon=True)
        self.scale = scale
        self.coalesce = int(coalesce)
        self.source = source
        self.q = q
        self.stop = stop
        self.error: BaseException | None = None

    def _put(self, item: Any) -> None:
        # Block when the pipeline is behind: the back-pressure reaches the source's own bounded
        # buffer (SerialLink stops reading the port; the ADC drops its oldest block), so memory
        # stays bounded and any loss shows up as a gap in the sample counter.
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _scale_changed(self) -> bool:
        uv = _source_scale(self.source)
        if uv is not None and uv != self.scale:
            self.scale = uv
            return True
        return False

    def run(self) -> None:
        try:
            self._loop()
        except EOFError:
            self._put(_EOF)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the service loop
            self.error = exc
            self._put(_EOF)

    def _loop(self) -> None:
        # Blocks already available are merged (up to ``coalesce`` samples) before queueing:
        # fewer queue hand-overs and front-end calls on a backlog, no added delay when live.
        while not self.stop.is_set():
            block = self.source.read_block(timeout=0.1)
            if block is None or not block.samples.size:
                continue
            if self._scale_changed():
                self._put(_Scale(self.scale))
            parts = [block]
            n = int(block.samples.size)
            try:
                while n < self.coalesce:
                    nxt = self.source.read_block(timeout=0)
                    if nxt is None:
                        break
                    if not nxt.samples.size:
                        continue
                    if self._scale_changed():
                        self._put(_merge(parts))
                        parts, n = [], 0
                        self._put(_Scale(self.scale))
                    elif nxt.first_index != parts[-1].first_index + parts[-1].samples.size:
                        self._put(_merge(parts))
                        parts, n = [], 0
                    parts.append(nxt)
                    n += int(nxt.samples.size)
            finally:
                if parts:
                    self._put(_merge(parts))


def _source_scale(source: Any) -> float | None:
    """The µV per LSB a source states now; None when it does not know (0 = no HELLO yet)."""
    uv = getattr(source, "uv_per_lsb", None)
    return float(uv) if uv else None


def _merge(parts: list) -> Any:
    if len(parts) == 1:
        return parts[0]
    return SampleBlock(parts[0].first_index, np.concatenate([b.samples for b in parts]), parts[0].gap_before)


class Service:
    """Runs one bundle on one source until the source ends or :attr:`stop` is set."""

    def __init__(self, opts: RuntimeOptions) -> None:
        self.opts = opts
        self.stop = opts.stop_event or threading.Event()
        self.config = load_config(opts.config)
        self.bundle = load_bundle_checked(opts.bundle)
        self.config.check_labels(tuple(self.bundle.labels))
        self.guard = self._open_set_guard()
        try:
            self.outbox = Outbox(opts.outbox or ":memory:", keep_delivered=self.config.keep_delivered)
        except OutboxError as exc:
            raise UserError(str(exc)) from None
        self.sinks: list[JsonlSink] = []
        if opts.alerts_jsonl is not None:
            self.sinks.append(JsonlSink(opts.alerts_jsonl))
        self.classifier = opts.classifier
        if self.classifier is None:
            from edge.inference import Int8Classifier

            self.classifier = Int8Classifier(self.bundle, xnnpack=opts.xnnpack, num_threads=opts.num_threads)
        self.summary = RunSummary(exit_code=EXIT_OK, reason="", model_id=str(self.bundle.model_id),
                                  model_rate=int(self.bundle.sample_rate))
        self._recent: deque[AlertRecord] = deque(maxlen=SUMMARY_ALERTS)
        self._signal = None

    def _open_set_guard(self) -> Any:
        """The bundle's open-set guard (None when disabled in the config or the bundle has none)."""
        from edge.bundle import Bundle, BundleError
        from edge.runtime.openset import load_guard

        if not self.config.open_set or not isinstance(self.bundle, Bundle):
            return None
        try:
            guard = load_guard(self.bundle)
        except BundleError as exc:
            raise UserError(f"bundle refused: {exc}") from None
        log.info("open-set guard: %s", "on" if guard is not None else "this bundle has none")
        return guard

    # -- alerts ------------------------------------------------------------------------------
    def _record_fields(self, det: Detection, rate: int) -> dict[str, Any]:
        return dict(
            label=det.label, pathological=bool(det.pathological), confidence=float(det.confidence),
            onset_sample=int(det.onset), offset_sample=int(det.offset),
            onset_s=round(det.onset / rate, 4), offset_s=round(det.offset / rate, 4),
            detected_s=round(det.detected_at / rate, 4),
            onset_wall=iso_utc(self._wall(det.onset)), offset_wall=iso_utc(self._wall(det.offset)),
            emitted_wall=iso_utc(time.time()), severity=int(det.severity),
            model_id=str(self.bundle.model_id), sample_rate=int(rate),
        )

    def _wall(self, index: int) -> float:
        idx0, t0 = self._wall_anchor
        return t0 + (index - idx0) / self._rate

    def _sink(self, rec: AlertRecord) -> None:
        for sink in self.sinks:
            sink.write(rec)
        self.outbox.mark_sunk(rec.id)
        if self.opts.on_alert is not None:
            try:
                self.opts.on_alert(rec)
            except Exception:  # noqa: BLE001 - a display callback must not stop detection
                log.exception("on_alert callback failed")

    def _send(self, rec: AlertRecord) -> None:
        if self._link is None:
            self.outbox.mark_delivered([rec.id])  # no amplifier: the local sinks are the delivery
            return
        self._reader.source.send_alert(rec.to_frame())
        self.outbox.mark_attempt(rec.id)

    def _raise(self, det: Detection) -> None:
        rec = self.outbox.store(self._record_fields(det, self._rate))
        self._recent.append(rec)
        self.summary.alerts_raised += 1
        log.info("ALERT %d %s conf %.2f onset %.2f s severity %d", rec.id, rec.label, rec.confidence,
                 rec.onset_s, rec.severity)
        self._sink(rec)
        self._send(rec)

    def _poll_acks(self) -> None:
        if self._link is None:
            return
        acked = list(self._reader.source.acked_alerts()) if self._reader else []
        if acked:
            self.outbox.mark_delivered(acked)

    def _resend_pending(self, sink: bool = True) -> None:
        if sink:
            for rec in self.outbox.unsunk():
                self._sink(rec)
        pending = self.outbox.undelivered()
        if pending:
            log.info("outbox: re-sending %d undelivered alert(s) (ids %d..%d)", len(pending), pending[0].id,
                     pending[-1].id)
        for rec in pending:
            self._send(rec)
            self.summary.alerts_resent += 1

    # -- signals -----------------------------------------------------------------------------
    def _install_signals(self) -> list[tuple[int, Any]]:
        if not self.opts.install_signal_handlers or threading.current_thread() is not threading.main_thread():
            return []
        old = []

        def handler(signum, _frame):
            self._signal = signum
            self.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            old.append((sig, signal.signal(sig, handler)))
        return old

    # -- main loop ---------------------------------------------------------------------------
    def _open(self) -> tuple[Any, SourceSpec | None]:
        src = self.opts.source
        if src is None:
            raise UserError("no source: give --source serial:URL, alsa:DEVICE or wav:FILE")
        if not isinstance(src, (str, SourceSpec)):
            return src, None
        spec = src if isinstance(src, SourceSpec) else parse_source(src)
        source = open_source(spec, speed=self.opts.speed, default_rate=int(self.bundle.sample_rate),
                             stop=self.stop, give_up_s=self.opts.give_up_s, link_kwargs=self.opts.link_kwargs)
        return source, spec

    def run(self) -> RunSummary:
        old_handlers = self._install_signals()
        t_start = time.monotonic()
        cpu_start = time.process_time()
        source = None
        self._reader = None
        self._link = None
        try:
            source, spec = self._open()
            if source is None:  # stopped while waiting for the port
                self.summary.reason = "stopped before the source appeared"
                self.summary.exit_code = EXIT_INTERRUPTED if self._signal == signal.SIGINT else EXIT_OK
                return self.summary
            return self._run(source, spec, t_start, cpu_start)
        finally:
            if self._reader is not None:
                self.stop.set()
                self._reader.join(timeout=2.0)
                source = self._reader.source
            if source is not None:
                try:
                    source.close()
                except Exception:  # noqa: BLE001
                    pass
            for sink in self.sinks:
                sink.close()
            self.summary.pending_alerts = self.outbox.pending_count()
            self.summary.alerts = list(self._recent)
            self.outbox.close()
            for sig, h in old_handlers:
                signal.signal(sig, h)

    def _run(self, source: Any, spec: SourceSpec | None, t_start: float, cpu_start: float) -> RunSummary:
        rate = int(source.sample_rate)
        self._rate = rate
        self.summary.source_rate = rate
        check_rate(rate, int(self.bundle.sample_rate), int(self.bundle.min_sample_rate),
                   what=f"source {spec}" if spec else "source")
        invert = spec.invert if spec is not None else bool(getattr(source, "invert", False))
        pipe = Pipeline(self.bundle, self.classifier, self.config, rate, frontend=self.opts.frontend, invert=invert,
                        guard=self.guard)
        scale = self._calibrate(pipe, source, spec)
        log.info("front-end: %s; bridge COBS decoder: %s", _frontend_kind(pipe.frontend), _cobs_kind())
        n_total = getattr(source, "n_samples", None)
        if n_total is not None and n_total < pipe.window_samples:
            raise UserError(
                f"{getattr(source, 'path', 'the WAV file')} is {n_total / rate:.3f} s long, shorter than one "
                f"analysis window ({pipe.window_samples / rate:.3f} s): nothing to classify"
            )
        self._link = source if hasattr(source, "send_alert") and hasattr(source, "acked_alerts") else None
        q: queue.Queue = queue.Queue(maxsize=self.config.queue_blocks)
        self._reader = _Reader(source, q, self.stop, coalesce=max(1, int(COALESCE_S * rate)), scale=scale)
        stats_every = self.opts.stats_every_s if self.opts.stats_every_s is not None else self.config.stats_every_s
        meter = StatsMeter(stats_every)
        self._wall_anchor = (None, time.time())
        self._stash = None
        coalesce = max(1, int(COALESCE_S * rate))
        self._resend_pending()
        self._reader.start()
        reason = ""
        while True:
            if self.stop.is_set():
                reason = "stopped by signal" if self._signal is not None else "stopped"
                break
            item = self._next_item(q, coalesce)
            if item is _EOF:
                if self._reader.error is not None:
                    raise self._reader.error
                reason = "end of stream"
                break
            if isinstance(item, _Scale):
                self._set_scale(pipe, item.uv_per_lsb, "the unit's HELLO changed it")
            elif item is not None:
                if self._wall_anchor[0] is None or pipe.counters.segments == 0:
                    self._wall_anchor = (item.first_index, time.time() - item.samples.size / rate)
                segs = pipe.counters.segments
                dets = pipe.feed(item)
                if pipe.counters.segments != segs and segs > 0:
                    self._wall_anchor = (item.first_index, time.time() - item.samples.size / rate)
                meter.add_audio(item.samples.size / rate)
                meter.windows = pipe.counters.windows
                for det in dets:
                    self._raise(det)
                    meter.alerts += 1
            self._poll_acks()
            if meter.due():
                log.info(self._snapshot(meter, q, pipe).line())
        if reason == "end of stream" and pipe.counters.windows == 0:
            raise UserError(
                f"the stream ended after {pipe.counters.samples / rate:.3f} s, shorter than one analysis window "
                f"({pipe.window_samples / rate:.3f} s): nothing to classify"
            )
        self._drain()
        snap = self._snapshot(meter, q, pipe)
        if stats_every:
            log.info(snap.line())
        self.summary.reason = reason
        self.summary.audio_s = snap.audio_s
        self.summary.wall_s = time.monotonic() - t_start
        self.summary.cpu_s = time.process_time() - cpu_start
        self.summary.samples = pipe.counters.samples
        self.summary.windows = pipe.counters.windows
        self.summary.gap_samples = pipe.counters.gap_samples
        self.summary.saturated_samples = pipe.counters.saturated_samples
        self.summary.unknown_windows = pipe.counters.unknown_windows
        self.summary.crc_errors = snap.crc_errors
        if self._signal == signal.SIGINT:
            self.summary.exit_code = EXIT_INTERRUPTED
        return self.summary

    def _calibrate(self, pipe: Pipeline, source: Any, spec: SourceSpec | None) -> float | None:
        """Set the pipeline's calibration from the source's scale at start-up; log it."""
        uv = _source_scale(source)
        self.summary.bundle_uv_per_lsb = pipe.bundle_uv_per_lsb
        name = f"source {spec}" if spec else "the source"
        if uv is None:
            fix = ("add ?uv_per_lsb=N (µV per LSB) to the source" if spec is None or spec.kind != "serial"
                   else "the unit's HELLO gave none")
            if self.opts.strict:
                raise UserError(f"{name} does not say its µV per LSB and --strict is set: {fix}")
            log.warning("calibration: %s does not say its µV per LSB: using its samples as if they were at the "
                        "bundle's %g µV/LSB (%s, or --strict to refuse)%s", name, pipe.bundle_uv_per_lsb, fix,
                        "; polarity inverted" if pipe.calibrator.config.invert else "")
            return None
        how = {"wav-comment": "WAV comment", "parameter": "?uv_per_lsb="}.get(
            getattr(source, "uv_per_lsb_source", ""), "HELLO" if hasattr(source, "hello") else "?uv_per_lsb=")
        self._set_scale(pipe, uv, how)
        return uv

    def _set_scale(self, pipe: Pipeline, uv: float, how: str) -> None:
        try:
            pipe.set_source_scale(uv)
        except ValueError as exc:
            raise UserError(f"calibration refused: {exc}") from None
        cfg = pipe.calibrator.config
        assumed = " (assumed: its manifest predates input.uv_per_lsb)" if getattr(
            self.bundle, "uv_per_lsb_assumed", False) else ""
        log.info("calibration: source %g µV/LSB (%s) → bundle %g µV/LSB%s (%+.1f dB, Q16 gain %d)%s", uv, how,
                 cfg.target_uv_per_lsb, assumed, cfg.gain_db, cfg.gain_q16,
                 "; polarity inverted" if cfg.invert else "")
        self.summary.source_uv_per_lsb = uv

    def _next_item(self, q: queue.Queue, max_samples: int) -> Any:
        """Next block, merged with the contiguous blocks already waiting (up to ``max_samples``).

        Only what is already queued is merged, so this adds no latency on a live stream; on a
        backlog (replays, catching up) it saves the front-end's per-call overhead.
        """
        if self._stash is not None:
            item, self._stash = self._stash, None
        else:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                return None
        if item is _EOF or isinstance(item, _Scale):
            return item
        parts = [item]
        n = int(item.samples.size)
        end = item.first_index + n
        while n < max_samples:
            try:
                nxt = q.get_nowait()
            except queue.Empty:
                break
            if nxt is _EOF or isinstance(nxt, _Scale) or nxt.first_index != end:
                self._stash = nxt
                break
            parts.append(nxt)
            n += int(nxt.samples.size)
            end += int(nxt.samples.size)
        if len(parts) == 1:
            return item
        return SampleBlock(item.first_index, np.concatenate([b.samples for b in parts]), item.gap_before)

    def _drain(self) -> None:
        """Wait up to ``drain_s`` for the amplifier to ACK outstanding alerts."""
        if self._link is None:
            return
        deadline = time.monotonic() + self.opts.drain_s
        while self.outbox.pending_count() and time.monotonic() < deadline:
            self._poll_acks()
            time.sleep(0.02)

    def _snapshot(self, meter: StatsMeter, q: queue.Queue, pipe: Pipeline):
        link_stats = getattr(self._reader.source, "stats", None) if self._reader else None
        crc = int(getattr(link_stats, "crc_errors", 0) or 0)
        return meter.snapshot(queue_depth=q.qsize(), queue_capacity=q.maxsize,
                              gap_samples=pipe.counters.gap_samples, crc_errors=crc,
                              pending_alerts=self.outbox.pending_count(),
                              saturated_samples=pipe.counters.saturated_samples,
                              unknown_windows=pipe.counters.unknown_windows)


def run(opts: RuntimeOptions) -> RunSummary:
    """Run the service with ``opts`` until the source ends or it is stopped.

    Raises :class:`~clikit.UserError` for what the user must fix (bundle
    refused, source string or rate, config); returns a :class:`RunSummary` otherwise.

    numpy's BLAS is held to one thread for the run: the front-end's matrix products are
    small, and a multi-threaded OpenBLAS made blocks of more than 16 frames about 3× slower
    when the process shares its core (measured: 0.5 s chunks 74× → 205× real time).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return Service(opts).run()


__all__ = ["RuntimeOptions", "RunSummary", "Service", "run", "EXIT_OK", "EXIT_FAILURE"]


def _frontend_kind(frontend: Any) -> str:
    """Which evaluation of the front-end spec runs (the compiled kernel or the numpy code)."""
    kind = getattr(frontend, "kernel", None)
    return {"c": "compiled C kernel", "numpy": "numpy (the compiled kernel is not in use)"}.get(kind, type(frontend).__name__)


def _cobs_kind() -> str:
    from firmware_bridge.codec import cobs

    return "compiled (firmware C codec)" if cobs.ACCELERATED else "Python (firmware_bridge.codec._ccodec not built)"
