"""Host side of the amplifier link: a sample source and a reliable alert channel over serial.

:class:`SerialLink` opens any port pyserial's ``serial_for_url`` accepts (``/dev/ttyACM0``,
``/dev/ttyUSB0``, a pseudo-terminal, ``loop://``, ``socket://host:port``) and runs one
background I/O thread that owns the port. That thread

* handshakes: sends HELLO_REQ on every (re)connect until the unit's HELLO arrives, then (once
  :meth:`SerialLink.start` was called) START until the unit ACKs it or samples arrive;
* turns SAMPLES frames into :class:`~firmware_bridge.host.source.SampleBlock` with exact gaps
  computed from the unit's sample index by a :class:`~firmware_bridge.host.gaps.GapTracker`
  (duplicated or overlapping samples are trimmed); a unit with C > 1 channels interleaves them
  (PROTOCOL.md §4), and the link de-interleaves by the HELLO's channel count and delivers one,
  ``channel`` (the constructor's argument or ``?channel=N`` in the URL, default 0; indices count
  time steps);
* sends queued alerts and retransmits each until the unit ACKs its alert id (timeout
  ``ack_timeout_s``, doubling up to ``max_backoff_s``, PROTOCOL.md §8; at-least-once on the wire, the unit
  deduplicates by id);
* sends a HEARTBEAT every ``heartbeat_s`` and declares the link lost when nothing valid has
  arrived for ``link_timeout_s`` or the port reports an error (a USB lead pulled out);
* reopens a lost or missing port with exponential backoff (logged, never raised) and carries
  on: undelivered alerts are resent and the samples missed meanwhile show up as a gap.

What the unit sends is bounded and counted, never trusted to size anything (issue 14): a HELLO
whose rate is outside :data:`~firmware_bridge.host.source.MIN_RATE_HZ`..
:data:`~firmware_bridge.host.source.MAX_RATE_HZ` or that has fewer channels than ``channel``
is ignored (``stats.hellos_refused``) and the link keeps asking; samples are only taken under an
accepted HELLO (``stats.samples_unusable`` otherwise: their rate and layout are unknown);
SAMPLES frames that are not whole time steps are dropped (``stats.bad_frames``); ALERT frames
from the unit are ACKed, but at most :data:`MAX_UNIT_ALERTS` wait for
:meth:`SerialLink.received_alerts` (``stats.unit_alerts_dropped``); repeated warnings are
logged at most every :data:`WARN_EVERY_S` seconds with a count. When the reader falls
``queue_s`` behind, the link stops reading the port (back-pressure: a unit replaying as fast
as the host reads waits instead of losing samples), but only while the reader keeps reading:
after ``stall_s`` without a :meth:`SerialLink.read_block` call it reads on and drops SAMPLES
(``stats.overflow_samples``), so HELLO, ACKs and heartbeats are always heard.

End of stream: a unit whose source is finite (the virtual amplifier playing a WAV file) sends
HEARTBEAT frames with ``state = StreamState.ENDED`` (2) and ``next_index`` = total samples after its
last SAMPLES frame. :meth:`SerialLink.read_block` then raises :class:`EOFError` once the last
block has been read; the link stays up so alerts can still be delivered until :meth:`close`.

Sample indices are the unit's own counter (the one ALERT onset/offset refer to). If the unit
reboots (the first SAMPLES frame after a reconnect or a HELLO starts below what was already
delivered), or the index jumps by more than :data:`~firmware_bridge.host.gaps.MAX_JUMP`
samples either way (a corrupt index that passed the CRC), the link adds an offset so that
delivered indices keep increasing (``stats.unit_restarts``); the gap across a restart is unknown
and reported as 0. Samples before the first frame received are not a gap (the host cannot know
where the stream began).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

import numpy as np
import serial

from firmware_bridge import codec as P
from firmware_bridge.host.gaps import GapTracker
from firmware_bridge.host.source import MAX_RATE_HZ, MIN_RATE_HZ, SampleBlock

__all__ = ["SerialLink", "LinkStats", "split_channel", "MAX_UNIT_ALERTS", "WARN_EVERY_S"]

log = logging.getLogger(__name__)

_EOF = object()
_CLOSED = object()

#: ALERT frames from the unit kept for :meth:`SerialLink.received_alerts` (oldest dropped beyond).
MAX_UNIT_ALERTS = 256
#: QEMG_SUMMARY frames waiting for the session at most (fire-and-forget; beyond, the oldest is dropped).
MAX_SUMMARIES = 16
#: Distinct unit alert ids remembered to drop retransmissions (PROTOCOL.md §8's 64, with margin).
UNIT_ALERT_IDS = 1024
#: Seconds between two log lines about the same kind of bad input from the unit.
WARN_EVERY_S = 10.0


def split_channel(url: str) -> tuple[str, int | None]:
    """``(url without ?channel=N, N or None)``: the channel is the link's, not pyserial's."""
    base, sep, query = url.rpartition("?")
    if not sep:
        return url, None
    pairs = parse_qsl(query, keep_blank_values=True)
    chans = [v for k, v in pairs if k == "channel"]
    if not chans:
        return url, None
    rest = "&".join(f"{k}={v}" for k, v in pairs if k != "channel")
    try:
        channel = int(chans[-1])
    except ValueError:
        raise ValueError(f"{url!r}: channel={chans[-1]!r} must be a whole number (0 = first channel)") from None
    return base + ("?" + rest if rest else ""), channel


@dataclass
class LinkStats:
    """Link counters since construction (a snapshot; see :attr:`SerialLink.stats`)."""

    bytes: int = 0                 #: bytes received
    frames: int = 0                #: valid frames received
    crc_errors: int = 0            #: frames dropped for a bad CRC
    dropped_bytes: int = 0         #: received bytes that did not end in a valid frame
    samples: int = 0               #: samples delivered (new ones only)
    gap_samples: int = 0           #: samples missing (exact, from the unit's indices)
    gaps: int = 0                  #: discontinuities with missing samples
    duplicate_samples: int = 0     #: samples received twice and trimmed
    reconnects: int = 0            #: successful reopenings after a loss
    unit_restarts: int = 0         #: unit index restarts seen (rebased), absurd jumps included
    alerts_sent: int = 0           #: distinct alerts transmitted at least once
    alerts_retransmitted: int = 0  #: extra transmissions of alerts
    alerts_acked: int = 0          #: distinct alerts ACKed by the unit
    heartbeats: int = 0            #: HEARTBEAT frames received
    hellos: int = 0                #: HELLO frames received
    hellos_refused: int = 0        #: HELLOs ignored: rate out of range, or fewer channels than asked
    samples_unusable: int = 0      #: samples received with no accepted HELLO in force (all channels)
    bad_frames: int = 0            #: SAMPLES frames not a whole number of time steps (dropped)
    overflow_samples: int = 0      #: samples dropped while the reader stalled with the queue full
    unit_alerts: int = 0           #: ALERT frames the unit sent (ACKed; duplicates included)
    unit_alerts_dropped: int = 0   #: unit alerts never handed out (beyond MAX_UNIT_ALERTS waiting)
    summaries_sent: int = 0        #: QEMG_SUMMARY frames sent (once each: no ACK, no retransmission)
    summaries_dropped: int = 0     #: QEMG_SUMMARY frames never sent (beyond MAX_SUMMARIES waiting)
    link_up: bool = False          #: port open and the unit heard from within link_timeout_s


@dataclass
class _Pending:
    alert: P.Alert
    attempts: int = 0
    due: float = 0.0


class SerialLink:
    """Amplifier link over a pyserial URL; a :class:`~firmware_bridge.host.source.SampleSource`.

    Times are in seconds. ``queue_s`` bounds how many seconds of samples (at the unit's rate)
    wait for :meth:`read_block`; when full the link stops reading the port, so the unit sees
    back-pressure instead of the host dropping samples, unless the reader made no call for
    ``stall_s`` (then samples are dropped and counted, and the port is read on). ``channel``
    (0-based; or ``?channel=N`` in ``url``) is the one delivered from a multi-channel unit.
    """

    def __init__(
        self,
        url: str,
        baudrate: int = 3_000_000,
        *,
        heartbeat_s: float = 0.25,
        link_timeout_s: float = 1.0,
        ack_timeout_s: float = 0.1,
        max_backoff_s: float = 1.6,
        reconnect_max_s: float = 0.5,
        queue_s: float = 5.0,
        read_timeout_s: float = 0.02,
        stall_s: float = 5.0,
        channel: int | None = None,
    ) -> None:
        for name, value, lo in (("heartbeat_s", heartbeat_s, 0.01), ("link_timeout_s", link_timeout_s, 0.05),
                                ("ack_timeout_s", ack_timeout_s, 0.001), ("max_backoff_s", max_backoff_s, 0.001),
                                ("reconnect_max_s", reconnect_max_s, 0.01),
                                ("queue_s", queue_s, 0.1), ("read_timeout_s", read_timeout_s, 0.001),
                                ("stall_s", stall_s, 0.1)):
            if not value >= lo:
                raise ValueError(f"{name} must be >= {lo} s, got {value}")
        port_url, url_channel = split_channel(url)
        if channel is not None and url_channel is not None and channel != url_channel:
            raise ValueError(f"channel={channel} contradicts {url!r}")
        channel = url_channel if url_channel is not None else (channel or 0)
        if not 0 <= channel <= 254:
            raise ValueError(f"channel must be in 0..254 (HELLO allows 1..255 channels), got {channel}")
        if link_timeout_s <= heartbeat_s:
            raise ValueError(f"link_timeout_s ({link_timeout_s}) must exceed heartbeat_s ({heartbeat_s})")
        if not 300 <= baudrate <= 50_000_000:
            raise ValueError(f"baudrate must be in 300..50000000, got {baudrate}")
        self.url = url
        self.port_url = port_url
        #: The channel delivered (0-based) from a unit that interleaves several.
        self.channel = channel
        self.stall_s = stall_s
        self.baudrate = int(baudrate)
        self.heartbeat_s = heartbeat_s
        self.link_timeout_s = link_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.max_backoff_s = max_backoff_s
        self.reconnect_max_s = reconnect_max_s
        self.queue_s = queue_s
        self.read_timeout_s = read_timeout_s

        self.hello: P.Hello | None = None
        #: Unit sample rate (Hz) and µV per LSB from its HELLO; 0 until the first HELLO
        #: (call :meth:`start` or :meth:`wait_hello` before using them).
        self.sample_rate: int = 0
        self.uv_per_lsb: float = 0.0
        self._hello_event = threading.Event()
        self._lock = threading.Lock()
        self._stats = LinkStats()
        self._decoder = P.Decoder()
        self._blocks: queue.Queue = queue.Queue()
        self._queued_samples = 0
        self._eof_seen = False      # IO thread: EOF marker queued
        self._eof_raised = False    # reader: EOF reached
        self._pending: dict[int, _Pending] = {}
        self._acked: list[int] = []
        self._peer_alerts: collections.deque[P.Alert] = collections.deque()
        self._peer_alert_ids: set[int] = set()
        self._peer_alert_order: collections.deque[int] = collections.deque()
        self._summaries: collections.deque[P.QemgSummary] = collections.deque()
        self._channels = 1           # interleaved channels per the accepted HELLO in force
        self._accepting = False      # an accepted HELLO is in force (samples can be read)
        self._channel_refusal: str | None = None  # why the first HELLO was refused (ours to fix)
        self._last_take = time.monotonic()        # last read_block call (the reader is alive)
        self._dropping = False
        self._warned: dict[str, list] = {}        # kind -> [next log time, suppressed count]
        self._start_requested = False
        self._closing = threading.Event()
        self._port = None
        self._seq = 0
        # Stream position in the unit's indices (IO thread writes, under _lock) and the offset
        # from unit to delivered index (IO thread only).
        self._index = GapTracker()
        self._offset = 0
        self._fresh_session = False

        self._open_once(first=True)
        self._thread = threading.Thread(target=self._run, name=f"SerialLink({url})", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public API

    @property
    def stats(self) -> LinkStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            d, t = self._decoder.stats, self._index
            return replace(self._stats, bytes=d.bytes_in, frames=d.frames, crc_errors=d.crc_errors,
                           dropped_bytes=d.dropped_bytes, samples=t.received_samples, gap_samples=t.gap_samples,
                           gaps=t.gaps, duplicate_samples=t.duplicate_samples, unit_restarts=t.restarts)

    def wait_hello(self, timeout: float | None = None) -> P.Hello:
        """Block until the unit's HELLO arrived; raises TimeoutError after ``timeout`` s.

        Raises ValueError (one line) if, before any HELLO was accepted, the unit announced fewer
        channels than ``channel`` asks for: a setting to fix, not a condition to wait out.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while not self._hello_event.wait(0.05 if end is None else max(0.0, min(0.05, end - time.monotonic()))):
            if self._channel_refusal is not None:
                raise ValueError(self._channel_refusal)
            if end is not None and time.monotonic() >= end:
                raise TimeoutError(f"no HELLO from {self.url} within {timeout} s")
        assert self.hello is not None
        return self.hello

    def start(self, timeout: float | None = None) -> P.Hello:
        """Wait for HELLO, then ask the unit to stream (re-sent after every reconnect)."""
        hello = self.wait_hello(timeout)
        with self._lock:
            self._start_requested = True
            self._start_acked = False
            self._next_start = 0.0
        return hello

    def stop(self) -> None:
        """Ask the unit to stop streaming (best effort; the link stays up for alerts)."""
        with self._lock:
            self._start_requested = False
            self._stop_wanted = True

    def read_block(self, timeout: float | None = None) -> SampleBlock | None:
        """Next block of samples (see :class:`~firmware_bridge.host.source.SampleSource`)."""
        self._last_take = time.monotonic()
        if self._eof_raised:
            raise EOFError("end of stream")
        if self._closing.is_set() and self._blocks.empty():
            raise EOFError("link closed")
        try:
            item = self._blocks.get(timeout=timeout) if timeout is None or timeout > 0 else self._blocks.get_nowait()
        except queue.Empty:
            return None
        if item is _EOF:
            self._eof_raised = True
            raise EOFError("the unit signalled end of stream")
        if item is _CLOSED:
            self._blocks.put(_CLOSED)  # wake any other reader too
            raise EOFError("link closed")
        with self._lock:
            self._queued_samples -= int(item.samples.size)
        return item

    def send_alert(self, alert: P.Alert) -> None:
        """Queue ``alert``; it is (re)transmitted until the unit ACKs its ``alert_id``.

        Queuing an id that is already pending replaces it (same id = same alert).
        """
        if not isinstance(alert, P.Alert):
            raise TypeError(f"expected protocol.Alert, got {type(alert).__name__}")
        alert.validate()
        with self._lock:
            old = self._pending.get(alert.alert_id)
            self._pending[alert.alert_id] = _Pending(alert, old.attempts if old else 0, 0.0)

    def send_summary(self, frame: P.QemgSummary) -> None:
        """Queue a QEMG_SUMMARY frame: sent once when the session is up, never ACKed nor
        retransmitted (PROTOCOL.md §4); at most :data:`MAX_SUMMARIES` wait (oldest dropped)."""
        if not isinstance(frame, P.QemgSummary):
            raise TypeError(f"expected protocol.QemgSummary, got {type(frame).__name__}")
        frame.validate()
        with self._lock:
            if len(self._summaries) >= MAX_SUMMARIES:
                self._summaries.popleft()
                self._stats.summaries_dropped += 1
            self._summaries.append(frame)

    def acked_alerts(self) -> list[int]:
        """Alert ids the unit ACKed since the last call (each id once)."""
        with self._lock:
            out, self._acked = self._acked, []
        return out

    def pending_alerts(self) -> list[int]:
        """Alert ids still waiting for an ACK."""
        with self._lock:
            return sorted(self._pending)

    def received_alerts(self) -> list[P.Alert]:
        """ALERT frames the *unit* sent us (ACKed, deduplicated by id) since the last call."""
        with self._lock:
            out = list(self._peer_alerts)
            self._peer_alerts.clear()
        return out

    @property
    def eof(self) -> bool:
        """True once the unit signalled end of stream (blocks may still be queued)."""
        return self._eof_seen

    def close(self) -> None:
        """Stop the I/O thread and close the port; idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        self._close_port()
        self._blocks.put(_CLOSED)  # a reader blocked in read_block(None) returns

    def __enter__(self) -> "SerialLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self._closing.set()
        except Exception:
            pass

    # ------------------------------------------------------------------ I/O thread

    def _open_once(self, first: bool = False) -> bool:
        try:
            port = serial.serial_for_url(self.port_url, baudrate=self.baudrate, timeout=self.read_timeout_s,
                                         write_timeout=1.0)
        except ValueError as exc:
            if first:  # a malformed URL or setting is the user's to fix, not a transient
                raise ValueError(f"cannot open {self.url!r}: {exc}") from None
            self._log_open_failure(exc)
            return False
        except (serial.SerialException, OSError) as exc:
            self._log_open_failure(exc)
            return False
        self._port = port
        try:
            self._on_connect()
        except (serial.SerialException, OSError) as exc:  # vanished between open and first write
            self._close_port()
            self._log_open_failure(exc)
            return False
        return True

    def _log_open_failure(self, exc: Exception) -> None:
        if self._open_failures == 0:
            log.warning("port %s unavailable (%s); retrying", self.url, exc)
        else:
            log.debug("port %s still unavailable (%s)", self.url, exc)
        self._open_failures += 1

    _open_failures = 0
    _ever_connected = False
    _start_acked = False
    _stop_wanted = False
    _next_start = 0.0

    def _on_connect(self) -> None:
        now = time.monotonic()
        self._decoder.reset()
        with self._lock:
            if self._ever_connected:
                self._stats.reconnects += 1
                log.info("reconnected to %s after %d failed attempt(s)", self.url, self._open_failures)
            self._ever_connected = True
            self._open_failures = 0
            self._stats.link_up = True
            self._start_acked = False
            self._next_start = 0.0
            for p in self._pending.values():  # resend promptly on the new connection
                p.due = 0.0
        self._fresh_session = True
        self._got_hello_this_session = False
        self._last_rx = now
        self._next_hello_req = 0.0
        self._hello_req_tries = 0
        self._start_tries = 0
        self._start_seqs: set[int] = set()
        self._next_heartbeat = now
        self._port.write(b"\x00")  # ends any partial frame the unit's decoder holds

    def _close_port(self) -> None:
        port, self._port = self._port, None
        with self._lock:
            self._stats.link_up = False
        if port is not None:
            try:
                port.close()
            except Exception:  # a vanished device may fail to close cleanly
                pass

    def _lose_link(self, why: str) -> None:
        # A port that is there but whose unit never answered (powered off) would otherwise
        # log a warning every link_timeout_s.
        level = logging.WARNING if self._got_hello_this_session else logging.DEBUG
        log.log(level, "link to %s lost: %s", self.url, why)
        self._close_port()

    def _run(self) -> None:
        backoff = 0.05
        while not self._closing.is_set():
            if self._port is None:
                if self._open_once():
                    backoff = 0.05
                    continue
                self._closing.wait(backoff)
                backoff = min(backoff * 2, self.reconnect_max_s)
                continue
            try:
                self._service()
            except (serial.SerialException, OSError) as exc:
                self._lose_link(str(exc) or type(exc).__name__)
            except Exception:  # never let the thread die silently
                log.exception("unexpected error on %s; reconnecting", self.url)
                self._close_port()
                self._closing.wait(self.reconnect_max_s)
        if self._port is not None and self._got_hello_this_session:
            try:  # summaries queued just before the close still go out (they are never re-sent)
                self._send_summaries()
            except (serial.SerialException, OSError):
                pass
        self._close_port()

    def _send_summaries(self) -> None:
        """Write the queued QEMG_SUMMARY frames once each (IO thread, session up)."""
        with self._lock:
            summaries, self._summaries = list(self._summaries), collections.deque()
            self._stats.summaries_sent += len(summaries)
        for frame in summaries:
            self._send(replace(frame))

    def _service(self) -> None:
        """One round: read what is there (unless the reader is behind), then transmit."""
        port = self._port
        now = time.monotonic()
        rate = self.hello.sample_rate if self.hello else 48000
        with self._lock:
            full = self._queued_samples > self.queue_s * rate
        stalled = full and now - self._last_take > self.stall_s
        if stalled and not self._dropping:
            log.warning("the reader of %s took nothing for %.1f s with %.1f s of samples queued: dropping samples "
                        "(counted) so that the unit stays heard", self.url, now - self._last_take, self.queue_s)
        self._dropping = stalled
        if full and not stalled:  # back-pressure: the unit's buffer fills, or a replay waits
            time.sleep(self.read_timeout_s)
            self._last_rx = time.monotonic()  # we are not listening; silence is ours
        else:
            waiting = port.in_waiting
            data = port.read(min(max(waiting, 1), 65536))
            if data:
                frames = self._decoder.feed(data)
                for frame in frames:
                    self._last_rx = time.monotonic()
                    self._handle(frame)
            now = time.monotonic()
            if now - self._last_rx > self.link_timeout_s:
                self._lose_link(f"nothing received for {self.link_timeout_s:.1f} s")
                return
        self._transmit(time.monotonic())

    def _retry_timeout(self, attempts: int) -> float:
        """Retransmission timeout after ``attempts`` tries: 0.1, 0.2, 0.4 ... capped (PROTOCOL.md §8)."""
        return min(self.ack_timeout_s * (2 ** min(attempts, 30)), self.max_backoff_s)

    def _send(self, frame) -> int:
        """Write ``frame`` with the next sequence number; returns that number."""
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        frame.seq = self._seq
        self._port.write(P.encode(frame))
        return self._seq

    def _transmit(self, now: float) -> None:
        if not self._got_hello_this_session:
            if now >= self._next_hello_req:
                self._send(P.HelloRequest())
                self._next_hello_req = now + self._retry_timeout(self._hello_req_tries)
                self._hello_req_tries += 1
        else:
            with self._lock:
                want_start = self._start_requested and not self._start_acked and now >= self._next_start
                want_stop, self._stop_wanted = self._stop_wanted, False
            if want_start:
                self._start_seqs.add(self._send(P.Start(protocol_version=min(P.PROTOCOL_VERSION,
                                                                             self.hello.protocol_version))))
                self._next_start = now + self._retry_timeout(self._start_tries)
                self._start_tries += 1
            if want_stop:
                self._send(P.Stop())
            with self._lock:
                due = [p for p in self._pending.values() if p.due <= now]
                for p in due:
                    if p.attempts == 0:
                        self._stats.alerts_sent += 1
                    else:
                        self._stats.alerts_retransmitted += 1
                    p.due = now + self._retry_timeout(p.attempts)
                    p.attempts += 1
            for p in due:
                self._send(replace(p.alert))
            self._send_summaries()
        if now >= self._next_heartbeat:
            self._send(P.Heartbeat(uptime_ms=int(now * 1000) & 0xFFFFFFFF, state=P.StreamState.IDLE,
                                   next_index=0, rx_errors=self._decoder.stats.crc_errors & 0xFFFFFFFF))
            self._next_heartbeat = now + self.heartbeat_s

    def _handle(self, frame) -> None:
        if isinstance(frame, P.Samples):
            self._on_samples(frame)
        elif isinstance(frame, P.Ack):
            if frame.ref_type == P.FrameType.ALERT:
                with self._lock:
                    if self._pending.pop(frame.ref_id, None) is not None:
                        self._acked.append(frame.ref_id)
                        self._stats.alerts_acked += 1
            elif frame.ref_type == P.FrameType.START and frame.ref_id in self._start_seqs:
                with self._lock:
                    self._start_acked = True
        elif isinstance(frame, P.Heartbeat):
            with self._lock:
                self._stats.heartbeats += 1
            if frame.state == P.StreamState.STREAMING:
                with self._lock:
                    self._start_acked = self._start_acked or self._start_requested
            elif frame.state == P.StreamState.ENDED:
                self._on_end(frame.next_index)
        elif isinstance(frame, P.Hello):
            self._on_hello(frame)
        elif isinstance(frame, P.Alert):
            self._send(P.Ack(P.FrameType.ALERT, frame.alert_id))
            self._on_unit_alert(frame)
        elif isinstance(frame, P.Nack):
            self._warn("nack", "unit NACKed %s %d: %s", getattr(frame.ref_type, "name", frame.ref_type),
                       frame.ref_id, getattr(frame.reason, "name", frame.reason))
        elif isinstance(frame, P.Error):
            self._warn("error", "unit reports error %s: %s", getattr(frame.code, "name", frame.code), frame.message)
        elif isinstance(frame, P.HelloRequest):
            pass  # we are the host; a looped-back port (loop://) shows us our own requests

    def _warn(self, kind: str, msg: str, *args) -> None:
        """Log a warning about the unit's input at most every WARN_EVERY_S per ``kind`` (a flood
        of bad frames must not flood the journal); the next line says how many were not logged."""
        now = time.monotonic()
        slot = self._warned.setdefault(kind, [0.0, 0])
        if now < slot[0]:
            slot[1] += 1
            return
        if slot[1]:
            msg += f" ({slot[1]} more like it in the last {WARN_EVERY_S:.0f} s)"
        log.warning(msg, *args)
        self._warned[kind] = [now + WARN_EVERY_S, 0]

    def _on_unit_alert(self, alert: P.Alert) -> None:
        """Keep a bounded number of the unit's own alerts (dedup by a bounded id memory)."""
        with self._lock:
            self._stats.unit_alerts += 1
            if alert.alert_id in self._peer_alert_ids:
                return
            self._peer_alert_ids.add(alert.alert_id)
            self._peer_alert_order.append(alert.alert_id)
            if len(self._peer_alert_order) > UNIT_ALERT_IDS:
                self._peer_alert_ids.discard(self._peer_alert_order.popleft())
            self._peer_alerts.append(alert)
            if len(self._peer_alerts) > MAX_UNIT_ALERTS:
                self._peer_alerts.popleft()
                self._stats.unit_alerts_dropped += 1
                dropped = True
            else:
                dropped = False
        if dropped:
            self._warn("unit-alerts", "more than %d unit alerts waiting for the application: dropping the oldest "
                       "(%d so far)", MAX_UNIT_ALERTS, self._stats.unit_alerts_dropped)

    def _refusal(self, hello: P.Hello) -> str | None:
        """Why ``hello`` cannot be used, or None."""
        if not MIN_RATE_HZ <= hello.sample_rate <= MAX_RATE_HZ:
            return (f"HELLO from {hello.device_id!r} announces {hello.sample_rate} Hz, outside the "
                    f"{MIN_RATE_HZ}..{MAX_RATE_HZ} Hz the host accepts")
        if self.channel >= hello.channels:
            return (f"{self.url}: channel {self.channel} asked but the unit {hello.device_id!r} has "
                    f"{hello.channels} channel(s) (use channel=0..{hello.channels - 1})")
        return None

    def _on_hello(self, hello: P.Hello) -> None:
        with self._lock:
            self._stats.hellos += 1
        why = self._refusal(hello)
        if why is not None:
            with self._lock:
                self._stats.hellos_refused += 1
            self._accepting = False  # its samples' rate and layout are unknown until a good HELLO
            self._got_hello_this_session = False  # keep asking (HELLO_REQ) until one is usable
            if self.channel >= hello.channels and self.hello is None:
                self._channel_refusal = why  # wait_hello raises it: a setting to fix, said once
            else:
                self._warn("hello", "%s; ignoring it and its samples (still asking)", why)
            return
        old = self.hello
        if old is not None and (old.sample_rate, old.device_id, old.channels) != (
                hello.sample_rate, hello.device_id, hello.channels):
            self._warn("hello-change", "unit changed from %s at %d Hz × %d channel(s) to %s at %d Hz × %d",
                       old.device_id, old.sample_rate, old.channels, hello.device_id, hello.sample_rate, hello.channels)
        self._accepting = True
        self._channels = hello.channels
        self.hello = hello
        self.sample_rate, self.uv_per_lsb = hello.sample_rate, hello.uv_per_lsb
        # An unsolicited HELLO may mean the unit restarted (PROTOCOL.md §7): let the next
        # SAMPLES frame rebase if its index went backwards.
        self._fresh_session = True
        if not self._got_hello_this_session:
            log.info("HELLO from %s: firmware %s, %d Hz, %d bit, %.4g µV/LSB, %d channel(s)%s", hello.device_id,
                     hello.firmware_version, hello.sample_rate, hello.sample_width, hello.uv_per_lsb, hello.channels,
                     f"; taking channel {self.channel} (?channel=N picks another)" if hello.channels > 1 else "")
        self._got_hello_this_session = True
        self._hello_event.set()

    def _on_samples(self, frame: P.Samples) -> None:
        with self._lock:
            self._start_acked = self._start_acked or self._start_requested
        if self._eof_seen:
            return
        n, c = int(frame.samples.size), self._channels
        if not self._accepting:
            with self._lock:
                self._stats.samples_unusable += n
            self._warn("unusable", "samples from %s before an acceptable HELLO: dropped (rate and channels unknown)",
                       self.url)
            return
        if n % c:
            with self._lock:
                self._stats.bad_frames += 1
            self._warn("bad-frame", "SAMPLES frame of %d samples is not whole steps of %d channels: dropped", n, c)
            return
        if self._dropping:
            with self._lock:
                self._stats.overflow_samples += n // c
            return
        # Interleaved t0c0 t0c1 ... (PROTOCOL.md §4): first_index counts time steps.
        steps = frame.samples if c == 1 else frame.samples.reshape(-1, c)[:, self.channel]
        fresh, self._fresh_session = self._fresh_session, False
        delivered_end = None if self._index.expected is None else self._index.expected + self._offset
        with self._lock:
            step = self._index.update(frame.first_index, steps.size, fresh=fresh)
        if step.restart:
            # A unit that restarted counts from (near) zero again: keep delivered indices increasing.
            self._offset = delivered_end - step.first_index
            self._warn("restart", "unit sample index restarted at %d; rebasing (gap unknown)", frame.first_index)
        samples = steps[step.skip:]
        if samples.size == 0:
            return
        block = SampleBlock(step.first_index + self._offset, np.ascontiguousarray(samples, dtype=np.int16), step.gap)
        with self._lock:
            self._queued_samples += int(samples.size)
        self._blocks.put(block)

    def _on_end(self, next_index: int) -> None:
        if self._eof_seen:
            return
        with self._lock:
            self._index.end(next_index)
        self._eof_seen = True
        log.info("unit signalled end of stream at sample %d", next_index)
        self._blocks.put(_EOF)
