"""Alert delivery: the outbox first, then the outputs (listener plug-ins), ACKs back.

::

    detection ──▶ Outbox.store (SQLite, committed) ──▶ local listeners (JSON lines, callbacks,
                                                        later sinks) ──▶ outbox: sunk
                                                   └──▶ Wire (ALERT frames on the channel)
                                                        ◀── ACK ids ──▶ outbox: delivered

Outputs follow python-can's ``Listener``: anything with ``on_alert(record)`` and ``close()``
(:class:`AlertListener`) is handed every alert once it is committed, in order. A local
listener's ``on_alert`` returning means the alert is written: after all of them returned the
outbox marks it *sunk*, and after a crash the next start writes the unsunk ones again. The
:class:`Wire` is the output with an acknowledgement: it sends the ALERT frame on the
:class:`~edge.runtime.roles.AlertChannel` (the serial link retransmits until ACKed) and
:meth:`Delivery.poll` marks ACKed ids *delivered*. With no channel, the local listeners are the
delivery. New outputs (MQTT, EDF+ annotations) are listeners, given to
:attr:`edge.runtime.options.RuntimeOptions.listeners`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from clikit import UserError

from edge.runtime.alerts import AlertRecord
from edge.runtime.outbox import Outbox, OutboxError
from edge.runtime.roles import AlertChannel

log = logging.getLogger("emg-edge")


class AlertListener(Protocol):
    """An alert output: ``on_alert`` once per committed alert (in id order), ``close`` at the end."""

    def on_alert(self, record: AlertRecord) -> None:
        ...

    def close(self) -> None:
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

    def on_alert(self, record: AlertRecord) -> None:
        self.channel.send_alert(record.to_frame())

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

    @classmethod
    def open(cls, outbox: str | Path | None, keep_delivered: int) -> "Delivery":
        """Delivery on the SQLite outbox file ``outbox`` (None: in memory, not durable); add the
        outputs to :attr:`listeners`."""
        try:
            return cls(Outbox(outbox or ":memory:", keep_delivered=keep_delivered))
        except OutboxError as exc:
            raise UserError(str(exc)) from None

    def connect(self, channel: AlertChannel | None) -> None:
        """The way back to the amplifier, once the source is open (None: there is none)."""
        self.wire = Wire(channel) if channel is not None else None

    def publish(self, fields: dict[str, Any]) -> AlertRecord:
        """Store a new alert (the :class:`AlertRecord` fields but ``id``), then hand it out."""
        rec = self.outbox.store(fields)
        self.raised += 1
        log.info("ALERT %d %s conf %.2f onset %.2f s severity %d", rec.id, rec.label, rec.confidence,
                 rec.onset_s, rec.severity)
        self._write(rec)
        self._send(rec)
        return rec

    def resend_pending(self) -> None:
        """At start: write what the local listeners missed, re-send what was not ACKed (same ids)."""
        for rec in self.outbox.unsunk():
            self._write(rec)
        pending = self.outbox.undelivered()
        if pending:
            log.info("outbox: re-sending %d undelivered alert(s) (ids %d..%d)", len(pending), pending[0].id,
                     pending[-1].id)
        for rec in pending:
            self._send(rec)
            self.resent += 1

    def poll(self) -> None:
        """Mark the alerts the amplifier ACKed since the last poll delivered."""
        if self.wire is not None:
            acked = self.wire.acked()
            if acked:
                self.outbox.mark_delivered(acked)

    def drain(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the amplifier to ACK what is outstanding."""
        if self.wire is None:
            return
        deadline = time.monotonic() + seconds
        while self.outbox.pending_count() and time.monotonic() < deadline:
            self.poll()
            time.sleep(0.02)

    @property
    def pending(self) -> int:
        """Alerts stored and not yet delivered."""
        return self.outbox.pending_count()

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()
        self.outbox.close()

    def _write(self, rec: AlertRecord) -> None:
        for listener in self.listeners:
            listener.on_alert(rec)
        self.outbox.mark_sunk(rec.id)

    def _send(self, rec: AlertRecord) -> None:
        if self.wire is None:
            self.outbox.mark_delivered([rec.id])  # no amplifier: the local listeners are the delivery
            return
        self.wire.on_alert(rec)
        self.outbox.mark_attempt(rec.id)
