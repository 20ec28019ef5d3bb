"""Fleet output: alerts and stats to an MQTT broker at QoS 1 (paho-mqtt, the ``fleet`` extra).

Configured by the runtime TOML's ``[fleet]`` section (:class:`~edge.runtime.config.FleetConfig`)
or ``emg-edge run --mqtt URL``; without either nothing here runs and no socket is opened.
Topics, with ``<unit>`` the unit id (``fleet.unit_id``, default the host name)::

    emg-edge/<unit>/alerts   one alert per message: the AlertRecord JSON, as a line of alerts.jsonl
    emg-edge/<unit>/stats    the service's stats snapshot each stats interval, with unit_id, time
                             and this output's counters (published, acked, waiting, connects)
    emg-edge/<unit>/status   retained "online"; "offline" on a clean stop or, as the broker's
                             last will, when the unit vanishes

Delivery (:mod:`edge.runtime.delivery`): this is an *acknowledging* output, like the wire to the
amplifier. An alert counts as published when the broker's PUBACK for it arrives; the outbox
marks the row delivered once every acknowledging output has acknowledged it. While the broker
is unreachable paho keeps the un-acknowledged messages in memory and sends them again after it
reconnects (with the DUP flag); after a process restart the outbox's undelivered rows are
published again. An alert keeps its outbox id throughout.

QoS 1 is *at least once*: a subscriber sees every alert, and may see one more than once (the
broker got it but its PUBACK was lost with the connection, or the process stopped before the
PUBACK was recorded). Subscribers de-duplicate by (unit id, alert id). Stats are published only
while connected (a stale snapshot is of no use) and are not kept in the outbox.

A PUBACK is not durability: a broker sends it before it saves, and one that stops without saving
(kill -9, power loss) loses what it acknowledged since its last save. Mosquitto saves a snapshot
every ``autosave_interval`` (default 1800 s; with ``autosave_on_changes``, after that many
changes): persistence is a periodic snapshot, written in full only on a graceful stop
(eclipse-mosquitto/mosquitto#2733). Measured with the kit's test broker (saving after
every change) and the broker killed twice while 300 alerts went through: 1 alert lost in about
1 run of 10 under load, PUBACKed just before a kill and never delivered to the subscriber after
the restart. So after a lost connection the sink **replays**: the
alerts whose PUBACK came in the ``fleet.replay_s`` seconds (default 10) before the last PUBACK
of the lost connection are published again once it reconnects (their outbox rows stay
delivered; these PUBACKs are not reported again). The cost is duplicates, which subscribers
drop by id; set ``replay_s`` to at least the broker's save interval, or make the broker save
often.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clikit import UserError

from edge.runtime.alerts import AlertRecord, iso_utc
from edge.runtime.config import FleetConfig

log = logging.getLogger("emg-edge")

#: QoS-1 messages on the wire before a PUBACK (paho's default 20 throttles a catch-up after an
#: outage to one round trip per 20 alerts).
MAX_INFLIGHT = 200
#: Most alerts kept for a replay (memory bound at a high alert rate; the newest are kept).
REPLAY_MAX = 10_000


def _paho():
    try:
        from paho.mqtt import client as mqtt
    except ImportError:
        raise UserError("MQTT is configured ([fleet] url or --mqtt) but paho-mqtt is not installed: "
                        "pip install 'emg-edge-kit[fleet]'") from None
    return mqtt


def default_unit_id() -> str:
    """The host name, reduced to the characters a unit id allows (``A-Z a-z 0-9 . _ -``)."""
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:64]
    return name or "unit"


@dataclass(frozen=True)
class Topics:
    alerts: str
    stats: str
    status: str

    @classmethod
    def of(cls, prefix: str, unit_id: str) -> "Topics":
        base = f"{prefix}/{unit_id}"
        return cls(alerts=f"{base}/alerts", stats=f"{base}/stats", status=f"{base}/status")


@dataclass
class _Sent:
    alert_id: int
    info: Any  # paho MQTTMessageInfo
    record: AlertRecord | None = None  # kept for a replay
    replay: bool = False  # a replayed alert: its PUBACK is not reported (the row is delivered)


class MqttSink:
    """Acknowledging alert output on an MQTT broker (see the module docstring).

    :meth:`on_alert` queues the alert at QoS 1 and returns at once (paho's network thread sends);
    :meth:`acked` returns the ids whose PUBACK arrived since the last call; :meth:`on_stats`
    publishes a stats snapshot; :meth:`close` says "offline" and disconnects.
    """

    name = "mqtt"

    def __init__(self, config: FleetConfig) -> None:
        if not config.enabled:
            raise ValueError("MqttSink needs fleet.url")
        mqtt = _paho()
        self.config = config
        self.host, self.port, tls = config.endpoint()
        self.unit_id = config.unit_id or default_unit_id()
        self.topics = Topics.of(config.topic_prefix, self.unit_id)
        self._mqtt = mqtt
        self._lock = threading.Lock()
        self._sent: dict[int, _Sent] = {}  # mid → alert, until its PUBACK is collected
        self._puback_mids: deque[tuple[int, float]] = deque()  # (mid, monotonic s): paho's thread → acked()
        self._recent: deque[tuple[float, AlertRecord]] = deque(maxlen=REPLAY_MAX)  # PUBACKed, for a replay
        self._replay_due = False  # set by paho's thread when a connection is lost
        self.replayed = 0
        self._done: list[int] = []
        self._refused: list[AlertRecord] = []  # paho refused to queue (mid space full): retried
        self.published = 0
        self.acked_count = 0
        self.connects = 0
        self.connected = False
        self._closing = False
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"emg-edge-{self.unit_id}",
                        protocol=mqtt.MQTTv311, clean_session=True)
        c.max_inflight_messages_set(MAX_INFLIGHT)
        c.reconnect_delay_set(1, config.reconnect_max_s)
        if tls:
            try:
                c.tls_set(ca_certs=config.ca_file or None, certfile=config.cert_file or None,
                          keyfile=config.key_file or None)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise UserError(f"fleet TLS files refused: {' '.join(str(exc).split())} (fleet.ca_file "
                                f"{config.ca_file or '-'}, cert_file {config.cert_file or '-'}, key_file "
                                f"{config.key_file or '-'})") from None
        if config.username:
            c.username_pw_set(config.username, self._password())
        c.will_set(self.topics.status, "offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self._client = c
        log.info("fleet: publishing to %s://%s:%d as unit %s (topics %s/%s/…)", "mqtts" if tls else "mqtt",
                 self.host, self.port, self.unit_id, config.topic_prefix, self.unit_id)
        # connect_async: a broker that is down at start is retried like one lost later.
        c.connect_async(self.host, self.port, keepalive=config.keepalive_s)
        c.loop_start()

    def _password(self) -> str | None:
        if self.config.password:
            return self.config.password
        if not self.config.password_file:
            return None
        try:
            return Path(self.config.password_file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise UserError(f"fleet.password_file {self.config.password_file}: cannot read a password "
                            f"({type(exc).__name__}: {exc})") from None

    # -- paho's network thread -------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("fleet: broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        self.connected = True
        self.connects += 1
        client.publish(self.topics.status, "online", qos=1, retain=True)
        log.info("fleet: connected to %s:%d (%d alert(s) waiting for PUBACK)", self.host, self.port, self.waiting)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was, self.connected = self.connected, False
        if was and not self._closing:
            self._replay_due = self.config.replay_s > 0
            log.warning("fleet: lost the broker %s:%d (%s); %d alert(s) wait and are re-sent on reconnect",
                        self.host, self.port, reason_code, self.waiting)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Called under paho's message lock: only a deque append here (thread-safe, no lock of ours).
        self._puback_mids.append((mid, time.monotonic()))

    # -- the service's thread --------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Alerts published and not yet PUBACKed (or not yet collected by :meth:`acked`)."""
        return len(self._sent) + len(self._refused)

    def on_alert(self, record: AlertRecord, replay: bool = False) -> None:
        info = self._client.publish(self.topics.alerts, record.to_json(), qos=1)
        if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
            if not replay:
                self._refused.append(record)  # every message id in use: try again at the next poll
            return
        with self._lock:
            old = self._sent.get(info.mid)
            if old is not None and not old.replay:
                self._done.append(old.alert_id)  # paho reuses a message id only after its PUBACK
            self._sent[info.mid] = _Sent(record.id, info, record, replay)
        if replay:
            self.replayed += 1
        else:
            self.published += 1

    def acked(self) -> list[int]:
        """Ids whose PUBACK arrived since the last call."""
        if self._refused:
            refused, self._refused = self._refused, []
            for rec in refused:
                self.on_alert(rec)
        later: list[tuple[int, float]] = []
        with self._lock:
            done, self._done = self._done, []
            while self._puback_mids:
                mid, t = self._puback_mids.popleft()
                sent = self._sent.get(mid)
                if sent is None:
                    continue  # a stats or status message
                if _pubacked(sent.info):
                    del self._sent[mid]
                    if not sent.replay:
                        done.append(sent.alert_id)
                    self._recent.append((t, sent.record))  # a replayed one may need it again
                else:
                    later.append((mid, t))  # on_publish runs just before paho marks the message published
            self._puback_mids.extend(later)
        if self._recent:  # older than replay_s before the newest PUBACK: outside any future window
            horizon = self._recent[-1][0] - self.config.replay_s
            while self._recent and self._recent[0][0] < horizon:
                self._recent.popleft()
        self.acked_count += len(done)
        if self._replay_due and self.connected:
            self._replay()
        return done

    def _replay(self) -> None:
        """Publish again the alerts PUBACKed within ``replay_s`` before the lost connection's last
        PUBACK (the broker cannot have acknowledged anything after it went, so that window holds
        whatever it acknowledged and did not save)."""
        self._replay_due = False
        if not self._recent:
            return
        again = [rec for _, rec in self._recent]  # acked() pruned it to that window just before
        self._recent.clear()
        for rec in again:
            self.on_alert(rec, replay=True)
        log.info("fleet: replayed %d alert(s) the broker acknowledged in the %d s before the connection was lost",
                 len(again), self.config.replay_s)

    def on_stats(self, snapshot: dict[str, Any]) -> None:
        if not self.connected:
            return
        body = {"unit_id": self.unit_id, "time": iso_utc(time.time()), **snapshot,
                "fleet": {"published": self.published, "acked": self.acked_count, "waiting": self.waiting,
                          "connects": self.connects, "replayed": self.replayed}}
        self._client.publish(self.topics.stats, json.dumps(body, separators=(",", ":")), qos=1)

    def close(self) -> None:
        """Clean stop: "offline" (retained), disconnect. Un-PUBACKed alerts stay in the outbox."""
        self._closing = True
        if self.connected:
            info = self._client.publish(self.topics.status, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()


def _pubacked(info) -> bool:
    """paho set the message published (its PUBACK came). Not ``info.is_published()``: that raises
    for a message queued while disconnected, which paho still sends after reconnecting."""
    with info._condition:
        return bool(info._published)


def fleet_outputs(config: FleetConfig) -> list[MqttSink]:
    """The fleet outputs ``config`` asks for: none (and paho not imported) when it has no url."""
    return [MqttSink(config)] if config.enabled else []
