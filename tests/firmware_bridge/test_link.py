"""SerialLink over loop:// and socket:// (a scripted unit), without any hardware or pty."""

from __future__ import annotations

import logging
import socket
import threading

import numpy as np
import pytest

from firmware_bridge import codec as P
from firmware_bridge.host.link import SerialLink, split_channel
from firmware_bridge.host.source import SampleSource

from .link_helpers import GUARD_S, PtyUnit, wait_for

HELLO = P.Hello("unit-1", "fw-2.0", 8000, 16, 0.25, 1)


def inject(link: SerialLink, *frames) -> None:
    """Over loop:// whatever is written comes back: write frames 'from the unit'."""
    wait_for(lambda: link._port is not None)
    link._port.write(b"".join(P.encode(f) for f in frames))


def samples(first: int, n: int) -> P.Samples:
    return P.Samples(first, (np.arange(first, first + n) % 30000).astype(np.int16))


def read_all(link: SerialLink) -> list:
    out = []
    while True:
        try:
            b = link.read_block(timeout=GUARD_S)
        except EOFError:
            return out
        assert b is not None, "timed out"
        out.append(b)


def test_loop_gaps_duplicates_and_end_of_stream():
    link = SerialLink("loop://", heartbeat_s=0.5, link_timeout_s=GUARD_S)
    try:
        inject(link, HELLO)
        assert link.start(timeout=GUARD_S).device_id == "unit-1"
        assert isinstance(link, SampleSource)
        assert (link.sample_rate, link.uv_per_lsb) == (8000, 0.25)
        inject(link, samples(0, 100), samples(100, 100),
               samples(250, 50),     # 50 missing
               samples(280, 40),     # overlaps 280..299: only 300..319 is new
               samples(100, 100),    # stale duplicate: dropped
               samples(320, 30),
               P.Heartbeat(1, P.StreamState.ENDED, 400, 0))  # 50 more missing at the end
        blocks = read_all(link)
        with pytest.raises(EOFError):
            link.read_block(timeout=0)
        s = link.stats
    finally:
        link.close()
    assert [(b.first_index, b.samples.size, b.gap_before) for b in blocks] == [
        (0, 100, 0), (100, 100, 0), (250, 50, 50), (300, 20, 0), (320, 30, 0)]
    for b in blocks:
        np.testing.assert_array_equal(b.samples, np.arange(b.first_index, b.end_index) % 30000)
    assert s.samples == 300 and s.gap_samples == 100 and s.gaps == 2 and s.duplicate_samples == 120
    assert s.crc_errors == 0 and s.link_up and not link.stats.link_up  # down once closed


def test_one_frame_with_an_absurd_index_is_a_restart_not_the_end_of_the_stream():
    # Issue 14: a SAMPLES frame whose first_index passed the CRC at +2**63 made every later
    # sample look like a duplicate. Now the jump out and the jump back are two restarts
    # (rebased), and the stream carries on with increasing indices.
    link = SerialLink("loop://", heartbeat_s=0.5, link_timeout_s=GUARD_S)
    try:
        inject(link, HELLO)
        link.start(timeout=GUARD_S)
        inject(link, samples(0, 100), samples(2**63 + 100, 10), samples(100, 100), samples(200, 100),
               P.Heartbeat(1, P.StreamState.ENDED, 300, 0))
        blocks = read_all(link)
        s = link.stats
    finally:
        link.close()
    assert [(b.first_index, b.samples.size, b.gap_before) for b in blocks] == [
        (0, 100, 0), (100, 10, 0), (110, 100, 0), (210, 100, 0)]
    assert s.unit_restarts == 2 and s.duplicate_samples == 0 and s.gap_samples == 0
    assert s.samples == 310


def test_loop_alert_is_acked_once_and_peer_alerts_deduplicated():
    # Over loop:// the link hears its own ALERT, ACKs it as a unit would, and hears that ACK.
    link = SerialLink("loop://", link_timeout_s=GUARD_S)
    try:
        inject(link, HELLO)
        link.wait_hello(GUARD_S)
        alert = P.Alert(42, "myokymia", 0.61, 1000, 1800, 1)
        link.send_alert(alert)
        acked: list[int] = []
        assert wait_for(lambda: acked.extend(link.acked_alerts()) or acked)
        assert acked == [42] and link.pending_alerts() == []
        got = link.received_alerts()
        inject(link, alert)  # the same id again: ACKed but not reported twice
        assert wait_for(lambda: link.stats.frames > 0 and link.acked_alerts() == [] and True)
        got += link.received_alerts()
    finally:
        link.close()
    assert [a.alert_id for a in got] == [42]
    assert got[0].label == "myokymia" and got[0].onset == 1000


def test_retry_schedule_doubles_to_the_ceiling():
    link = SerialLink("loop://")
    try:
        assert [link._retry_timeout(k) for k in range(7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 1.6, 1.6])
    finally:
        link.close()


def test_missing_port_is_retried_and_logged_not_raised(caplog, tmp_path):
    caplog.set_level(logging.DEBUG, logger="firmware_bridge.host.link")
    link = SerialLink(str(tmp_path / "ttyACM9"), reconnect_max_s=0.05)
    try:
        with pytest.raises(TimeoutError, match="no HELLO"):
            link.wait_hello(0.3)
        assert not link.stats.link_up
        assert isinstance(link, SampleSource) and link.sample_rate == 0  # until HELLO
    finally:
        link.close()
        link.close()  # idempotent
    assert any("unavailable" in r.getMessage() for r in caplog.records)
    with pytest.raises(EOFError):
        link.read_block(timeout=0)


def test_bad_url_and_settings_are_value_errors():
    with pytest.raises(ValueError, match="bogus"):
        SerialLink("bogus://nowhere")
    with pytest.raises(ValueError, match="link_timeout_s"):
        SerialLink("loop://", heartbeat_s=1.0, link_timeout_s=0.5)


class ScriptedUnit:
    """A unit on a TCP socket: HELLO, ACKed START, a few SAMPLES, alerts ACKed after ``ack_after`` tries."""

    def __init__(self, ack_after: int = 0):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.ack_after = ack_after
        self.alert_tx: dict[int, int] = {}
        self.connections = 0
        self.hang_up = threading.Event()   # close the current connection
        self.go_silent = threading.Event()  # keep it open but send nothing
        self.next_index = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            self.hang_up.clear()
            with conn:
                self.session(conn)

    def session(self, conn):
        conn.settimeout(0.02)
        dec = P.Decoder()
        conn.sendall(P.encode(HELLO))
        streaming = False
        while not self.stop.is_set() and not self.hang_up.is_set():
            try:
                data = conn.recv(4096)
                if not data:
                    return
            except socket.timeout:
                data = b""
            except OSError:
                return
            out = []
            for f in dec.feed(data):
                if isinstance(f, P.HelloRequest):
                    out.append(HELLO)
                elif isinstance(f, P.Start):
                    out.append(P.Ack(P.FrameType.START, f.seq))
                    streaming = True
                elif isinstance(f, P.Alert):
                    k = self.alert_tx[f.alert_id] = self.alert_tx.get(f.alert_id, 0) + 1
                    if k > self.ack_after:
                        out.append(P.Ack(P.FrameType.ALERT, f.alert_id))
            if self.go_silent.is_set():
                continue
            if streaming:
                out.append(samples(self.next_index, 80))
                self.next_index += 80
            try:
                conn.sendall(b"".join(P.encode(f) for f in out))
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.server.close()


def test_socket_alert_retransmitted_until_acked():
    unit = ScriptedUnit(ack_after=2)
    link = SerialLink(f"socket://127.0.0.1:{unit.port}", ack_timeout_s=0.02, max_backoff_s=0.05)
    try:
        link.start(timeout=GUARD_S)
        link.send_alert(P.Alert(7, "fasciculation", 0.9, 10, 20, 2))
        acked: list[int] = []
        assert wait_for(lambda: acked.extend(link.acked_alerts()) or acked)
        s = link.stats
    finally:
        link.close()
        unit.close()
    assert acked == [7]
    assert unit.alert_tx[7] >= 3  # two unanswered tries, then the ACKed one
    assert s.alerts_sent == 1 and s.alerts_retransmitted >= 2 and s.alerts_acked == 1


def test_socket_reconnects_after_hang_up_and_after_silence():
    unit = ScriptedUnit()
    link = SerialLink(f"socket://127.0.0.1:{unit.port}", heartbeat_s=0.05, link_timeout_s=0.3, reconnect_max_s=0.05)
    try:
        link.start(timeout=GUARD_S)
        assert link.read_block(timeout=GUARD_S) is not None
        unit.hang_up.set()  # the far end goes away (USB unplugged)
        assert wait_for(lambda: link.stats.reconnects >= 1)
        unit.go_silent.set()  # still connected, but nothing arrives: link-loss timeout
        assert wait_for(lambda: link.stats.reconnects >= 2)
        unit.go_silent.clear()
        # Streaming resumes on the new connection; samples keep coming in order.
        first = link.read_block(timeout=GUARD_S)
        last = first
        assert wait_for(lambda: (last := link.read_block(timeout=0.1)) is not None and last.first_index > first.first_index)
    finally:
        link.close()
        unit.close()
    assert unit.connections >= 3


def test_unit_restart_is_rebased_so_indices_keep_increasing():
    link = SerialLink("loop://", link_timeout_s=GUARD_S)
    try:
        inject(link, HELLO)
        link.start(timeout=GUARD_S)
        inject(link, samples(5000, 100), samples(5100, 100))
        a, b = link.read_block(timeout=GUARD_S), link.read_block(timeout=GUARD_S)
        inject(link, HELLO, samples(0, 100), samples(100, 100))  # power-cycled unit counts from 0
        c, d = link.read_block(timeout=GUARD_S), link.read_block(timeout=GUARD_S)
    finally:
        link.close()
    assert [(x.first_index, x.gap_before) for x in (a, b, c, d)] == [(5000, 0), (5100, 0), (5200, 0), (5300, 0)]
    np.testing.assert_array_equal(c.samples, np.arange(0, 100))
    assert link.stats.unit_restarts == 1


def test_close_wakes_a_blocked_reader():
    link = SerialLink("loop://")
    errors = []

    def reader():
        try:
            link.read_block(timeout=None)
        except EOFError as exc:
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    link.close()
    t.join(GUARD_S)
    assert not t.is_alive() and len(errors) == 1


# ---------------------------------------------------------------- issue 14 / 15: what the unit controls


def test_two_channel_frames_are_de_interleaved_by_the_hellos_channel_count():
    # Issue 15: three SAMPLES frames of 200 steps x 2 channels came out as blocks of 400, 200
    # and 200 samples with 400 dropped as duplicates. Now each is 200 steps of the chosen channel.
    # (A pty, not loop://: loop:// interleaves the link's own writes with the test's bytes.)
    steps = np.arange(600 * 2, dtype=np.int16).reshape(600, 2) * np.array([1, -1], np.int16)
    for channel in (0, 1):
        unit = PtyUnit()
        link = SerialLink(f"{unit.path}?channel={channel}", heartbeat_s=0.5, link_timeout_s=GUARD_S)
        try:
            assert link.channel == channel and link.port_url == unit.path
            unit.send(P.Hello("unit-2", "fw", 8000, 16, 0.25, 2))
            link.start(timeout=GUARD_S)
            unit.send(*(P.Samples(k, steps[k:k + 200].ravel()) for k in (0, 200, 400)),
                      P.Heartbeat(1, P.StreamState.ENDED, 600, 0))
            blocks = read_all(link)
            s = link.stats
        finally:
            link.close()
            unit.close()
        assert [(b.first_index, b.samples.size, b.gap_before) for b in blocks] == [(0, 200, 0), (200, 200, 0),
                                                                                   (400, 200, 0)]
        np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), steps[:, channel])
        assert s.samples == 600 and s.duplicate_samples == 0 and s.bad_frames == 0 and s.crc_errors == 0


def test_a_frame_that_is_not_whole_steps_is_dropped_and_counted():
    link = SerialLink("loop://", heartbeat_s=0.5, link_timeout_s=GUARD_S)
    try:
        inject(link, P.Hello("unit-2", "fw", 8000, 16, 0.25, 2))
        link.start(timeout=GUARD_S)
        inject(link, P.Samples(0, np.zeros(7, np.int16)), P.Samples(0, np.ones(8, np.int16)),
               P.Heartbeat(1, P.StreamState.ENDED, 4, 0))
        blocks = read_all(link)
        assert link.stats.bad_frames == 1
    finally:
        link.close()
    assert [(b.first_index, b.samples.tolist()) for b in blocks] == [(0, [1, 1, 1, 1])]


def test_channel_beyond_the_units_count_is_a_one_line_value_error():
    link = SerialLink("loop://", channel=2, link_timeout_s=GUARD_S)
    try:
        inject(link, P.Hello("unit-2", "fw", 8000, 16, 0.25, 2))
        with pytest.raises(ValueError, match=r"channel 2 asked but the unit 'unit-2' has 2 channel\(s\)"):
            link.start(timeout=GUARD_S)
    finally:
        link.close()
    with pytest.raises(ValueError, match="channel='x'"):
        SerialLink("loop://?channel=x")
    with pytest.raises(ValueError, match="contradicts"):
        SerialLink("loop://?channel=1", channel=0)
    assert split_channel("socket://h:7?logging=debug&channel=3") == ("socket://h:7?logging=debug", 3)
    assert split_channel("/dev/ttyACM0") == ("/dev/ttyACM0", None)


def test_absurd_rate_hello_is_ignored_counted_and_the_link_waits_for_a_good_one(caplog):
    # Issue 14: a HELLO announcing 4.28 GHz was taken, and the runtime built a 288 MB filter.
    link = SerialLink("loop://", heartbeat_s=0.5, link_timeout_s=GUARD_S)
    try:
        inject(link, P.Hello("unit-x", "fw", 4_280_000_000, 16, 0.25, 1), samples(0, 100))
        assert wait_for(lambda: link.stats.hellos_refused == 1 and link.stats.samples_unusable == 100)
        with pytest.raises(TimeoutError):
            link.wait_hello(0.2)
        assert link.sample_rate == 0 and link.hello is None
        inject(link, HELLO)
        assert link.start(timeout=GUARD_S).sample_rate == 8000
        inject(link, samples(100, 50), P.Heartbeat(1, P.StreamState.ENDED, 150, 0))
        blocks = read_all(link)
    finally:
        link.close()
    assert [(b.first_index, b.samples.size) for b in blocks] == [(100, 50)]
    assert "4280000000 Hz, outside the 1000..384000 Hz" in caplog.text


def test_a_stalled_reader_does_not_stop_the_link_hearing_the_unit():
    # Issue 14: with the backlog full the link stopped reading the port, so the unit's HELLO
    # was never read. Now, once the reader made no call for stall_s, samples are dropped
    # (counted) and HELLO and the rest are still read; the gap is exact when reading resumes.
    unit = PtyUnit()
    link = SerialLink(unit.path, heartbeat_s=0.5, link_timeout_s=GUARD_S, queue_s=0.1, stall_s=0.2)
    try:
        unit.send(HELLO)
        link.start(timeout=GUARD_S)
        unit.send(*(samples(100 * k, 100) for k in range(40)))
        unit.send(P.Hello("unit-1", "fw-2.0", 8000, 16, 0.5, 1))  # a new scale, behind 4000 samples
        assert wait_for(lambda: link.uv_per_lsb == 0.5)
        assert link.stats.overflow_samples > 0
        blocks = []
        while (b := link.read_block(timeout=0.2)) is not None:  # the reader is back: drain what was kept
            blocks.append(b)
        unit.send(samples(4000, 100), P.Heartbeat(1, P.StreamState.ENDED, 4100, 0))
        blocks += read_all(link)
        s = link.stats
    finally:
        link.close()
        unit.close()
    assert blocks[0].first_index == 0 and blocks[-1].end_index == 4100
    assert all(b.first_index == a.end_index + b.gap_before for a, b in zip(blocks, blocks[1:]))
    assert s.samples + s.gap_samples == 4100 and s.gap_samples >= s.overflow_samples > 0
