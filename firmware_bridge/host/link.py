"""Host side of the amplifier link: a sample source and a reliable alert channel over serial.

:class:`SerialLink` opens any port pyserial's ``serial_for_url`` accepts (``/dev/ttyACM0``,
``/dev/ttyUSB0``, a pseudo-terminal, ``loop://``, ``socket://host:port``) and runs one
background I/O thread that owns the port. That thread

* handshakes: sends HELLO_REQ on every (re)connect until the unit's HELLO arrives, then (once
  :meth:`SerialLink.start` was called) START until the unit ACKs it or samples arrive;
* turns SAMPLES frames into :class:`~firmware_bridge.host.source.SampleBlock` with exact gaps
  computed from the unit's sample index by a :class:`~firmware_bridge.host.gaps.GapTracker`
  (duplicated or overlapping samples are trimmed);
* sends queued alerts and retransmits each until the unit ACKs its alert id (timeout
  ``ack_timeout_s``, doubling up to ``max_backoff_s``, PROTOCOL.md §8; at-least-once on the wire, the unit
  deduplicates by id);
* sends a HEARTBEAT every ``heartbeat_s`` and declares the link lost when nothing valid has
  arrived for ``link_timeout_s`` or the port reports an error (a USB lead pulled out);
* reopens a lost or missing port with exponential backoff (logged, never raised) and carries
  on: undelivered alerts are resent and the samples missed meanwhile show up as a gap.

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

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
import serial

from firmware_bridge import codec as P
from firmware_bridge.host.gaps import GapTracker
from firmware_bridge.host.source import SampleBlock

__all__ = ["SerialLink", "LinkStats"]

log = logging.getLogger(__name__)

_EOF = object()
_CLOSED = object()


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
    back-pressure instead of the host dropping samples.
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
    ) -> None:
        for name, value, lo in (("heartbeat_s", heartbeat_s, 0.01), ("link_timeout_s", link_timeout_s, 0.05),
                                ("ack_timeout_s", ack_timeout_s, 0.001), ("max_backoff_s", max_backoff_s, 0.001),
                                ("reconnect_max_s", reconnect_max_s, 0.01),
                                ("queue_s", queue_s, 0.1), ("read_timeout_s", read_timeout_s, 0.001)):
            if not value >= lo:
                raise ValueError(f"{name} must be >= {lo} s, got {value}")
        if link_timeout_s <= heartbeat_s:
            raise ValueError(f"link_timeout_s ({link_timeout_s}) must exceed heartbeat_s ({heartbeat_s})")
        if not 300 <= baudrate <= 50_000_000:
            raise ValueError(f"baudrate must be in 300..50000000, got {baudrate}")
        self.url = url
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
        self._peer_alerts: list[P.Alert] = []
        self._peer_alert_ids: set[int] = set()
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
        """Block until the unit's HELLO arrived; raises TimeoutError after ``timeout`` s."""
        if not self._hello_event.wait(timeout):
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
            out, self._peer_alerts = self._peer_alerts, []
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
            port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.read_timeout_s,
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
        self._close_port()

    def _service(self) -> None:
        """One round: read what is there (unless the reader is behind), then transmit."""
        port = self._port
        now = time.monotonic()
        rate = self.hello.sample_rate if self.hello else 48000
        with self._lock:
            backlog = self._queued_samples > self.queue_s * rate
        if backlog:
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
            with self._lock:
                if frame.alert_id not in self._peer_alert_ids:
                    self._peer_alert_ids.add(frame.alert_id)
                    self._peer_alerts.append(frame)
        elif isinstance(frame, P.Nack):
            log.warning("unit NACKed %s %d: %s", getattr(frame.ref_type, "name", frame.ref_type),
                        frame.ref_id, getattr(frame.reason, "name", frame.reason))
        elif isinstance(frame, P.Error):
            log.warning("unit reports error %s: %s", getattr(frame.code, "name", frame.code), frame.message)
        elif isinstance(frame, P.HelloRequest):
            pass  # we are the host; a looped-back port (loop://) shows us our own requests

    def _on_hello(self, hello: P.Hello) -> None:
        old = self.hello
        if old is not None and (old.sample_rate, old.device_id) != (hello.sample_rate, hello.device_id):
            log.warning("unit changed from %s at %d Hz to %s at %d Hz", old.device_id, old.sample_rate,
                        hello.device_id, hello.sample_rate)
        with self._lock:
            self._stats.hellos += 1
        self.hello = hello
        self.sample_rate, self.uv_per_lsb = hello.sample_rate, hello.uv_per_lsb
        # An unsolicited HELLO may mean the unit restarted (PROTOCOL.md §7): let the next
        # SAMPLES frame rebase if its index went backwards.
        self._fresh_session = True
        if not self._got_hello_this_session:
            log.info("HELLO from %s: firmware %s, %d Hz, %d bit, %.4g µV/LSB, %d channel(s)", hello.device_id,
                     hello.firmware_version, hello.sample_rate, hello.sample_width, hello.uv_per_lsb, hello.channels)
        self._got_hello_this_session = True
        self._hello_event.set()

    def _on_samples(self, frame: P.Samples) -> None:
        with self._lock:
            self._start_acked = self._start_acked or self._start_requested
        if self._eof_seen:
            return
        fresh, self._fresh_session = self._fresh_session, False
        delivered_end = None if self._index.expected is None else self._index.expected + self._offset
        with self._lock:
            step = self._index.update(frame.first_index, frame.samples.size, fresh=fresh)
        if step.restart:
            # A unit that restarted counts from (near) zero again: keep delivered indices increasing.
            self._offset = delivered_end - step.first_index
            log.warning("unit sample index restarted at %d; rebasing (gap unknown)", frame.first_index)
        samples = frame.samples[step.skip:]
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
