"""Alert delivery: the outbox first, then the outputs (listener plug-ins), ACKs back.

::

    detection ──▶ Outbox.store (SQLite, committed) ──▶ local listeners (JSON lines, callbacks,
                                                        later sinks) ──▶ outbox: sunk
                                                   └──▶ Wire (ALERT frames on the channel)
                                                        ◀── ACK ids ──┐
                                                   └──▶ acknowledging outputs (MQTT)
                                                        ◀── PUBACK ───┴▶ outbox: delivered

Outputs follow python-can's ``Listener``: anything with ``on_alert(record)`` and ``close()``
(:class:`AlertListener`) is handed every alert once it is committed, in order. A local
listener's ``on_alert`` returning means the alert is written: after all of them returned the
outbox marks it *sunk*, and after a crash the next start writes the unsunk ones again. The
:class:`Wire` is the output with an acknowledgement: it sends the ALERT frame on the
:class:`~edge.runtime.roles.AlertChannel` (the serial link retransmits until ACKed) and
:meth:`Delivery.poll` marks ACKed ids *delivered*. Other outputs with an acknowledgement (the
MQTT fleet output, :mod:`edge.runtime.mqtt_sink`) are :class:`AcknowledgingOutput` s in
:attr:`Delivery.outputs`: a row is delivered once the wire (if any) and every one of them
acknowledged it. With neither, the local listeners are the delivery. New local outputs (EDF+
annotations) are listeners, given to :attr:`edge.runtime.options.RuntimeOptions.listeners`;
acknowledging ones to ``RuntimeOptions.outputs``.

QEMG stretch summaries (:mod:`edge.runtime.qemg_summaries`) take the same way out without the
outbox: :meth:`Delivery.summary` hands each to the :attr:`Delivery.summary_listeners` (the JSON
lines: a ``{"type": "qemg_summary", ...}`` line among the alerts) and, when the channel can
carry it (:class:`SummaryChannel`), sends one QEMG_SUMMARY frame: fire-and-forget, never
retransmitted nor stored (PROTOCOL.md §4; a lost summary is superseded by the next one).

A run without a link or acknowledging output delivers (marks delivered) only the alerts stored
likewise: those stored by a run with one wait for an acknowledgement (``needs_ack``), whatever
runs in between.
When the outbox cannot be written (disk full, I/O error) an alert is *held* in memory, in
order, and stored at a later :meth:`Delivery.poll` (retried every :data:`RETRY_S` s, warned
every :data:`WARN_EVERY_S` s): it reaches the outputs once committed, never before, so its id
is never given twice. Held alerts count as :attr:`Delivery.pending`; any still held at
:meth:`Delivery.close` are logged whole (the journal keeps them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from clikit import UserError

from edge.runtime.alerts import AlertRecord
from edge.runtime.outbox import Outbox, OutboxError, OutboxWriteError
from edge.runtime.roles import AlertChannel

log = logging.getLogger("emg-edge")

#: Seconds between attempts to store held alerts while the outbox cannot be written.
RETRY_S = 1.0
#: Seconds between warnings while it cannot (the first failure is warned at once).
WARN_EVERY_S = 30.0
#: Alerts held in memory at most (about 1 kB each); beyond it the oldest is logged and dropped.
MAX_HELD = 10000


class AlertListener(Protocol):
    """An alert output: ``on_alert`` once per committed alert (in id order), ``close`` at the end."""

    def on_alert(self, record: AlertRecord) -> None:
        ...

    def close(self) -> None:
        ...


class AcknowledgingOutput(Protocol):
    """An output whose receiver acknowledges each alert, besides the wire (MQTT's PUBACK:
    :class:`edge.runtime.mqtt_sink.MqttSink`). ``on_alert`` queues the alert and returns at once
    (the output itself re-sends until acknowledged, across reconnects); ``acked`` returns the ids
    acknowledged since the last call; ``on_stats`` takes each stats snapshot; ``name`` tells the
    outputs apart. A row is marked delivered once every acknowledging output, and the wire when
    there is one, acknowledged it (partial acknowledgements are kept in memory: after a restart
    the row is re-sent to all of them, same id, and each receiver drops the duplicate). "Every"
    means the current run's: a row left pending by a run with the wire and MQTT is delivered by
    a later run with only one of them once that one acknowledges it."""

    name: str

    def on_alert(self, record: AlertRecord) -> None:
        ...

    def acked(self) -> list[int]:
        ...

    def on_stats(self, snapshot: dict[str, Any]) -> None:
        ...

    def close(self) -> None:
        ...


class SummaryListener(Protocol):
    """A QEMG summary output: ``on_summary`` once per stretch summary (in order), ``close`` at the end."""

    def on_summary(self, summary: Any) -> None:
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class SummaryChannel(Protocol):
    """A way back to the amplifier that can also carry QEMG_SUMMARY frames, each sent once."""

    def send_summary(self, frame: Any) -> None:
        ...


class CallbackListener:
    """A function as a listener; its failures are logged, never raised (a display must not stop
    detection)."""

    def __init__(self, fn: Callable[[AlertRecord], None]) -> None:
        self.fn = fn

    def on_alert(self, record: AlertRecord) -> None:
        try:
            self.fn(record)
        except Exception:  # noqa: BLE001 - see the class docstring
            log.exception("on_alert callback failed")

    def close(self) -> None:
        pass


class Wire:
    """The amplifier as an output: each alert as an ALERT frame on ``channel``; ACKs read back."""

    def __init__(self, channel: AlertChannel) -> None:
        self.channel = channel
        #: The same channel when its type can carry QEMG_SUMMARY frames (else None: not sent).
        self.summaries: SummaryChannel | None = channel if isinstance(channel, SummaryChannel) else None

    def on_alert(self, record: AlertRecord) -> None:
        self.channel.send_alert(record.to_frame())

    def on_summary(self, summary: Any) -> None:
        if self.summaries is not None:
            self.summaries.send_summary(summary.to_frame())

    def acked(self) -> list[int]:
        return self.channel.acked_alerts()

    def close(self) -> None:
        pass  # the link is the source too: the service closes it


class Delivery:
    """Owns the outbox, the local listeners and the wire; counts what it raised and re-sent."""

    def __init__(self, outbox: Outbox, listeners: Sequence[AlertListener] = ()) -> None:
        self.outbox = outbox
        self.listeners = list(listeners)
        self.wire: Wire | None = None
        self.raised = 0
        self.resent = 0
        self._held: deque[dict[str, Any]] = deque()  # alerts not yet committed (outbox not writable)
        self._unmarked: list[int] = []  # delivered ids not yet recorded as such
        self._retry_at = 0.0
        self._warn_at = 0.0
        self.write_failures = 0
        #: Acknowledging outputs besides the wire (MQTT); see AcknowledgingOutput.
        self.outputs: list[AcknowledgingOutput] = []
        self._partial: dict[int, set[str]] = {}  # id → outputs that acknowledged it, not yet all
        #: Outputs of QEMG stretch summaries (the JSON lines); see SummaryListener.
        self.summary_listeners: list[SummaryListener] = []

    @classmethod
    def open(cls, outbox: str | Path | None, keep_delivered: int) -> "Delivery":
        """Delivery on the SQLite outbox file ``outbox`` (None: in memory, not durable); add the
        outputs to :attr:`listeners`."""
        try:
            return cls(Outbox(outbox or ":memory:", keep_delivered=keep_delivered))
        except OutboxWriteError:
            raise  # disk full, I/O: not the operator's configuration (exit 1, systemd retries)
        except OutboxError as exc:
            raise UserError(str(exc)) from None

    def connect(self, channel: AlertChannel | None) -> None:
        """The way back to the amplifier, once the source is open (None: there is none)."""
        self.wire = Wire(channel) if channel is not None else None

    def publish(self, fields: dict[str, Any]) -> AlertRecord | None:
        """Store a new alert (the :class:`AlertRecord` fields but ``id``), then hand it out.

        None when it is held (the outbox cannot be written now, or older alerts are held)."""
        if len(self._held) >= MAX_HELD:
            log.error("outbox: %d alerts held, dropping the oldest: %s", MAX_HELD, self._held.popleft())
        self._held.append(fields)
        stored = self._store_held()
        return stored[-1] if stored and not self._held else None

    def _store_held(self) -> list[AlertRecord]:
        """Commit the held alerts in order and hand them out; stop at the first failed write."""
        out: list[AlertRecord] = []
        while self._held:
            try:
                rec = self.outbox.store(self._held[0], needs_ack=self._acknowledged)
            except OutboxWriteError as exc:
                self._write_failed(exc, f"{len(self._held)} alert(s) held in memory, retrying")
                self._retry_at = time.monotonic() + RETRY_S
                break
            self._held.popleft()
            self.raised += 1
            log.info("ALERT %d %s conf %.2f onset %.2f s severity %d", rec.id, rec.label, rec.confidence,
                     rec.onset_s, rec.severity)
            self._write(rec)
            self._send(rec)
            out.append(rec)
        if out and self.write_failures and not self._held:
            log.warning("outbox: writable again; held alerts stored (last id %d)", out[-1].id)
        return out

    @property
    def _acknowledged(self) -> bool:
        """Delivery is an acknowledgement (the wire's ACK, a broker's PUBACK), not the local write."""
        return self.wire is not None or bool(self.outputs)

    def _write_failed(self, exc: OutboxWriteError, what: str) -> None:
        self.write_failures += 1
        now = time.monotonic()
        if now >= self._warn_at:
            log.warning("%s: %s (%d failed write(s) so far)", exc, what, self.write_failures)
            self._warn_at = now + WARN_EVERY_S

    def resend_pending(self) -> None:
        """At start: write what the local listeners missed, re-send what was not ACKed (same ids).

        Without a link only the alerts stored without one are delivered here; the others keep
        waiting for the amplifier."""
        for rec in self.outbox.unsunk():
            self._write(rec)
        pending = self.outbox.undelivered(needs_ack=None if self._acknowledged else False)
        if not self._acknowledged:
            waiting = self.outbox.pending_count() - len(pending)
            if waiting:
                log.warning("outbox: %d alert(s) wait for the amplifier's ACK; kept for a run with a link",
                            waiting)
        if pending:
            log.info("outbox: re-sending %d undelivered alert(s) (ids %d..%d)", len(pending), pending[0].id,
                     pending[-1].id)
        for rec in pending:
            self._send(rec)
            self.resent += 1

    def poll(self) -> None:
        """Mark the alerts the amplifier ACKed since the last poll delivered; store held alerts."""
        if self._held and time.monotonic() >= self._retry_at:
            self._store_held()
        if self.wire is not None:
            self._unmarked += self._complete("wire", self.wire.acked())
        for out in self.outputs:
            self._unmarked += self._complete(out.name, out.acked())
        self._mark_delivered()

    def _mark_delivered(self) -> None:
        if self._unmarked:
            try:
                self.outbox.mark_delivered(self._unmarked)
                self._unmarked = []
            except OutboxWriteError as exc:  # kept and retried: a lost mark only means a re-send
                self._write_failed(exc, f"{len(self._unmarked)} delivery mark(s) kept, retrying")

    def drain(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Wait up to ``seconds`` for the amplifier to ACK what is outstanding (less if ``stop``
        is set meanwhile)."""
        if self.wire is None and not self.outputs:
            return
        deadline = time.monotonic() + seconds
        while self.pending and time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            self.poll()
            time.sleep(0.02)

    @property
    def pending(self) -> int:
        """Alerts not yet delivered: stored ones and held ones."""
        return self.outbox.pending_count() + len(self._held)

    def summary(self, summary: Any) -> None:
        """Hand a QEMG stretch summary (:class:`edge.runtime.qemg_summaries.StretchSummary`) to the
        summary listeners and, once, to the wire (no outbox, no retransmission, no ACK)."""
        log.info("QEMG %d: %.1f-%.1f s, %d unit(s), %s", summary.stretch_id, summary.start_s, summary.end_s,
                 summary.n_units, summary.pattern)
        for listener in self.summary_listeners:
            try:
                listener.on_summary(summary)
            except OSError as exc:  # a summary is not kept for a later start: logged, not raised
                log.warning("QEMG summary %d not written to every output (%s)", summary.stretch_id, exc)
        if self.wire is not None:
            self.wire.on_summary(summary)

    def stats(self, snapshot: dict[str, Any]) -> None:
        """Hand a stats snapshot (:meth:`StatsSnapshot.to_dict`) to the acknowledging outputs."""
        for out in self.outputs:
            out.on_stats(snapshot)

    def _complete(self, name: str, acked: list[int]) -> list[int]:
        """Of the ids ``name`` acknowledged, those every acknowledging output now has."""
        if not self.outputs:
            return acked  # the wire alone: its ACK is the delivery
        need = {out.name for out in self.outputs} | ({"wire"} if self.wire is not None else set())
        done = []
        for alert_id in acked:
            got = self._partial.setdefault(alert_id, set())
            got.add(name)
            if got >= need:
                del self._partial[alert_id]
                done.append(alert_id)
        return done

    def close(self) -> None:
        if self._held:
            self._store_held()
        for fields in self._held:  # the journal is the last place they can be kept
            log.error("outbox: could not store this alert before the end: %s", fields)
        for out in self.outputs:
            out.close()
        for listener in self.listeners:
            listener.close()
        for listener in self.summary_listeners:
            if listener not in self.listeners:
                listener.close()
        self.outbox.close()

    def _write(self, rec: AlertRecord) -> None:
        try:
            for listener in self.listeners:
                listener.on_alert(rec)
        except OSError as exc:  # not marked sunk: written again at the next start
            log.warning("alert %d not written to every output (%s); it is written again at the next start",
                        rec.id, exc)
            return
        try:
            self.outbox.mark_sunk(rec.id)
        except OutboxWriteError as exc:
            self._write_failed(exc, f"alert {rec.id} may be written again at the next start")

    def _send(self, rec: AlertRecord) -> None:
        for out in self.outputs:  # delivered when they (and the wire) acknowledge: see poll
            out.on_alert(rec)
        if self.wire is None and self.outputs:
            return
        if self.wire is None:
            self._unmarked.append(rec.id)  # no amplifier: the local listeners are the delivery
            self._mark_delivered()
            return
        self.wire.on_alert(rec)
        try:
            self.outbox.mark_attempt(rec.id)
        except OutboxWriteError:
            pass  # a count for the record only
