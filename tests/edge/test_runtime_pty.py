"""End to end over a real pseudo-terminal with the virtual amplifier: alerts reach the unit,
survive kill -9 of the runtime, and the unit sees each alert once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from firmware_bridge.sim.virtual_amp import FaultConfig, VirtualAmplifier

from edge.runtime.service import RuntimeOptions, run

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle

pytestmark = [pytest.mark.pty, pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pty")]

ROOT = Path(__file__).resolve().parents[2]


def test_alerts_reach_the_amplifier_and_the_stream_end_exits_0(tmp_path):
    pcm = bursts(24.0, 8000, [4.0, 14.0])
    amp = VirtualAmplifier(pcm, 8000, 0.5, speed=None, faults=FaultConfig(bit_error_rate=1e-5, seed=3))
    path = amp.start()
    try:
        b = standin_bundle(8000)
        summary = run(RuntimeOptions(
            bundle=b, source=f"serial:{path}", classifier=ThresholdClassifier(),
            frontend=EnergyFrontend(b.frontend_config), outbox=str(tmp_path / "o.sqlite"),
            alerts_jsonl=str(tmp_path / "a.jsonl"), install_signal_handlers=False, stats_every_s=0,
        ))
        assert summary.exit_code == 0 and summary.reason == "end of stream"
        assert amp.wait_alerts(2, timeout=5)
        got = amp.alerts
        assert [a.label for a in got] == ["fibrillation", "fibrillation"]
        assert [a.alert_id for a in got] == [1, 2]
        for a, t in zip(got, (4.0, 14.0)):
            assert abs(a.onset / 8000 - t) < 0.5
        assert summary.pending_alerts == 0
        # a bit error rate of 1e-5 over the 3.5 Mbit of frames flips some 50 bits (seed 3): frames
        # fail their CRC, the link counts and drops them, and neither the run nor an alert is lost
        assert summary.crc_errors > 0
        assert summary.audio_s > 20.0  # a few corrupted frames are gaps, not an end
    finally:
        amp.stop()


def _pending(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return con.execute("SELECT COUNT(*) FROM alerts WHERE delivered=0").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _child(link, outbox, jsonl, delay_s=0.0):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tests.edge.runtime_child", str(link), str(outbox), str(jsonl),
                             str(delay_s)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_loses_no_alert_and_the_unit_sees_each_once(tmp_path):
    # Bursts every 5 s; the unit streams as fast as the host reads and the first runtime is
    # slowed to ~12x real time (20 ms per window), so the host holds seconds of backlog. The lead is pulled at 20 s of stream time: alerts raised from the
    # backlog cannot be delivered. The runtime is killed -9 with alerts pending in the outbox,
    # then restarted on the same outbox: they go out with their original ids.
    starts = [2.0 + 7.0 * k for k in range(9)]  # apart by more than the refractory time: one alert each
    pcm = bursts(62.0, 8000, starts)
    link = tmp_path / "emg-amp"
    amp = VirtualAmplifier(pcm, 8000, 0.5, speed=None, link_path=str(link),
                           faults=FaultConfig(unplug_at_s=(24.0,), unplug_for_s=3.0))
    amp.start()
    outbox, jsonl = tmp_path / "outbox.sqlite", tmp_path / "alerts.jsonl"
    first = _child(link, outbox, jsonl, delay_s=0.02)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not (amp.stats.unplugs >= 1 and _pending(outbox) >= 1):
            time.sleep(0.01)
        pending_at_kill = _pending(outbox)
        assert pending_at_kill >= 1, "no undelivered alert while unplugged; scenario did not happen"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        second = _child(link, outbox, jsonl)
        out, err = second.communicate(timeout=90)
        assert second.returncode == 0, err[-2000:]
        assert "re-sending" in err
    finally:
        amp.stop()
        if first.poll() is None:
            first.kill()
    con = sqlite3.connect(outbox)
    rows = con.execute("SELECT id, delivered FROM alerts ORDER BY id").fetchall()
    ids = [r[0] for r in rows]
    assert ids == list(range(1, len(ids) + 1))  # stable, never reused across the restart
    assert all(d == 1 for _, d in rows)  # none lost: all ACKed
    seen = [a.alert_id for a in amp.alerts]
    assert sorted(seen) == ids  # the unit shows each alert exactly once
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert {x["id"] for x in lines} == set(ids)  # local sink has every alert too


def _serve(tmp_path, source, **kw):
    b = standin_bundle(8000)
    return run(RuntimeOptions(
        bundle=b, source=source, classifier=ThresholdClassifier(), frontend=EnergyFrontend(b.frontend_config),
        outbox=str(tmp_path / "o.sqlite"), alerts_jsonl=str(tmp_path / "a.jsonl"), install_signal_handlers=False,
        stats_every_s=0, **kw,
    ))


def test_source_loss_and_return_is_a_gap_not_an_end(tmp_path):
    pcm = bursts(30.0, 8000, [3.0, 22.0])
    link = tmp_path / "emg-amp"
    amp = VirtualAmplifier(pcm, 8000, 0.5, speed=4.0, link_path=str(link),
                           faults=FaultConfig(unplug_at_s=(10.0,), unplug_for_s=1.0))
    amp.start()
    try:
        summary = _serve(tmp_path, f"serial:{link}")
    finally:
        amp.stop()
    assert amp.stats.unplugs == 1
    assert summary.exit_code == 0 and summary.reason == "end of stream"
    assert summary.gap_samples > 0  # samples acquired while unplugged are missing, and counted
    assert [a.label for a in amp.alerts] == ["fibrillation", "fibrillation"]
    assert abs(amp.alerts[1].onset / 8000 - 22.0) < 0.5  # timing exact after the return


def test_garbage_on_the_line_is_counted_not_fatal(tmp_path):
    pcm = bursts(20.0, 8000, [10.0])
    amp = VirtualAmplifier(pcm, 8000, 0.5, speed=None,
                           faults=FaultConfig(bit_error_rate=2e-4, burst_every_bytes=20000, burst_len=300, seed=1))
    path = amp.start()
    try:
        summary = _serve(tmp_path, f"serial:{path}")
    finally:
        amp.stop()
    assert summary.exit_code == 0
    assert summary.crc_errors > 0
    assert summary.gap_samples > 0
    assert [a.label for a in amp.alerts] == ["fibrillation"]


def test_missing_port_is_retried_until_the_amplifier_appears(tmp_path, caplog):
    import logging

    link = tmp_path / "late-amp"
    amp = VirtualAmplifier(bursts(6.0, 8000, [2.0]), 8000, 0.5, speed=None, link_path=str(link))
    timer = threading.Timer(1.5, amp.start)
    timer.start()
    try:
        with caplog.at_level(logging.INFO):
            summary = _serve(tmp_path, f"serial:{link}?baud=3000000")
    finally:
        timer.join()
        amp.stop()
    assert "unavailable" in caplog.text  # logged while the port was missing
    assert summary.exit_code == 0 and summary.audio_s > 5.0
    assert len(amp.alerts) == 1


def test_sigterm_stops_the_cli_cleanly(tmp_path):
    amp = VirtualAmplifier(bursts(600.0, 8000, []), 8000, 0.5, speed=1.0)
    path = amp.start()
    proc = _child(path, tmp_path / "o.sqlite", tmp_path / "a.jsonl")
    try:
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        amp.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by signal" in err
