"""emg-bridge monitor against the virtual amplifier and over loop://."""

from __future__ import annotations

import io
import sys

import pytest

from firmware_bridge import codec as P
from firmware_bridge.cli import main
from firmware_bridge.host.link import LinkStats, SerialLink
from firmware_bridge.host.monitor import Monitor, format_stats
from firmware_bridge.sim.virtual_amp import VirtualAmplifier

from .link_helpers import GUARD_S, ramp_pcm, wait_for

posix = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


@posix
def test_monitor_shows_hello_stats_and_end():
    amp = VirtualAmplifier(ramp_pcm(24000), 8000, 0.5, speed=None, device_id="amp-7")
    path = amp.start()
    out = io.StringIO()
    link = SerialLink(path)
    try:
        summary = Monitor(link, out, interval_s=0.05).run(duration_s=GUARD_S, hello_timeout_s=GUARD_S)
    finally:
        link.close()
        amp.stop()
    text = out.getvalue().splitlines()
    assert text[0].startswith("HELLO device=amp-7 firmware=virtual-1 rate=8000 Hz width=16 bit uv_per_lsb=0.5")
    assert "END of stream" in text
    assert text[-1].startswith("STATS ") and "samples=24000 gaps=0 gap_samples=0 crc_errors=0" in text[-1]
    assert summary.ended and summary.stats.samples == 24000 and summary.blocks > 0


@posix
def test_monitor_cli(capsys):
    amp = VirtualAmplifier(ramp_pcm(8000), 8000, 0.5, speed=None)
    path = amp.start()
    try:
        assert main(["monitor", "--port", path, "--interval", "0.1", "--duration", str(GUARD_S)]) == 0
    finally:
        amp.stop()
    out = capsys.readouterr().out
    assert out.startswith("HELLO device=virtual-amp") and "samples=8000" in out


def test_monitor_prints_alerts_arriving_on_the_port():
    link = SerialLink("loop://", link_timeout_s=GUARD_S)
    out = io.StringIO()
    try:
        wait_for(lambda: link._port is not None)
        alert = P.Alert(5, "cramp_discharge", 0.8, 10, 90, 1)
        link._port.write(P.encode(P.Hello("tap", "1", 8000, 16, 1.0, 1)) + P.encode(alert) + P.encode(alert))
        summary = Monitor(link, out, interval_s=0.05).run(duration_s=0.5, hello_timeout_s=GUARD_S, start=False)
    finally:
        link.close()
    alerts = [ln for ln in out.getvalue().splitlines() if ln.startswith("ALERT")]
    assert alerts == ["ALERT #5 cramp_discharge confidence=0.8000 onset=10 offset=90 severity=1"]
    assert summary.alerts == 1 and not summary.ended


def test_monitor_cli_gives_up_without_hello(tmp_path, capsys):
    rc = main(["monitor", "--port", str(tmp_path / "ttyUSB7"), "--hello-timeout", "0.2"])
    assert rc == 1
    assert "no HELLO" in capsys.readouterr().err


def test_stats_line_names_bad_unit_input_only_when_there_was_some():
    assert "hellos_refused" not in format_stats(LinkStats(samples=5), 8000.0)
    line = format_stats(LinkStats(hellos_refused=2, samples_unusable=480, unit_alerts_dropped=7), 8000.0)
    assert line.endswith("hellos_refused=2 samples_unusable=480 unit_alerts_dropped=7")
