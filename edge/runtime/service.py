"""The detection service: the loop that wires a source, the pipeline and alert delivery.

::

    source ──Reader thread──▶ bounded queue ──▶ Pipeline (calibration, resample, front-end,
    windows, int8 LiteRT, open-set guard, decision) ──▶ Delivery (SQLite outbox, committed
    first; then JSON lines and the other listeners, and ALERT frames on the link) ──ACK──▶ outbox

The parts: :mod:`~edge.runtime.sources` opens the source and says whether it is also the alert
channel; :mod:`~edge.runtime.reader` moves and merges blocks; :mod:`~edge.runtime.pipeline`
turns samples into detections; :mod:`~edge.runtime.delivery` stores and hands out alerts;
:mod:`~edge.runtime.roles` names what each collaborator must provide.

* On start the outbox's undelivered alerts are sent again with their original ids and
  unwritten ones are written to the listeners.
* Calibration: at start-up the source's µV per LSB (HELLO, ``?uv_per_lsb=``, WAV comment), the
  bundle's and the gain are logged (``calibration: source 0.1 µV/LSB → bundle 0.5 µV/LSB
  (-14.0 dB)``). An unknown source scale is a warning (samples used as they are) or, with
  ``strict``, a refusal. A new scale from the unit's HELLO applies from the next block read
  after that HELLO.
* SIGTERM ends cleanly with exit 0 (systemd's stop), SIGINT with 130, within a second in every
  state (a stop waits at most :data:`STOP_DRAIN_S` s for ACKs); a WAV source ends with exit 0
  after the last window. UserError (exit 2) only for what the operator must fix; what the unit
  states and any failure once streaming is a SourceFault (exit 1): ``docs/RELIABILITY.md``.

Programmatic use (the demo)::

    from edge.runtime.service import RuntimeOptions, run
    summary = run(RuntimeOptions(bundle="default", source="wav:demo.wav", speed=None,
                                 alerts_jsonl="alerts.jsonl"))
"""

from __future__ import annotations

import logging
import threading
import time

from clikit import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, UserError

from edge.runtime.alerts import JsonlSink, StreamClock, alert_fields
from edge.runtime.delivery import CallbackListener, Delivery
from edge.runtime.mqtt_sink import fleet_outputs
from edge.runtime.options import RuntimeOptions, load_bundle_checked, load_config, load_guard_checked
from edge.runtime.pipeline import Pipeline
from edge.runtime.qemg_summaries import QemgRun
from edge.runtime.reader import COALESCE_S, END, Reader, ScaleChange
from edge.runtime.roles import SampleBlock
from edge.runtime.signals import StopOnSignals
from edge.runtime.startup import calibrate, cobs_kind, frontend_kind, set_scale
from edge.runtime.sources import OpenedSource, SourceFault, SourceSpec, check_rate, open_source, parse_source
from edge.runtime.stats import StatsMeter, StatsSnapshot
from edge.runtime.summary import RunSummary

log = logging.getLogger("emg-edge")

#: Seconds a stop (SIGTERM/SIGINT) still waits for outstanding ACKs.
STOP_DRAIN_S = 0.3


class Service:
    """Runs one bundle on one source until the source ends or :attr:`stop` is set."""

    def __init__(self, opts: RuntimeOptions) -> None:
        self.opts = opts
        self.stop = opts.stop_event or threading.Event()
        self.config = load_config(opts.config)
        self.bundle = load_bundle_checked(opts.bundle, opts.trusted_keys)
        self.config.check_labels(tuple(self.bundle.labels))
        self.guard = load_guard_checked(self.bundle) if self.config.open_set else None
        self.delivery = Delivery.open(opts.outbox, self.config.keep_delivered)
        try:
            self._connect_outputs(opts)
        except BaseException:
            self.delivery.close()  # frees the outbox's lock for the next try in this process
            raise
        self.summary = RunSummary(exit_code=EXIT_OK, reason="", model_id=str(self.bundle.model_id),
                                  model_rate=int(self.bundle.sample_rate))
        self.signals = StopOnSignals(self.stop, opts.install_signal_handlers)
        self._reader: Reader | None = None
        self._qemg: QemgRun | None = None

    def _connect_outputs(self, opts: RuntimeOptions) -> None:
        """The outputs (JSON lines, listeners, callback, MQTT) and the classifier."""
        if opts.alerts_jsonl is not None:
            sink = JsonlSink(opts.alerts_jsonl)
            self.delivery.listeners.append(sink)
            self.delivery.summary_listeners.append(sink)  # QEMG summaries: same lines, "type" tells them apart
        self.delivery.listeners += opts.listeners
        self.delivery.summary_listeners += opts.summary_listeners
        if opts.on_alert is not None:
            self.delivery.listeners.append(CallbackListener(opts.on_alert))
        self.delivery.outputs += opts.outputs + fleet_outputs(self.config.fleet)  # MQTT: [fleet] / --mqtt
        self.classifier = opts.classifier
        if self.classifier is None:
            from edge.inference import Int8Classifier

            self.classifier = Int8Classifier(self.bundle, xnnpack=opts.xnnpack, num_threads=opts.num_threads)

    def run(self) -> RunSummary:
        t_start, cpu_start = time.monotonic(), time.process_time()
        opened = None
        with self.signals:
            try:
                opened = self._open()
                if opened is None:  # stopped while waiting for the port
                    self.summary.reason = "stopped before the source appeared"
                    self.summary.exit_code = EXIT_INTERRUPTED if self.signals.interrupted else EXIT_OK
                    return self.summary
                return self._run(opened, t_start, cpu_start)
            finally:
                if self._reader is not None and self._reader.ident is not None:  # started
                    self.stop.set()
                    self._reader.join(timeout=2.0)
                if self._qemg is not None:
                    self._qemg.worker.close(0.0)  # no-op after a finished run
                if opened is not None:
                    try:
                        opened.source.close()
                    except Exception:  # noqa: BLE001 - closing must not hide why the run ended
                        pass
                self.summary.alerts_raised, self.summary.alerts_resent = self.delivery.raised, self.delivery.resent
                self.summary.pending_alerts = self.delivery.pending
                self.summary.alerts = list(self.summary.recent)
                self.delivery.close()

    def _open(self) -> OpenedSource | None:
        src = self.opts.source
        if src is None:
            raise UserError("no source: give --source serial:URL, alsa:DEVICE, wav:FILE, edf:FILE or wfdb:RECORD")
        if isinstance(src, OpenedSource):
            return src
        if not isinstance(src, (str, SourceSpec)):
            return OpenedSource(src, scale_origin="the source")
        spec = src if isinstance(src, SourceSpec) else parse_source(src)
        return open_source(spec, speed=self.opts.speed, default_rate=int(self.bundle.sample_rate),
                           stop=self.stop, give_up_s=self.opts.give_up_s, link_kwargs=self.opts.link_kwargs)

    def _run(self, opened: OpenedSource, t_start: float, cpu_start: float) -> RunSummary:
        rate = int(opened.source.sample_rate)
        self.summary.source_rate = rate
        check_rate(rate, int(self.bundle.sample_rate), int(self.bundle.min_sample_rate), what=opened.name,
                   from_unit=opened.from_unit)
        pipe = Pipeline(self.bundle, self.classifier, self.config, rate, frontend=self.opts.frontend,
                        invert=opened.invert, guard=self.guard)
        scale = calibrate(pipe, opened, self.bundle, self.summary, self.opts.strict)
        self._qemg = QemgRun.for_run(self.opts.qemg, self.opts.qemg_config, pipe, rate)
        log.info("front-end: %s; bridge COBS decoder: %s", frontend_kind(pipe.frontend), cobs_kind())
        if opened.n_samples is not None and opened.n_samples < pipe.window_samples:  # a file: the user's
            raise UserError(f"{opened.file} is {opened.n_samples / rate:.3f} s long, shorter than one analysis "
                            f"window ({pipe.window_samples / rate:.3f} s): nothing to classify")
        self.delivery.connect(opened.channel)
        self._reader = Reader(opened.source, self.stop, self.config.queue_blocks, int(COALESCE_S * rate), scale)
        every = self.opts.stats_every_s if self.opts.stats_every_s is not None else self.config.stats_every_s
        meter = StatsMeter(every)
        self.delivery.resend_pending()
        self._reader.start()
        try:
            reason = self._loop(pipe, meter, StreamClock(rate, replay=opened.n_samples is not None), opened)
        except (UserError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            # exit 2 (clikit's for these) is not restarted; once streaming nothing is the operator's
            raise SourceFault(f"stopped while running: {' '.join(str(exc).split())}") from exc
        if self._qemg is not None:
            self._qemg.finish(self.delivery.summary, reason == "end of stream", self.summary)
        if reason == "end of stream" and pipe.counters.windows == 0:
            short = (f"the stream ended after {pipe.counters.samples / rate:.3f} s, shorter than one analysis "
                     f"window ({pipe.window_samples / rate:.3f} s): nothing to classify")
            raise SourceFault(short) if opened.from_unit else UserError(short)
        if self.stop.is_set():  # a stop: brief; the outbox keeps what is not ACKed for the next start
            self.delivery.drain(min(self.opts.drain_s, STOP_DRAIN_S))
        else:
            self.delivery.drain(self.opts.drain_s, stop=self.stop)
        snap = self._snapshot(meter, pipe, opened)
        if every:
            log.info(snap.line())
            self.delivery.stats(snap.to_dict())
        self.summary.reason = reason
        self.summary.audio_s = snap.audio_s
        self.summary.wall_s = time.monotonic() - t_start
        self.summary.cpu_s = time.process_time() - cpu_start
        self.summary.count(pipe.counters)
        self.summary.crc_errors = snap.crc_errors
        if self.signals.interrupted:
            self.summary.exit_code = EXIT_INTERRUPTED
        return self.summary

    def _loop(self, pipe: Pipeline, meter: StatsMeter, clock: StreamClock, opened: OpenedSource) -> str:
        """Blocks → pipeline → alerts until the source ends or a stop; returns why it ended."""
        while not self.stop.is_set():
            item = self._reader.get()
            if item is END:
                return "end of stream"
            if isinstance(item, ScaleChange):
                set_scale(pipe, item.uv_per_lsb, "the unit's HELLO changed it", self.bundle, self.summary,
                          from_unit=True)
            elif item is not None:
                self._feed(pipe, item, meter, clock)
            if self._qemg is not None:
                self._qemg.poll(self.delivery.summary)
            self.delivery.poll()
            if meter.due():
                snap = self._snapshot(meter, pipe, opened)
                log.info(snap.line())
                self.delivery.stats(snap.to_dict())
        return "stopped by signal" if self.signals.received is not None else "stopped"

    def _feed(self, pipe: Pipeline, block: SampleBlock, meter: StatsMeter, clock: StreamClock) -> None:
        n = int(block.samples.size)
        segments = pipe.counters.segments
        if segments == 0 or clock.replay:
            clock.anchor(block.first_index, n)
        detections = pipe.feed(block)
        if segments and pipe.counters.segments != segments:  # a new segment: wall clock re-anchored
            clock.anchor(block.first_index, n)
        meter.add_audio(n / clock.sample_rate)
        meter.windows = pipe.counters.windows
        for det in detections:
            rec = self.delivery.publish(alert_fields(det, clock, self.bundle.model_id))
            if rec is not None:  # None: held until the outbox can be written (delivery.py)
                self.summary.recent.append(rec)
            meter.alerts += 1

    def _snapshot(self, meter: StatsMeter, pipe: Pipeline, opened: OpenedSource) -> StatsSnapshot:
        c = pipe.counters
        return meter.snapshot(queue_depth=self._reader.depth, queue_capacity=self._reader.capacity,
                              gap_samples=c.gap_samples, crc_errors=int(opened.crc_errors()),
                              pending_alerts=self.delivery.pending, saturated_samples=c.saturated_samples,
                              unknown_windows=c.unknown_windows, irregular_windows=c.irregular_windows,
                              prior_windows=c.prior_windows)


def run(opts: RuntimeOptions) -> RunSummary:
    """Run the service with ``opts`` until the source ends or it is stopped.

    Raises :class:`~clikit.UserError` for what the user must fix (bundle refused, source
    string or rate, config); returns a :class:`RunSummary` otherwise.

    numpy's BLAS is held to one thread for the run: the front-end's matrix products are
    small, and a multi-threaded OpenBLAS made blocks of more than 16 frames about 3× slower
    when the process shares its core (measured: 0.5 s chunks 74× → 205× real time).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return Service(opts).run()


__all__ = ["RuntimeOptions", "RunSummary", "Service", "run", "COALESCE_S", "EXIT_OK", "EXIT_FAILURE"]

