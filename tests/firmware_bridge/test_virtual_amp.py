"""The virtual amplifier: protocol behaviour on a real pty, back-pressure, faults, symlink, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import serial

from firmware_bridge import codec as P
from firmware_bridge.sim.faults import ByteFaults, FaultConfig
from firmware_bridge.host.link import SerialLink
from firmware_bridge.sim.ptyport import PtyPort
from firmware_bridge.sim.virtual_amp import VirtualAmplifier, format_alert

from .link_helpers import GUARD_S, drain, ramp_pcm, wait_for, write_wav

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


class Host:
    """A bare-bones host speaking the protocol by hand over pyserial."""

    def __init__(self, path):
        self.port = serial.serial_for_url(path, baudrate=3_000_000, timeout=0.05)
        self.dec = P.Decoder()
        self.seq = 0
        self.frames: list = []

    def send(self, frame):
        self.seq += 1
        frame.seq = self.seq
        self.port.write(P.encode(frame))
        return self.seq

    def pump(self):
        data = self.port.read(max(1, self.port.in_waiting))
        self.frames += self.dec.feed(data)

    def wait(self, pred):
        end = time.monotonic() + GUARD_S
        while time.monotonic() < end:
            self.pump()
            hit = [f for f in self.frames if pred(f)]
            if hit:
                return hit
        raise AssertionError("expected frame never came")

    def close(self):
        self.port.close()


def test_amp_speaks_the_protocol(tmp_path):
    pcm = ramp_pcm(2000)
    with VirtualAmplifier(pcm, 8000, 0.5, speed=None, samples_per_frame=100) as amp:
        host = Host(amp.path)
        try:
            host.send(P.HelloRequest())
            hello = host.wait(lambda f: isinstance(f, P.Hello))[0]
            assert (hello.sample_rate, hello.sample_width, hello.channels, hello.uv_per_lsb) == (8000, 16, 1, 0.5)
            seq = host.send(P.Start())
            assert host.wait(lambda f: isinstance(f, P.Ack) and f.ref_type == P.FrameType.START)[0].ref_id == seq
            end = host.wait(lambda f: isinstance(f, P.Heartbeat) and f.state == P.StreamState.ENDED)[0]
            assert end.next_index == 2000
            got = [f for f in host.frames if isinstance(f, P.Samples)]
            assert [f.first_index for f in got] == list(range(0, 2000, 100))
            np.testing.assert_array_equal(np.concatenate([f.samples for f in got]), pcm)
            # Three copies of one alert (lost ACKs on the way back): three ACKs, shown once.
            alert = P.Alert(9, "fibrillation", 0.75, 100, 300, 2)
            for _ in range(3):
                host.send(P.Alert(**{**alert.__dict__}))
            host.wait(lambda f: isinstance(f, P.Ack) and f.ref_type == P.FrameType.ALERT)
            assert wait_for(lambda: host.pump() or sum(
                isinstance(f, P.Ack) and f.ref_type == P.FrameType.ALERT for f in host.frames) == 3)
            host.send(P.Config(P.ConfigKey.SAMPLE_RATE, 4000))
            nack = host.wait(lambda f: isinstance(f, P.Nack))[0]
            assert nack.reason == P.ErrorCode.UNSUPPORTED_CONFIG and nack.ref_type == P.FrameType.CONFIG
            seq = host.send(P.Start(sample_rate=4000))
            nack = host.wait(lambda f: isinstance(f, P.Nack) and f.ref_type == P.FrameType.START)[0]
            assert nack.ref_id == seq and nack.reason == P.ErrorCode.UNSUPPORTED_CONFIG
            assert amp.wait_alerts(1, GUARD_S)
            assert [a.alert_id for a in amp.alerts] == [9] and amp.stats.alert_duplicates == 2
        finally:
            host.close()
    assert amp.error is None


def test_max_speed_waits_for_a_slow_reader_and_loses_nothing():
    pcm = ramp_pcm(40000)  # 80 kB: several times what a pty buffers
    with VirtualAmplifier(pcm, 8000, 0.5, speed=None) as amp:
        link = SerialLink(amp.path, queue_s=0.5, link_timeout_s=GUARD_S)  # a small host queue
        try:
            link.start(timeout=GUARD_S)
            first = link.read_block(timeout=GUARD_S)
            time.sleep(0.5)  # the application stalls; the amplifier must wait, not drop
            blocks = [first] + drain(link, pcm)
            s = link.stats
        finally:
            link.close()
    assert sum(b.samples.size for b in blocks) == 40000
    assert all(b.gap_before == 0 for b in blocks) and s.gap_samples == 0
    assert amp.stats.samples_lost == 0


def test_paced_amp_drops_when_nobody_listens_and_gap_is_exact(tmp_path):
    pcm = ramp_pcm(16000)
    with VirtualAmplifier(pcm, 8000, 0.5, speed=8.0, link_path=str(tmp_path / "amp")) as amp:
        link = SerialLink(amp.path)
        try:
            link.start(timeout=GUARD_S)
            blocks = drain(link, pcm, on_block=lambda b, bl: len(bl) == 5 and amp.unplug(0.3))
            s = link.stats
        finally:
            link.close()
    assert amp.stats.unplugs == 1 and s.reconnects == 1
    assert blocks[0].first_index + sum(b.samples.size for b in blocks) + s.gap_samples == 16000
    assert s.gap_samples >= amp.stats.samples_lost > 0


def test_byte_faults_are_seeded_and_counted():
    data = bytes(range(256)) * 400  # 102,400 bytes
    drop = ByteFaults(FaultConfig(drop_rate=0.01, seed=5))
    out = b"".join(drop.apply(data[i:i + 1000]) for i in range(0, len(data), 1000))
    assert len(out) == len(data) - drop.stats.bytes_dropped
    assert 700 < drop.stats.bytes_dropped < 1350  # ~1% of 102,400
    again = ByteFaults(FaultConfig(drop_rate=0.01, seed=5))
    assert b"".join(again.apply(data[i:i + 1000]) for i in range(0, len(data), 1000)) == out
    ber = ByteFaults(FaultConfig(bit_error_rate=1e-3, seed=1))
    flipped = ber.apply(data)
    diff = np.unpackbits(np.frombuffer(flipped, np.uint8) ^ np.frombuffer(data, np.uint8)).sum()
    assert diff == ber.stats.bits_flipped and 0 < diff < 2 * 1e-3 * 8 * len(data)
    burst = ByteFaults(FaultConfig(burst_every_bytes=10000, burst_len=50, seed=2))
    kept = burst.apply(data)
    assert burst.stats.bursts >= 3 and len(data) - len(kept) == burst.stats.bytes_dropped
    assert ByteFaults(FaultConfig()).apply(data) == data


@pytest.mark.parametrize("kw", [dict(bit_error_rate=0.5), dict(drop_rate=-0.1), dict(burst_every_bytes=5),
                                dict(unplug_at_s=(-1,)), dict(unplug_for_s=1000)])
def test_fault_config_validation(kw):
    with pytest.raises(ValueError):
        FaultConfig(**kw)


def test_pty_symlink_is_repointed_and_removed(tmp_path):
    link = tmp_path / "ttyAMP"
    port = PtyPort(link)
    first = port.open()
    assert first == str(link) and os.readlink(link) == port.slave_path
    port.close()
    assert not os.path.lexists(link)  # unplugged: the name vanishes, as /dev/ttyACM0 does
    port.open()
    assert os.readlink(link) == port.slave_path
    port.close()
    (tmp_path / "file").write_text("precious")
    with pytest.raises(FileExistsError):
        PtyPort(tmp_path / "file").open()
    assert (tmp_path / "file").read_text() == "precious"


def test_amp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="int16"):
        VirtualAmplifier(np.zeros(10), 8000, 0.5)
    with pytest.raises(ValueError, match="speed"):
        VirtualAmplifier(np.zeros(10, np.int16), 8000, 0.5, speed=0)
    with pytest.raises(ValueError, match="samples_per_frame"):
        VirtualAmplifier(np.zeros(10, np.int16), 8000, 0.5, samples_per_frame=600)


def test_format_alert():
    line = format_alert(P.Alert(3, "fibrillation", 0.9312, 44100, 88200, 2), 44100)
    assert line == "ALERT #3 CRITICAL fibrillation 93.1% at 1.000-2.000 s (samples 44100-88200)"


def _reap(proc):
    """Kill a CLI process a failed test left running."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _spawn(args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "firmware_bridge.cli", "virtual-amp", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_prints_path_alerts_once_and_end(tmp_path):
    pcm = ramp_pcm(8000)
    write_wav(tmp_path / "rec.wav", pcm, 8000)
    proc = _spawn(["--wav", str(tmp_path / "rec.wav"), "--speed", "max", "--linger", "1",
                   "--link", str(tmp_path / "amp")])
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "PTY" and first[1] == str(tmp_path / "amp")
        link = SerialLink(first[1])
        try:
            link.start(timeout=GUARD_S)
            for k in range(2):
                link.send_alert(P.Alert(k + 1, "myotonic_discharge", 0.5, 100 * k, 100 * k + 50, 1))
            drain(link, pcm)
            assert wait_for(lambda: link.pending_alerts() == [])
        finally:
            link.close()
        out, err = proc.communicate(timeout=GUARD_S)
    finally:
        _reap(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert [ln.split()[1] for ln in lines if ln.startswith("ALERT")] == ["#1", "#2"]
    assert [ln for ln in lines if ln.startswith("END")] == ["END samples=8000 sent=8000 lost=0"]
    assert "samples_sent=8000" in err


def test_cli_exits_cleanly_on_sigterm_and_reports_user_errors(tmp_path):
    write_wav(tmp_path / "rec.wav", ramp_pcm(800), 8000)
    proc = _spawn(["--wav", str(tmp_path / "rec.wav")])
    try:
        assert proc.stdout.readline().startswith("PTY /dev/")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=GUARD_S)
    finally:
        _reap(proc)
    assert proc.returncode == 0
    bad = _spawn(["--wav", str(tmp_path / "missing.wav")])
    out, err = bad.communicate(timeout=GUARD_S)
    assert bad.returncode == 2 and "missing.wav" in err and "Traceback" not in err
    bad = _spawn(["--wav", str(tmp_path / "rec.wav"), "--ber", "0.5"])
    out, err = bad.communicate(timeout=GUARD_S)
    assert bad.returncode == 2 and "bit_error_rate" in err and "Traceback" not in err


def test_cli_unplug_flag_jsonl_alerts_survive_replug(tmp_path):
    import json

    pcm = ramp_pcm(16000)
    write_wav(tmp_path / "rec.wav", pcm, 8000)
    proc = _spawn(["--wav", str(tmp_path / "rec.wav"), "--speed", "4", "--linger", "1", "--format", "jsonl",
                   "--link", str(tmp_path / "amp"), "--unplug-at", "0.5", "--unplug-for", "0.3"])
    try:
        path = proc.stdout.readline().split()[1]
        link = SerialLink(path)
        try:
            link.start(timeout=GUARD_S)

            def on_block(b, blocks):
                if len(blocks) in (2, 20, 40):
                    link.send_alert(P.Alert(len(blocks), "fibrillation", 0.9, b.first_index, b.end_index, 2))

            blocks = drain(link, pcm, on_block)
            assert wait_for(lambda: link.pending_alerts() == [])
            s = link.stats
        finally:
            link.close()
        out, err = proc.communicate(timeout=GUARD_S)
    finally:
        _reap(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert "UNPLUG" in lines and f"REPLUG {path}" in lines
    alerts = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert sorted(a["alert"]["alert_id"] for a in alerts) == [2, 20, 40]
    assert s.reconnects == 1 and blocks[0].first_index + sum(b.samples.size for b in blocks) + s.gap_samples == 16000


def test_multichannel_amp_bounds_its_frames_to_whole_steps():
    steps = np.zeros((100, 4), np.int16)
    amp = VirtualAmplifier(steps, 8000, 0.5, speed=None)
    assert amp.hello.channels == 4 and amp.n_samples == 100 and amp.samples_per_frame == 80
    with pytest.raises(ValueError, match=r"1\.\.127 for 4 channel"):
        VirtualAmplifier(steps, 8000, 0.5, samples_per_frame=128)
    with pytest.raises(ValueError, match="1..255 channels"):
        VirtualAmplifier(np.zeros((10, 256), np.int16), 8000, 0.5)
