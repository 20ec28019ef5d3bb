"""Fleet output over MQTT (issue 15 item 4), against a real Mosquitto broker.

Alerts go out at QoS 1 on emg-edge/<unit>/alerts and are marked delivered in the outbox only on
PUBACK; a broker killed mid-stream loses nothing (every id arrives at least once), including what
it acknowledged and had not saved (replayed after the reconnect); a restart of the service
publishes again what was pending, with the same ids. The broker tests skip with the
reason when the ``mosquitto`` binary is missing (``.ci/run`` installs it as root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clikit import UserError

from edge.runtime.config import FleetConfig, RuntimeConfig
from edge.runtime.delivery import Delivery
from edge.runtime.mqtt_sink import MqttSink, Topics, default_unit_id, fleet_outputs
from edge.runtime.outbox import Outbox

from tests.edge.mosquitto import (MOSQUITTO, SKIP_REASON, Broker, Subscriber, alert_fields, kill_twice,
                                  make_tls_files, wait_delivered)

needs_broker = pytest.mark.skipif(MOSQUITTO is None, reason=SKIP_REASON)


@pytest.fixture
def broker(tmp_path):
    pytest.importorskip("paho.mqtt", reason="paho-mqtt missing: pip install -e '.[fleet]'")
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def sub(broker):
    """A subscriber to unit-7's alerts whose session outlives a kill of the broker."""
    s = Subscriber(broker.url, "emg-edge/unit-7/alerts")
    broker.save()
    yield s
    s.close()


def delivery_to(broker: Broker, outbox, unit_id: str = "unit-7") -> Delivery:
    d = Delivery(Outbox(outbox), [])
    d.outputs.append(MqttSink(FleetConfig(url=broker.url, unit_id=unit_id)))
    d.connect(None)
    return d


# -- configuration, no broker -------------------------------------------------------------------
def test_fleet_section_loads_and_bad_values_are_named(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text('[fleet]\nurl = "mqtts://broker.lan"\nunit_id = "emg-07"\nca_file = "/etc/ca.pem"\n'
                    'username = "u"\npassword_file = "/etc/pw"\n')
    cfg = RuntimeConfig.from_toml(toml)
    assert cfg.fleet.endpoint() == ("broker.lan", 8883, True) and cfg.fleet.unit_id == "emg-07"
    assert RuntimeConfig().fleet.enabled is False
    for bad, words in [
        ({"url": "http://b"}, "fleet.url='http://b'"), ({"url": "mqtt://u:p@b"}, "fleet.username"),
        ({"url": "mqtt://b", "ca_file": "x"}, "needs a TLS url"), ({"unit_id": "a/b"}, "fleet.unit_id='a/b'"),
        ({"topic_prefix": "a/#"}, "fleet.topic_prefix"), ({"password": "p"}, "needs fleet.username"),
        ({"keepalive_s": 1}, "[5, 3600]"), ({"url": 5}, "must be a string"), ({"port": 1}, "allowed url"),
        ({"replay_s": -1}, "fleet.replay_s=-1 is out of range: allowed integers [0, 3600]"),
    ]:
        with pytest.raises(ValueError, match=None) as exc:
            RuntimeConfig.from_dict({"fleet": bad})
        assert words in str(exc.value), (bad, str(exc.value))


def test_no_url_means_no_output_and_no_paho(monkeypatch):
    monkeypatch.setitem(sys.modules, "paho", None)  # an install without the fleet extra
    assert fleet_outputs(FleetConfig()) == []
    with pytest.raises(UserError, match=r"paho-mqtt is not installed: pip install 'emg-edge-kit\[fleet\]'"):
        fleet_outputs(FleetConfig(url="mqtt://127.0.0.1:1"))


def test_topics_carry_the_unit_id():
    t = Topics.of("emg-edge", "unit-7")
    assert (t.alerts, t.stats, t.status) == ("emg-edge/unit-7/alerts", "emg-edge/unit-7/stats",
                                            "emg-edge/unit-7/status")
    FleetConfig(unit_id=default_unit_id())  # the host name always makes a valid unit id


def test_run_with_a_bad_mqtt_url_is_one_line_exit_2(tmp_path, capsys):
    from edge.cli import main

    code = main(["run", "--source", f"wav:{tmp_path / 'x.wav'}", "--mqtt", "http://broker"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "fleet.url='http://broker'" in err


class FakeAcking:
    """An acknowledging output: remembers what it was given; ``ack`` decides what it acknowledges."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.ack: list[int] = []

    def on_alert(self, record) -> None:
        self.sent.append(record.id)

    def acked(self) -> list[int]:
        out, self.ack = self.ack, []
        return out

    def on_stats(self, snapshot) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_row_is_delivered_when_the_wire_and_every_acknowledging_output_have_it():
    from tests.edge.test_runtime_delivery import Channel

    ch, out = Channel(), FakeAcking()
    d = Delivery(Outbox(), [])
    d.outputs.append(out)
    d.connect(ch)
    a, b = d.publish(alert_fields(1)), d.publish(alert_fields(2))
    assert out.sent == [a.id, b.id] and [f.alert_id for f in ch.sent] == [a.id, b.id]
    ch.ack, out.ack = [a.id, b.id], [b.id]
    d.poll()
    assert [r.id for r in d.outbox.undelivered()] == [a.id]  # the output has not acknowledged a yet
    out.ack = [a.id]
    d.poll()
    assert d.pending == 0


def test_without_a_wire_an_acknowledging_output_alone_delivers():
    out = FakeAcking()
    d = Delivery(Outbox(), [])
    d.outputs.append(out)
    d.connect(None)
    a = d.publish(alert_fields(1))
    d.poll()
    assert d.pending == 1  # not delivered by being handed over, only by the acknowledgement
    out.ack = [a.id]
    d.poll()
    assert d.pending == 0


def _unit_keys(text: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(" ".join(v.split()))
    return keys


def test_the_systemd_drop_in_allows_exactly_the_broker():
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    unit = _unit_keys((deploy / "emg-edge.service").read_text())
    drop = _unit_keys((deploy / "emg-edge.service.d" / "fleet.conf").read_text())
    assert unit["PrivateNetwork"] == ["yes"] and unit["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert drop["PrivateNetwork"] == ["no"] and drop["IPAddressDeny"] == ["any"]
    assert len(drop["IPAddressAllow"]) == 1 and " " not in drop["IPAddressAllow"][0]
    assert set(drop["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # ExecStart reset, then the unit's own command plus the config holding [fleet]
    assert drop["ExecStart"] == ["", unit["ExecStart"][0] + " --config /etc/emg-edge/runtime.toml"]


# -- a real broker ------------------------------------------------------------------------------
@needs_broker
def test_alerts_and_stats_reach_a_subscriber_under_the_unit_id(broker, tmp_path):
    sub = Subscriber(broker.url, "emg-edge/unit-7/#")
    d = delivery_to(broker, tmp_path / "o.sqlite")
    recs = [d.publish(alert_fields(i)) for i in range(5)]
    assert wait_delivered(d) == 0
    assert sub.wait_for("emg-edge/unit-7/alerts", {r.id for r in recs}) == set()
    got = {json.loads(p)["id"]: json.loads(p) for t, p in sub.messages if t == "emg-edge/unit-7/alerts"}
    assert [got[r.id] for r in recs] == [r.to_dict() for r in recs]  # the AlertRecord fields, as in alerts.jsonl
    d.stats({"audio_s": 12.5, "alerts": 5})
    stats = sub.json_on("emg-edge/unit-7/stats")
    assert stats and stats[0]["unit_id"] == "unit-7" and stats[0]["audio_s"] == 12.5
    assert stats[0]["fleet"]["acked"] == 5
    assert ("emg-edge/unit-7/status", b"online") in sub.messages
    d.close()
    sub.close()


@needs_broker
def test_broker_killed_mid_stream_loses_nothing_and_marks_only_pubacked(broker, sub, tmp_path):
    d = delivery_to(broker, tmp_path / "o.sqlite")
    first = [d.publish(alert_fields(i)).id for i in range(10)]
    assert wait_delivered(d) == 0
    broker.kill()
    during = [d.publish(alert_fields(i)).id for i in range(10, 20)]
    for _ in range(20):  # no broker, no PUBACK: none of them may be marked delivered
        d.poll()
        time.sleep(0.02)
    assert [r.id for r in d.outbox.undelivered()] == during
    broker.start()
    after = [d.publish(alert_fields(i)).id for i in range(20, 25)]
    assert wait_delivered(d) == 0
    assert sub.wait_for("emg-edge/unit-7/alerts", set(first + during + after)) == set()
    d.close()


@needs_broker
@pytest.mark.parametrize("replay_s, older", [(10, 0), (0, 0), (1, 3)])
def test_alerts_a_killed_broker_acknowledged_but_never_saved_are_replayed(tmp_path, replay_s, older):
    """A broker PUBACKs before it saves: killed before its next save it loses what it
    acknowledged (replay_s=0 shows the loss). The sink publishes again what was PUBACKed in the
    replay_s before the connection's last PUBACK (``older`` alerts PUBACKed 2 s before the
    others fall outside a 1 s window and stay lost); the outbox rows stay delivered."""
    pytest.importorskip("paho.mqtt", reason="paho-mqtt missing: pip install -e '.[fleet]'")
    b = Broker(tmp_path / "broker", save_on_changes=False)
    b.start()
    try:
        topic = "emg-edge/unit-r/alerts"
        Subscriber(b.url, topic, client_id="sub-r").close()  # a session (offline now) to queue for
        b.save()  # ... which survives the kill; the alerts queued for it below do not
        d = Delivery(Outbox(tmp_path / "o.sqlite"), [])
        sink = MqttSink(FleetConfig(url=b.url, unit_id="unit-r", replay_s=replay_s))
        d.outputs.append(sink)
        d.connect(None)
        old = [d.publish(alert_fields(i)).id for i in range(older)]
        assert wait_delivered(d) == 0
        if older:
            time.sleep(2.0)
        ids = [d.publish(alert_fields(i)).id for i in range(older, older + 5)]
        assert wait_delivered(d) == 0 and sink.acked_count == older + 5  # PUBACKed: the outbox is done
        b.kill()
        b.start()
        deadline = time.monotonic() + 30
        while sink.connects < 2 and time.monotonic() < deadline:
            d.poll()
            time.sleep(0.05)
        for _ in range(40):  # the replay goes out at the first poll after the reconnect
            d.poll()
            time.sleep(0.05)
        assert sink.replayed == (5 if replay_s else 0) and sink.acked_count == older + 5
        assert d.pending == 0 and [r.id for r in d.outbox.undelivered()] == []
        s = Subscriber(b.url, topic, client_id="sub-r")
        missing = s.wait_for(topic, set(ids), timeout_s=10 if replay_s else 2)
        got = set(s.alert_ids(topic))
        s.close()
        assert missing == (set() if replay_s else set(ids))
        assert not got & set(old)  # outside the window: the broker's loss stays a loss
        d.close()
    finally:
        b.stop()


@needs_broker
def test_a_restart_of_the_service_publishes_what_was_pending(broker, sub, tmp_path):
    broker.kill()
    first = delivery_to(broker, tmp_path / "o.sqlite")
    ids = [first.publish(alert_fields(i)).id for i in range(5)]
    first.close()  # the service stops while the broker is away
    broker.start()
    again = delivery_to(broker, tmp_path / "o.sqlite")
    assert again.pending == 5
    again.resend_pending()
    assert wait_delivered(again) == 0 and again.resent == 5
    assert sub.wait_for("emg-edge/unit-7/alerts", set(ids)) == set()  # the same ids, published again
    again.close()


_CHILD = """
import sys, time
from edge.runtime.config import FleetConfig
from edge.runtime.delivery import Delivery
from edge.runtime.mqtt_sink import MqttSink
from edge.runtime.outbox import Outbox
from tests.edge.mosquitto import alert_fields
d = Delivery(Outbox(sys.argv[1]), [])
d.outputs.append(MqttSink(FleetConfig(url=sys.argv[2], unit_id="unit-7")))
d.connect(None)
for i in range(5):
    d.publish(alert_fields(i))
print("stored", flush=True)
time.sleep(600)
"""


@needs_broker
def test_kill_9_while_the_broker_is_away_then_the_next_start_publishes(broker, sub, tmp_path):
    root = Path(__file__).resolve().parents[2]
    broker.kill()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "o.sqlite"), broker.url], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "stored"
    finally:
        child.kill()  # SIGKILL: no close, no "offline"
        child.wait()
    broker.start()
    again = delivery_to(broker, tmp_path / "o.sqlite")
    assert again.pending == 5
    again.resend_pending()
    assert wait_delivered(again) == 0
    assert sub.wait_for("emg-edge/unit-7/alerts", {1, 2, 3, 4, 5}) == set()
    again.close()


@needs_broker
def test_the_service_publishes_with_the_fleet_config(broker, tmp_path):
    from edge.runtime.service import run

    from tests.edge.runtime_standins import bursts, write_wav
    from tests.edge.test_runtime_service import opts

    sub = Subscriber(broker.url, "emg-edge/svc-unit/#")
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(30.0, 8000, [5.0, 20.0]), 8000)
    config = RuntimeConfig(fleet=FleetConfig(url=broker.url, unit_id="svc-unit"))
    summary = run(opts(tmp_path, wav, config=config, outbox=str(tmp_path / "o.sqlite"), stats_every_s=3600))
    assert summary.exit_code == 0 and summary.pending_alerts == 0  # the end of the stream waited for PUBACKs
    assert sub.wait_for("emg-edge/svc-unit/alerts", {1, 2}) == set()
    stats = sub.json_on("emg-edge/svc-unit/stats")
    assert stats and stats[-1]["alerts"] == 2 and stats[-1]["unit_id"] == "svc-unit"
    sub.close()


@needs_broker
@pytest.mark.slow
def test_alerts_through_a_broker_killed_twice_none_lost(broker, tmp_path):
    # The target (10,000 alerts: benchmarks/fleet.py) at a test's size.
    result = kill_twice(broker, tmp_path / "o.sqlite", 300, down_s=1.0)
    assert result["broker_kills"] == 2 and result["connects"] == 3
    assert result["lost"] == 0 and result["pending_after"] == 0


def test_unreadable_tls_files_are_one_line_errors(tmp_path):
    pytest.importorskip("paho.mqtt", reason="paho-mqtt missing: pip install -e '.[fleet]'")
    with pytest.raises(UserError, match="fleet TLS files refused"):
        MqttSink(FleetConfig(url="mqtts://127.0.0.1:1", ca_file=str(tmp_path / "nope.pem")))
    with pytest.raises(UserError, match="fleet.password_file"):
        MqttSink(FleetConfig(url="mqtt://127.0.0.1:1", username="u", password_file=str(tmp_path / "nope")))


@needs_broker
@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing (package mosquitto)")
def test_tls_with_a_client_certificate_and_a_password(tmp_path):
    pytest.importorskip("paho.mqtt", reason="paho-mqtt missing: pip install -e '.[fleet]'")
    tls = make_tls_files(tmp_path / "tls")
    users = tmp_path / "users"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(users), "unit-tls", "s3cret"], check=True,
                   capture_output=True)
    b = Broker(tmp_path / "broker", tls=True, listener_conf=(
        f"cafile {tls['ca']}\ncertfile {tls['server_cert']}\nkeyfile {tls['server_key']}\n"
        f"require_certificate true\nallow_anonymous false\npassword_file {users}\n"))
    b.start()
    (tmp_path / "pw").write_text("s3cret\n")
    try:
        d = Delivery(Outbox(), [])
        d.outputs.append(MqttSink(FleetConfig(
            url=b.url, unit_id="unit-tls", ca_file=str(tls["ca"]), cert_file=str(tls["client_cert"]),
            key_file=str(tls["client_key"]), username="unit-tls", password_file=str(tmp_path / "pw"))))
        d.connect(None)
        d.publish(alert_fields(1))
        assert wait_delivered(d) == 0  # PUBACKed over TLS by a broker that demands cert and password
        d.close()
    finally:
        b.stop()
