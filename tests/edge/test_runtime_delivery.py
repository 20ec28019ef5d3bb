"""Alert delivery: stored first, every listener in order, the wire until ACKed, re-sent after a
restart with the same ids."""

from __future__ import annotations

import logging

from edge.runtime.alerts import AlertRecord
from edge.runtime.delivery import CallbackListener, Delivery
from edge.runtime.outbox import Outbox

from tests.edge.test_runtime_outbox import crash, fields


class Recorder:
    """A listener that keeps what it was given."""

    def __init__(self) -> None:
        self.got: list[AlertRecord] = []
        self.closed = False

    def on_alert(self, record: AlertRecord) -> None:
        self.got.append(record)

    def close(self) -> None:
        self.closed = True


class Channel:
    """An AlertChannel: remembers sent frames; ``ack`` decides what the unit ACKs next."""

    def __init__(self) -> None:
        self.sent: list = []
        self.ack: list[int] = []

    def send_alert(self, alert) -> None:
        self.sent.append(alert)

    def acked_alerts(self) -> list[int]:
        out, self.ack = self.ack, []
        return out


def test_without_a_channel_the_listeners_are_the_delivery():
    rec = Recorder()
    d = Delivery(Outbox(), [rec])
    d.connect(None)
    a = d.publish(fields(onset=1))
    assert rec.got == [a] and d.pending == 0 and d.raised == 1
    assert d.outbox.unsunk() == []
    d.close()
    assert rec.closed


def test_the_wire_sends_frames_and_acks_mark_delivered():
    ch = Channel()
    d = Delivery(Outbox(), [Recorder()])
    d.connect(ch)
    a, b = d.publish(fields(onset=1)), d.publish(fields(onset=2))
    assert [f.alert_id for f in ch.sent] == [a.id, b.id] and d.pending == 2
    ch.ack = [a.id]
    d.poll()
    assert [r.id for r in d.outbox.undelivered()] == [b.id]


def test_a_restart_resends_undelivered_with_their_ids_and_rewrites_unsunk(tmp_path):
    path = tmp_path / "o.sqlite"
    first = Delivery(Outbox(path), [])
    first.connect(Channel())
    kept = first.publish(fields(onset=1))
    lost = first.outbox.store(fields(onset=2))  # stored, then the process died before the listeners
    crash(first.outbox)
    rec, ch = Recorder(), Channel()
    again = Delivery(Outbox(path), [rec])
    again.connect(ch)
    again.resend_pending()
    assert [r.id for r in rec.got] == [lost.id]
    assert [f.alert_id for f in ch.sent] == [kept.id, lost.id] and again.resent == 2


def test_a_failing_callback_is_logged_and_the_alert_still_sunk(caplog):
    def broken(_record):
        raise RuntimeError("display gone")

    d = Delivery(Outbox(), [CallbackListener(broken)])
    with caplog.at_level(logging.ERROR, logger="emg-edge"):
        d.publish(fields())
    assert "on_alert callback failed" in caplog.text and d.outbox.unsunk() == []
