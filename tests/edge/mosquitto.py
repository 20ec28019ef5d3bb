"""A real Mosquitto broker for the fleet tests and ``benchmarks/fleet.py``, and a subscriber.

:class:`Broker` runs ``mosquitto -c CONF`` on a free loopback port (anonymous, localhost only)
and can be killed (SIGKILL) and started again on the same port. It keeps a persistence file
saved at every change, so a subscriber's session (``clean_session=False``) and the messages
queued for it survive a kill: what the subscriber misses is then the publisher's loss, not an
artefact of the subscriber reconnecting after the publisher.

:func:`kill_twice` is the issue's scenario: N alerts through :class:`~edge.runtime.delivery.Delivery`
to :class:`~edge.runtime.mqtt_sink.MqttSink`, the broker killed twice mid-stream, then every
row delivered and every id received at least once.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)
SKIP_REASON = ("mosquitto not installed (Debian package 'mosquitto'; .ci/run installs it when run as root): "
               "the fleet tests need a real MQTT broker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """``mosquitto`` on 127.0.0.1:<free port>; :meth:`kill` (SIGKILL) and :meth:`start` again."""

    def __init__(self, workdir: Path, listener_conf: str = "allow_anonymous true\n", tls: bool = False,
                 save_on_changes: bool = True) -> None:
        """``save_on_changes=False``: the persistence file is written only by :meth:`save` (and
        hourly), as a broker with a long ``autosave_interval`` — what it acknowledged since is
        lost on a kill."""
        if MOSQUITTO is None:
            raise RuntimeError(SKIP_REASON)
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        # user root: run as whoever started it (as root mosquitto would switch to 'mosquitto',
        # which cannot write pytest's private tmp folders).
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n{listener_conf}"
            f"persistence true\npersistence_location {self.dir}/\n"
            + ("autosave_interval 1\nautosave_on_changes true\n" if save_on_changes else
               "autosave_interval 3600\nautosave_on_changes false\n")
            + "max_queued_messages 0\nuser root\n"
            f"log_dest file {self.dir}/mosquitto.log\n")
        self.proc: subprocess.Popen | None = None
        self.kills = 0
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: "
                                   f"{(self.dir / 'mosquitto.log').read_text(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def save(self, timeout_s: float = 10.0) -> None:
        """Write the persistence file now (SIGUSR1): a subscriber's session made just before
        survives a kill."""
        db = self.dir / "mosquitto.db"
        before = db.stat().st_mtime_ns if db.exists() else 0
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if db.exists() and db.stat().st_mtime_ns != before:
                time.sleep(0.05)  # let the write finish
                return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not save its persistence file")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.kills += 1

    def stop(self) -> None:
        self.kill()


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (PEM files), made with
    ``cryptography``: keys ``ca``, ``server_cert``, ``server_key``, ``client_cert``, ``client_key``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject: str, key, issuer: str, issuer_key, ca: bool, san=None):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san is not None:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def write(stem: str, obj) -> Path:
        path = folder / f"{stem}.pem"
        if isinstance(obj, x509.Certificate):
            path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
        else:
            path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return path

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("emg-edge test CA", ca_key, "emg-edge test CA", ca_key, ca=True)
    server = cert("127.0.0.1", server_key, "emg-edge test CA", ca_key, ca=False,
                  san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = cert("unit-tls", client_key, "emg-edge test CA", ca_key, ca=False)
    return dict(ca=write("ca", ca), server_cert=write("server", server), server_key=write("server.key", server_key),
                client_cert=write("client", client), client_key=write("client.key", client_key))


@dataclass
class Subscriber:
    """A paho subscriber to ``topic`` (QoS 1, persistent session): keeps (topic, payload) pairs.
    Call :meth:`Broker.save` after making one, before killing the broker."""

    url: str
    topic: str
    client_id: str = "emg-edge-test-subscriber"
    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from paho.mqtt import client as mqtt

        self._subscribed = threading.Event()
        self._lock = threading.Lock()
        host, port = self.url.removeprefix("mqtt://").rsplit(":", 1)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False)
        c.reconnect_delay_set(1, 2)
        self.connected = False
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: setattr(self, "connected", False)
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_message = self._on_message
        c.connect(host, int(port))
        c.loop_start()
        self.client = c
        if not self._subscribed.wait(10):
            raise RuntimeError("the subscriber's SUBACK did not come")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(self.topic, qos=1)
        self.connected = not reason_code.is_failure

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def alert_ids(self, topic: str) -> list[int]:
        with self._lock:
            return [json.loads(p)["id"] for t, p in self.messages if t == topic]

    def wait_for(self, topic: str, ids: set[int], timeout_s: float = 30.0) -> set[int]:
        """Wait until every id in ``ids`` came on ``topic``; returns the ones still missing."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            missing = ids - set(self.alert_ids(topic))
            if not missing:
                return missing
            time.sleep(0.05)
        return ids - set(self.alert_ids(topic))

    def json_on(self, topic: str, timeout_s: float = 10.0) -> list[dict]:
        """The JSON messages on ``topic``, waiting up to ``timeout_s`` for a first one."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                got = [json.loads(p) for t, p in self.messages if t == topic]
            if got:
                return got
            time.sleep(0.05)
        return []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def alert_fields(i: int) -> dict:
    """The AlertRecord fields (all but id) of a made-up alert number ``i``."""
    return dict(label="fibrillation", pathological=True, confidence=0.8, onset_sample=1000 * i,
                offset_sample=1000 * i + 500, onset_s=i, offset_s=i + 0.5, detected_s=i + 0.5,
                onset_wall="2026-01-01T00:00:00.000Z", offset_wall="2026-01-01T00:00:00.500Z",
                emitted_wall="2026-01-01T00:00:00.600Z", severity=2, model_id="m1", sample_rate=1000)


def wait_delivered(delivery, timeout_s: float = 60.0) -> int:
    """Poll ``delivery`` until nothing is pending (or the timeout); returns what is still pending."""
    deadline = time.monotonic() + timeout_s
    while delivery.pending and time.monotonic() < deadline:
        delivery.poll()
        time.sleep(0.02)
    return delivery.pending


def kill_twice(broker: Broker, outbox: Path, n: int, unit_id: str = "bench-unit",
               down_s: float = 1.5, wait_s: float = 120.0, kill_at=None) -> dict:
    """The issue's target scenario: ``n`` alerts published while the broker is killed at n/3 and
    2n/3 (or before the alerts numbered in ``kill_at``) and started again ``down_s`` later;
    returns the counts (``lost`` must be 0)."""
    from edge.runtime.config import FleetConfig
    from edge.runtime.delivery import Delivery
    from edge.runtime.mqtt_sink import MqttSink
    from edge.runtime.outbox import Outbox

    sink = MqttSink(FleetConfig(url=broker.url, unit_id=unit_id))
    sub = Subscriber(broker.url, f"emg-edge/{unit_id}/alerts", client_id=f"sub-{unit_id}")
    broker.save()
    d = Delivery(Outbox(outbox), [])
    d.outputs.append(sink)
    d.connect(None)
    t0 = time.monotonic()
    ids: list[int] = []
    kill_at = {n // 3, 2 * n // 3} if kill_at is None else set(kill_at)
    restarts = []
    for i in range(n):
        if i in kill_at:  # killed mid-stream; publishing goes on; started again down_s later
            for t in restarts:
                t.join()  # the previous outage is over first, sink and subscriber connected again
            deadline = time.monotonic() + 30
            while not (sink.connected and sub.connected) and time.monotonic() < deadline:
                time.sleep(0.05)
                d.poll()
            broker.kill()
            restarts.append(threading.Timer(down_s, broker.start))
            restarts[-1].start()
        ids.append(d.publish(alert_fields(i)).id)
        d.poll()
    for t in restarts:
        t.join()
    pending = wait_delivered(d, wait_s)
    missing = sub.wait_for(f"emg-edge/{unit_id}/alerts", set(ids), timeout_s=wait_s)
    elapsed = time.monotonic() - t0
    received = sub.alert_ids(f"emg-edge/{unit_id}/alerts")
    result = dict(alerts=n, broker_kills=broker.kills, pending_after=pending, lost=len(missing),
                  received_messages=len(received), duplicates=len(received) - len(set(received)),
                  connects=sink.connects, seconds=round(elapsed, 2))
    d.close()
    sub.close()
    return result
