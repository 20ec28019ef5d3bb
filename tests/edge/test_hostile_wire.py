"""Issue 14 (the wire rows) and issue 15 item 1, over a real pseudo-terminal: what a unit sends
is bounded, counted and survived; a multi-channel unit's channels arrive each intact.

* a unit streaming while its HELLOs are lost for 7 s: the link's backlog (48 kHz x 5 s) filled
  with samples nobody read and the link stopped reading the port, so the later HELLOs were never
  read ("no amplifier" for 31 s);
* 200,000 ALERT frames sent by the unit: memory 57 -> 134 MB, kept;
* a HELLO announcing 4.28 GHz: a resampling filter of up to 288 MB was built before the refusal;
* 2 or 4 channels: SAMPLES were taken as one channel (blocks of 400, 200, 200, 400 dropped).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge import codec as P
from firmware_bridge.host.link import MAX_UNIT_ALERTS, UNIT_ALERT_IDS, SerialLink
from firmware_bridge.sim.virtual_amp import VirtualAmplifier
from edge.resample import MAX_FILTER_TAPS, StreamResampler, design_filter, filter_taps, ratio
from edge.runtime.service import RuntimeOptions, run

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle
from tests.firmware_bridge.link_helpers import GUARD_S, PtyUnit, drain, wait_for

pytestmark = [pytest.mark.pty, pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pty")]

ROOT = Path(__file__).resolve().parents[2]


class HostileUnit(VirtualAmplifier):
    """A unit that may stream from power-up (as after a host restart, PROTOCOL.md §6.6), whose
    HELLOs are lost until ``hello_from_s`` of stream time, or say ``bad_rate`` for the first
    ``bad_hellos`` of them."""

    def __init__(self, *a, streaming: bool = False, hello_from_s: float = 0.0, bad_hellos: int = 0,
                 bad_rate: int = 0, **kw):
        super().__init__(*a, **kw)
        self.streaming = streaming
        self.hello_from = int(hello_from_s * self.sample_rate)
        self.bad_hellos, self.bad_rate, self.hellos_lost = bad_hellos, bad_rate, 0

    def _acquire(self, now):
        if self.streaming and self._clock_t0 is None:  # already streaming when the host opens the port
            self._clock_t0, self._state = now, 1
        super()._acquire(now)

    def _send(self, frame):
        if isinstance(frame, P.Hello):
            if self._pos < self.hello_from:
                self.hellos_lost += 1
                return b""
            if self.bad_hellos:
                self.bad_hellos -= 1
                frame = P.Hello(frame.device_id, frame.firmware_version, self.bad_rate, 16, frame.uv_per_lsb,
                                frame.channels)
        return super()._send(frame)


def run_standin(tmp_path, source: str):
    """The runtime with the stand-in model (8 kHz, bursts above the threshold alert) on ``source``."""
    b = standin_bundle(8000)
    return run(RuntimeOptions(
        bundle=b, source=source, classifier=ThresholdClassifier(), frontend=EnergyFrontend(b.frontend_config),
        outbox=str(tmp_path / "o.sqlite"), install_signal_handlers=False, stats_every_s=0,
    ))


def test_unit_streaming_while_its_hellos_are_lost_for_7_s_is_heard_when_they_return():
    rate = 48_000
    pcm = (np.arange(24 * rate) % 30011 - 15000).astype(np.int16)  # 6 s of wall time at speed 4
    amp = HostileUnit(pcm, rate, 0.5, speed=4.0, streaming=True, hello_from_s=7.0)
    amp.start()
    link = SerialLink(amp.path)  # the defaults: queue_s = 5 s, which 7 s at 48 kHz used to overflow
    try:
        link.start(timeout=GUARD_S)  # never returned before the fix
        blocks = drain(link, pcm, timeout=60)
        s = link.stats
    finally:
        link.close()
        amp.stop()
    assert amp.hellos_lost > 1 and s.hellos == s.hellos - s.hellos_refused >= 1
    # More than the 5 s backlog that used to fill and stop the reads came before HELLO: dropped, counted.
    assert s.samples_unusable > 5 * rate
    assert blocks and blocks[-1].end_index == len(pcm) and s.samples > 3 * rate


@pytest.mark.slow
def test_200000_alert_frames_from_the_unit_are_acked_capped_and_counted():
    unit = PtyUnit()
    link = SerialLink(unit.path, link_timeout_s=GUARD_S)
    n = 200_000
    try:
        unit.send(P.Hello("flood", "1", 8000, 16, 0.5, 1))
        link.wait_hello(GUARD_S)
        wire = b"".join(P.encode(P.Alert(i, "x", 0.5, 0, 1, 0)) for i in range(n))
        unit.send(wire=wire, guard_s=300)  # a failure guard, not a speed claim
        assert wait_for(lambda: link.stats.unit_alerts == n, timeout=300)
        held = len(link._peer_alerts), len(link._peer_alert_ids)  # what the link keeps, bounded
        got = link.received_alerts()
        s = link.stats
        assert wait_for(lambda: unit.host_frames.get("Ack", 0) == n, timeout=60)  # each ACKed
    finally:
        link.close()
        unit.close()
    assert held[0] == MAX_UNIT_ALERTS and held[1] <= UNIT_ALERT_IDS
    assert [a.alert_id for a in got] == list(range(n - MAX_UNIT_ALERTS, n))
    assert s.unit_alerts_dropped == n - MAX_UNIT_ALERTS and s.samples == 0


def test_hello_at_4_28_ghz_is_refused_before_anything_is_built_and_the_run_survives(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    pcm = bursts(8.0, 8000, [3.0])
    amp = HostileUnit(pcm, 8000, 0.5, speed=None, bad_hellos=3, bad_rate=4_280_000_000)
    amp.start()
    try:
        summary = run_standin(tmp_path, f"serial:{amp.path}")
    finally:
        amp.stop()
    assert summary.exit_code == 0 and summary.reason == "end of stream" and summary.source_rate == 8000
    assert "announces 4280000000 Hz, outside the 1000..384000 Hz the host accepts" in caplog.text
    assert amp.bad_hellos == 0 and summary.alerts_raised == 1


def test_resampling_memory_is_bounded_before_the_filter_is_designed():
    with pytest.raises(ValueError, match=r"needs a 5018383-tap filter \(~241 MB to design\), above the bound"):
        StreamResampler(99_999, 16_000)  # the 288 MB case: refused by arithmetic, nothing designed
    with pytest.raises(ValueError, match="above the bound"):
        ratio(4_280_000_000, 16_000)
    assert filter_taps(*ratio(48_000, 47_999)) <= MAX_FILTER_TAPS  # every pair of rates up to 48 kHz
    for up, down in ((1, 3), (147, 160), (160, 441), (2, 1), (7, 5)):
        assert filter_taps(up, down) == len(design_filter(up, down))


# ---------------------------------------------------------------- issue 15 item 1: multi-channel


def four_channels(n: int) -> np.ndarray:
    """Steps x 4 channels, each channel distinct (a mix-up of channels or steps shows)."""
    rng = np.random.default_rng(15)
    return rng.integers(-30000, 30000, (n, 4)).astype(np.int16)


@pytest.mark.parametrize("channel", [0, 1, 2, 3])
def test_four_channels_at_48_khz_each_identical_to_the_source(channel):
    steps = four_channels(3 * 48_000)
    with VirtualAmplifier(steps, 48_000, 0.5, speed=None) as amp:
        assert amp.hello.channels == 4 and amp.samples_per_frame == P.MAX_SAMPLES // 4
        link = SerialLink(f"{amp.path}?channel={channel}", link_timeout_s=GUARD_S)
        try:
            assert link.start(timeout=GUARD_S).channels == 4
            blocks = drain(link, steps[:, channel], timeout=60)  # each block checked against the source
            s = link.stats
        finally:
            link.close()
    got = np.concatenate([b.samples for b in blocks])
    np.testing.assert_array_equal(got, steps[:, channel])
    assert s.samples == len(steps) and s.gap_samples == s.duplicate_samples == s.bad_frames == 0


def test_emg_edge_run_analyses_the_channel_asked_for(tmp_path):
    # Bursts at 3 s on channel 2 only, at 9 s on the others: ?channel=2 must see exactly one.
    quiet, loud = bursts(14.0, 8000, [9.0]), bursts(14.0, 8000, [3.0], seed=1)
    steps = np.stack([quiet, quiet, loud, quiet], axis=1)
    amp = VirtualAmplifier(steps, 8000, 0.5, speed=None)
    amp.start()
    try:
        summary = run_standin(tmp_path, f"serial:{amp.path}?channel=2")
        assert amp.wait_alerts(1, timeout=GUARD_S)
        got = amp.alerts
    finally:
        amp.stop()
    assert summary.exit_code == 0 and summary.alerts_raised == 1 and summary.audio_s == pytest.approx(14.0)
    assert len(got) == 1 and abs(got[0].onset / 8000 - 3.0) < 0.5


def test_a_channel_the_unit_does_not_have_is_a_one_line_refusal(tmp_path):
    with VirtualAmplifier(four_channels(8000), 8000, 0.5, speed=None) as amp:
        out = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--source", f"serial:{amp.path}?channel=4",
                              "--outbox", str(tmp_path / "o.sqlite")],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1 and "channel 4 asked but the unit 'virtual-amp' has 4 channel(s)" in lines[0], out.stderr
