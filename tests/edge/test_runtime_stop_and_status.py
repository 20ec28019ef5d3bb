"""Prompt shutdown and exit statuses (issue 14): SIGTERM/SIGINT are honoured within a second in
every state (waiting for the unit's HELLO, reading, draining); what the unit states never ends
in exit 2 (systemd's ``RestartPreventExitStatus=2`` would stop the service for good); alerts
as JSON lines reach /dev/stdout, a pipe or a FIFO. Over real ptys and child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from firmware_bridge.sim.virtual_amp import VirtualAmplifier

from edge.runtime.alerts import AlertRecord, JsonlSink
from edge.runtime.delivery import Delivery
from edge.runtime.outbox import Outbox
from edge.runtime.service import RuntimeOptions, run
from edge.runtime.sources import SourceFault

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle
from tests.edge.test_runtime_delivery import Channel
from tests.edge.test_runtime_outbox import fields

pytestmark = [pytest.mark.pty, pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pty")]

ROOT = Path(__file__).resolve().parents[2]
#: A behaviour bound, generous for a loaded machine: the requirement is 1 s; the old code took 14.9 s.
STOP_BOUND_S = 3.0


class Child:
    """``tests.edge.runtime_child`` on a serial path; its stderr collected line by line."""

    def __init__(self, path: str, tmp: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.edge.runtime_child", path, str(tmp / "o.sqlite"), str(tmp / "a.jsonl")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60.0, count: int = 1) -> None:
        end = time.monotonic() + timeout
        while sum(text in x for x in self.lines) < count:
            assert self.proc.poll() is None, "".join(self.lines)[-2000:]
            assert time.monotonic() < end, f"no {text!r} in: " + "".join(self.lines)[-2000:]
            time.sleep(0.02)

    def stop_time(self, sig: int) -> tuple[float, int]:
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self._t.join(timeout=5)
        return time.monotonic() - t0, code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def silent_port():
    """A pty nobody answers on (a unit that is plugged in but silent); its output is discarded."""
    master, slave = os.openpty()
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                os.read(master, 4096)
            except OSError:
                return

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    yield os.ttyname(slave)
    stop.set()
    os.close(slave)
    os.close(master)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_while_waiting_for_hello_stops_at_once(tmp_path, silent_port, sig, code):
    child = Child(silent_port, tmp_path)
    try:
        # the second report (3 s in): the old wait doubled per attempt (4 s next, up to 30 s)
        child.wait_for("no amplifier on", count=2)
        took, got = child.stop_time(sig)
    finally:
        child.kill()
    assert got == code, "".join(child.lines)[-2000:]
    assert took < STOP_BOUND_S, f"stopping took {took:.1f} s"


def test_sigterm_while_reading_stops_at_once(tmp_path):
    amp = VirtualAmplifier(bursts(600.0, 8000, []), 8000, 0.5, speed=1.0)
    path = amp.start()
    child = Child(path, tmp_path)
    try:
        child.wait_for("calibration:")
        time.sleep(0.5)
        took, got = child.stop_time(signal.SIGTERM)
    finally:
        child.kill()
        amp.stop()
    assert got == 0 and any("stopped by signal" in x for x in child.lines)
    assert took < STOP_BOUND_S, f"stopping took {took:.1f} s"


def test_a_stop_while_draining_ends_the_wait_for_acks():
    d = Delivery(Outbox(), [])
    d.connect(Channel())  # a unit that never ACKs
    d.publish(fields())
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    t0 = time.monotonic()
    d.drain(60.0, stop=stop)
    assert time.monotonic() - t0 < STOP_BOUND_S and d.pending == 1  # kept for the next start


def _serve(tmp_path, amp_rate: int, uv: float):
    amp = VirtualAmplifier(bursts(20.0, amp_rate, [5.0]), amp_rate, uv, speed=None)
    path = amp.start()
    b = standin_bundle(8000)
    try:
        return run(RuntimeOptions(
            bundle=b, source=f"serial:{path}", classifier=ThresholdClassifier(),
            frontend=EnergyFrontend(b.frontend_config), outbox=str(tmp_path / "o.sqlite"),
            install_signal_handlers=False, stats_every_s=0))
    finally:
        amp.stop()


@pytest.mark.parametrize("rate, uv, why", [(4000, 0.5, "needs at least 6000 Hz"),
                                           (8000, 1e-4, "calibration refused")])
def test_what_the_unit_states_is_a_source_fault_not_a_user_error(tmp_path, rate, uv, why):
    # a UserError is exit 2, which the unit file does not restart: one unit could stop the service
    with pytest.raises(SourceFault, match=why):
        _serve(tmp_path, rate, uv)


def test_the_cli_exits_1_in_one_line_when_the_units_scale_is_refused(tmp_path):
    from edge.bundle import load_bundle

    rate = int(load_bundle("default").sample_rate)
    amp = VirtualAmplifier(bursts(20.0, rate, []), rate, 1e-5, speed=None)
    path = amp.start()
    try:
        p = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--quiet", "--bundle", "default",
                            "--source", f"serial:{path}", "--outbox", str(tmp_path / "o.sqlite")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        amp.stop()
    assert p.returncode == 1, p.stderr[-2000:]
    err = [x for x in p.stderr.splitlines() if "WARNING" not in x]
    assert len(err) == 1 and "calibration refused" in err[0] and "Traceback" not in p.stderr


def _one_alert_to(target: str) -> subprocess.CompletedProcess:
    code = ("import sys; from edge.runtime.alerts import AlertRecord, JsonlSink\n"
            "from tests.edge.test_runtime_outbox import fields\n"
            "s = JsonlSink(sys.argv[1]); s.on_alert(AlertRecord(id=7, **fields())); s.close()\n")
    return subprocess.run([sys.executable, "-c", code, target], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_alerts_jsonl_to_dev_stdout_on_a_pipe():
    p = _one_alert_to("/dev/stdout")  # stdout is a pipe here: fsync on it was EINVAL
    assert p.returncode == 0, p.stderr
    assert AlertRecord.from_json(p.stdout).id == 7


def test_alerts_jsonl_to_a_fifo(tmp_path):
    fifo = tmp_path / "alerts.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    sink = JsonlSink(fifo)
    sink.on_alert(AlertRecord(id=3, **fields()))
    sink.close()
    reader.join(timeout=10)
    assert AlertRecord.from_json(got[0]).id == 3
