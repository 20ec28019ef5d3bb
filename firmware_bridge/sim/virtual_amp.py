"""A virtual EMG amplifier on a pseudo-terminal, behaving as the unit's firmware would.

It is how the tests and the demo talk to the edge runtime without hardware:

* HELLO: sent as soon as the port opens (power-up, replug) and in answer to every HELLO_REQ.
  The protocol and timing follow ``firmware_bridge/PROTOCOL.md``. A 2-D ``pcm`` (time steps ×
  channels) makes a multi-channel unit: HELLO says C channels and SAMPLES frames interleave them
  (``t0c0 t0c1 … t1c0 …``, ``first_index`` counting time steps, at most 508 // C steps a frame).
* START (ACKed with ``Ack(START, seq of the START frame)``): streams SAMPLES frames of
  ``samples_per_frame`` samples. The sample clock starts at the first START of the session and
  then runs on its own: at ``speed=1`` in real time, at ``speed=N`` N times faster; samples the
  host does not take in time (tx buffer of ``tx_buffer_s`` full, link stopped or unplugged) are
  lost, as on a real unit, and show up as a gap from the sample indices. With ``speed=None``
  (``max``) the amplifier streams as fast as the reader takes and waits when the pty is full:
  it never drops samples because the reader is slow.
* STOP (ACKed): stops sending; the clock keeps running. After ``host_timeout_s`` (5 s)
  without a valid frame from the host the unit stops streaming too (PROTOCOL.md §8).
* ALERT: ACKed with ``Ack(ALERT, alert_id)`` every time (the host retransmits until it sees the
  ACK); each alert id is shown once (``alerts``, ``on_alert``), duplicates are counted.
* HEARTBEAT every ``heartbeat_s``: ``state`` (IDLE 0 / STREAMING 1 / ENDED 2), ``next_index``
  (next sample index the unit will send) and ``rx_errors`` (corrupted frames it received).
* End of stream: after the last sample the unit sends HEARTBEAT with ``state = 2`` (ENDED,
  ``next_index`` = total samples) at once and then every ``heartbeat_s``, and keeps the link up
  so the host can still deliver alerts, until :meth:`VirtualAmplifier.stop`.
* START asking for another protocol version or sample rate is NACKed (UNSUPPORTED_VERSION,
  UNSUPPORTED_CONFIG). A full tx buffer is reported with ERROR OVERRUN (at most once a second).
* CONFIG: SAMPLES_PER_FRAME (1..508) and HEARTBEAT_MS (50..1000) are ACKed and applied; other keys are NACKed
  with UNSUPPORTED_CONFIG.

Faults (noisy cable, USB unplug) come from :class:`firmware_bridge.sim.faults.FaultConfig`. After
an unplug the pty comes back under a new ``/dev/pts/N``; pass ``link_path`` for a stable name
(a symlink re-pointed on every replug, like ``/dev/serial/by-id/...``).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from firmware_bridge import codec as P
from firmware_bridge.sim.faults import ByteFaults, FaultConfig
from firmware_bridge.sim.ptyport import PtyPort

__all__ = ["VirtualAmplifier", "AmpStats", "FaultConfig", "format_alert"]

log = logging.getLogger(__name__)

IDLE, STREAMING, ENDED = int(P.StreamState.IDLE), int(P.StreamState.STREAMING), int(P.StreamState.ENDED)


@dataclass
class AmpStats:
    """What the virtual amplifier did (counts since :meth:`VirtualAmplifier.start`)."""

    samples_sent: int = 0        #: time steps handed to the wire in SAMPLES frames (C samples each)
    samples_lost: int = 0        #: time steps acquired but never sent (unplugged, stopped, tx full)
    frames_sent: int = 0         #: frames of any type handed to the wire
    bytes_sent: int = 0          #: bytes written to the pty (after fault injection)
    unplugs: int = 0             #: times the pty was closed and reopened
    starts: int = 0              #: START frames received
    alerts_received: int = 0     #: ALERT frames received (duplicates included)
    alert_duplicates: int = 0    #: ALERT frames whose id was already shown
    acks_sent: int = 0           #: ACK frames sent
    rx_crc_errors: int = 0       #: corrupted frames received from the host
    qemg_summaries: int = 0      #: QEMG_SUMMARY frames received (fire-and-forget: never ACKed)
    ended: bool = False          #: the whole recording went out (or was lost)


def format_alert(alert: P.Alert, sample_rate: int) -> str:
    """One line, as the unit's display would show an alert."""
    sev = {0: "INFO", 1: "WARNING", 2: "CRITICAL"}.get(alert.severity, f"SEV{alert.severity}")
    return (f"ALERT #{alert.alert_id} {sev} {alert.label} {alert.confidence * 100:.1f}% "
            f"at {alert.onset / sample_rate:.3f}-{alert.offset / sample_rate:.3f} s "
            f"(samples {alert.onset}-{alert.offset})")


class VirtualAmplifier:
    """Plays ``pcm`` (int16, 1-D or steps × channels; ``sample_rate`` Hz per channel,
    ``uv_per_lsb`` µV/LSB) as a unit on a pty.

    ``speed``: 1.0 real time, N for N× faster, None for as fast as the host reads. Use
    :meth:`start` (returns the path to open), :attr:`alerts`, :meth:`wait_streamed`,
    :meth:`unplug` and :meth:`stop`; also a context manager. ``on_alert(alert)`` is called (on
    the amplifier's thread) for each new alert, ``on_event(what, detail)`` for ``"unplug"``
    and ``"replug"`` (detail = the path).
    """

    def __init__(
        self,
        pcm: np.ndarray,
        sample_rate: int,
        uv_per_lsb: float,
        speed: float | None = 1.0,
        faults: FaultConfig | None = None,
        *,
        link_path: str | None = None,
        device_id: str = "virtual-amp",
        firmware_version: str = "virtual-1",
        samples_per_frame: int | None = None,
        heartbeat_s: float = 0.25,
        host_timeout_s: float = 5.0,
        tx_buffer_s: float = 1.0,
        on_alert: Callable[[P.Alert], None] | None = None,
        on_event: Callable[[str, str], None] | None = None,
    ) -> None:
        pcm = np.asarray(pcm)
        if pcm.ndim not in (1, 2) or pcm.dtype != np.int16:
            raise ValueError(f"pcm must be an int16 array of samples or steps x channels, got {pcm.dtype} "
                             f"with shape {pcm.shape}")
        channels = 1 if pcm.ndim == 1 else pcm.shape[1]
        if not 1 <= channels <= 255:
            raise ValueError(f"pcm must have 1..255 channels (HELLO's u8), got {channels}")
        max_steps = P.MAX_SAMPLES // channels
        if not 1 <= sample_rate <= 1_000_000:
            raise ValueError(f"sample_rate must be in 1..1000000 Hz, got {sample_rate}")
        if not uv_per_lsb > 0:
            raise ValueError(f"uv_per_lsb must be > 0 µV/LSB, got {uv_per_lsb}")
        if speed is not None and not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be > 0 (or None for max), got {speed}")
        if samples_per_frame is None:
            samples_per_frame = min(max_steps, max(32, sample_rate // 100))  # ~10 ms frames
        if not 1 <= samples_per_frame <= max_steps:
            raise ValueError(f"samples_per_frame (time steps) must be in 1..{max_steps} for {channels} channel(s), "
                             f"got {samples_per_frame}")
        for name, value in (("heartbeat_s", heartbeat_s), ("host_timeout_s", host_timeout_s),
                            ("tx_buffer_s", tx_buffer_s)):
            if not 0.01 <= value <= 60:
                raise ValueError(f"{name} must be in 0.01..60 s, got {value}")
        self.pcm = pcm
        self.channels = channels
        self._steps = pcm.reshape(len(pcm), channels)  # a view: one row per time step
        self.sample_rate = int(sample_rate)
        self.uv_per_lsb = float(uv_per_lsb)
        self.speed = speed
        self.faults = faults or FaultConfig()
        self.samples_per_frame = int(samples_per_frame)
        self.heartbeat_s = heartbeat_s
        self.host_timeout_s = host_timeout_s
        self.on_alert = on_alert
        self.on_event = on_event
        self.hello = P.Hello(device_id, firmware_version, self.sample_rate, 16, self.uv_per_lsb, channels)
        self.stats = AmpStats()
        self._port = PtyPort(link_path)
        self._tx_faults = ByteFaults(self.faults, 1)
        self._rx_faults = ByteFaults(self.faults, 2) if self.faults.both_directions else None
        rate_bps = sample_rate * 2 * channels * (speed if speed is not None else 1.0)
        self._tx_limit = max(65536, int(tx_buffer_s * rate_bps * 1.1))
        self._lock = threading.Lock()
        self._alerts: list[P.Alert] = []
        self._alert_ids: set[int] = set()
        self._alert_event = threading.Condition(self._lock)
        #: The newest QEMG_SUMMARY frames received (what a unit's display would show), at most 256.
        self._summaries: collections.deque[P.QemgSummary] = collections.deque(maxlen=256)
        self._streamed = threading.Event()
        self._stop = threading.Event()
        self._unplug_requests: collections.deque = collections.deque()
        self._unplug_at = [int(round(t * self.sample_rate)) for t in self.faults.unplug_at_s]
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ public API

    @property
    def path(self) -> str:
        """The path the host should open (the stable symlink if ``link_path`` was given)."""
        return self._port.path

    @property
    def n_samples(self) -> int:
        """Time steps in the recording (samples of one channel)."""
        return int(len(self.pcm))

    @property
    def alerts(self) -> list[P.Alert]:
        """Unique alerts received so far, in arrival order."""
        with self._lock:
            return list(self._alerts)

    @property
    def qemg_summaries(self) -> list[P.QemgSummary]:
        """The newest QEMG_SUMMARY frames received (at most 256), in arrival order."""
        with self._lock:
            return list(self._summaries)

    def start(self) -> str:
        """Open the pty and start the firmware thread; returns the path to open."""
        if self._thread is not None:
            raise RuntimeError("already started")
        path = self._port.open()
        self._t_start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="VirtualAmplifier", daemon=True)
        self._thread.start()
        return path

    def wait_streamed(self, timeout: float | None = None) -> bool:
        """Block until the last sample went out (or was lost); False on timeout."""
        return self._streamed.wait(timeout)

    def wait_alerts(self, n: int, timeout: float | None = None) -> bool:
        """Block until at least ``n`` unique alerts arrived; False on timeout."""
        with self._alert_event:
            return self._alert_event.wait_for(lambda: len(self._alerts) >= n, timeout)

    def unplug(self, duration_s: float = 1.0) -> None:
        """Pull the USB lead for ``duration_s`` seconds (asynchronously)."""
        if not 0 <= duration_s <= 600:
            raise ValueError(f"duration_s must be in 0..600 s, got {duration_s}")
        self._unplug_requests.append(float(duration_s))

    def stop(self) -> None:
        """Stop the firmware thread and close the pty (removing the symlink); idempotent."""
        self._stop.set()
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        self._port.close()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the firmware thread, if any."""
        return self._error

    def __enter__(self) -> "VirtualAmplifier":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ firmware thread

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced through .error; tests assert on it
            self._error = exc
            log.exception("virtual amplifier failed")
            self._streamed.set()

    def _reset_session(self, now: float) -> None:
        self._decoder = P.Decoder() if not hasattr(self, "_decoder") else self._decoder
        self._decoder.reset()
        self._tx = collections.deque()
        self._tx_bytes = 0
        self._tx_sample_frames = collections.deque()  # (frame bytes, n samples) not yet written
        self._last_host_rx = now
        self._next_heartbeat = now + self.heartbeat_s

    def _loop(self) -> None:
        now = time.monotonic()
        self._seq = 0
        self._pos = 0                 # next sample index to acquire/send
        self._state = IDLE
        self._clock_t0: float | None = None  # paced clock origin (first START)
        self._next_overrun_report = 0.0
        self._reset_session(now)
        self._send(self.hello)
        while not self._stop.is_set():
            now = time.monotonic()
            if self._unplug_requests or (self._unplug_at and self._pos >= self._unplug_at[0]):
                if self._unplug_requests:
                    duration = self._unplug_requests.popleft()
                else:
                    self._unplug_at.pop(0)
                    duration = self.faults.unplug_for_s
                self._do_unplug(duration)
                continue
            self._acquire(now)
            self._service_io(now)

    def _do_unplug(self, duration: float) -> None:
        log.info("virtual amplifier: unplugged for %.2f s", duration)
        self.stats.unplugs += 1
        self._drop_tx()
        self._port.close()
        self._event("unplug", "")
        if self._stop.wait(duration):
            return
        if self.speed is None and self._state != ENDED and self._clock_t0 is not None:
            # At max speed the amplifier acquires at 1x while unplugged; those samples are lost.
            skip = min(self.n_samples - self._pos, int(round(duration * self.sample_rate)))
            self._pos += skip
            self.stats.samples_lost += skip
        if self._state == STREAMING:
            self._state = IDLE  # a new connection must START again
        now = time.monotonic()
        self._port.open()
        log.info("virtual amplifier: replugged at %s", self._port.path)
        self._event("replug", self._port.path)
        self._reset_session(now)
        self._send(self.hello)

    def _event(self, what: str, detail: str) -> None:
        if self.on_event is not None:
            self.on_event(what, detail)

    def _drop_tx(self) -> None:
        lost = sum(n for _, n in self._tx_sample_frames)
        self.stats.samples_lost += lost
        self.stats.samples_sent -= lost
        self._tx.clear()
        self._tx_sample_frames.clear()
        self._tx_bytes = 0

    def _due_index(self, now: float) -> int:
        """Index one past the last sample acquired by now (paced clock)."""
        if self._clock_t0 is None:
            return 0
        return min(self.n_samples, int((now - self._clock_t0) * self.sample_rate * self.speed))

    def _acquire(self, now: float) -> None:
        if self._state == ENDED or self._clock_t0 is None:
            return
        spf = self.samples_per_frame
        if self.speed is None:
            if self._state != STREAMING:
                return
            while self._tx_bytes < 8192 and self._pos < self.n_samples:
                self._emit_samples(min(spf, self.n_samples - self._pos))
        else:
            due = self._due_index(now)
            if self._state != STREAMING:
                if due > self._pos:  # acquired while nobody listens: lost
                    self.stats.samples_lost += due - self._pos
                    self._pos = due
            else:
                while due - self._pos >= spf or (due == self.n_samples and self._pos < due):
                    n = min(spf, due - self._pos)
                    if self._tx_bytes > self._tx_limit:  # tx FIFO full: the unit overruns
                        self.stats.samples_lost += n
                        self._pos += n
                        if now >= self._next_overrun_report:  # PROTOCOL.md §7, at most 1/s
                            self._send(P.Error(P.ErrorCode.OVERRUN, "tx buffer full, samples dropped"))
                            self._next_overrun_report = now + 1.0
                    else:
                        self._emit_samples(n)
        if self._pos >= self.n_samples:
            self._state = ENDED
            self.stats.ended = True
            self._send_heartbeat(now)
            log.info("virtual amplifier: end of stream after %d samples", self.n_samples)
            self._streamed.set()

    def _emit_samples(self, n: int) -> None:
        frame = P.Samples(self._pos, self._steps[self._pos:self._pos + n].ravel())
        wire = self._send(frame)
        if wire:  # fault injection may have eaten the whole frame
            self._tx_sample_frames.append((wire, n))
        self._pos += n
        self.stats.samples_sent += n

    def _send(self, frame) -> bytes:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        frame.seq = self._seq
        wire = self._tx_faults.apply(P.encode(frame))
        self.stats.frames_sent += 1
        if wire:
            self._tx.append(wire)
            self._tx_bytes += len(wire)
        return wire

    def _send_heartbeat(self, now: float) -> None:
        uptime = int((now - self._t_start) * 1000) & 0xFFFFFFFF
        self._send(P.Heartbeat(uptime, self._state, self._pos, self.stats.rx_crc_errors & 0xFFFFFFFF))
        self._next_heartbeat = now + self.heartbeat_s

    def _service_io(self, now: float) -> None:
        if now >= self._next_heartbeat:
            self._send_heartbeat(now)
        if self._state == STREAMING and now - self._last_host_rx > self.host_timeout_s:
            log.warning("virtual amplifier: host silent for %.1f s; stopping the stream", self.host_timeout_s)
            self._state = IDLE
        # How long may we sleep? Until the next frame is due, or a timer fires.
        deadline = min(self._next_heartbeat, now + 0.05)
        if self._state == STREAMING and self.speed is not None:
            deadline = min(deadline, self._clock_t0 + (self._pos + self.samples_per_frame)
                           / (self.sample_rate * self.speed))
        readable, writable = self._port.wait(bool(self._tx), max(0.0, deadline - now))
        if writable:
            self._write_some()
        if readable:
            data = self._port.read()
            if data:
                if self._rx_faults is not None:
                    data = self._rx_faults.apply(data)
                for frame in self._decoder.feed(data):
                    self._last_host_rx = time.monotonic()
                    self._handle(frame, self._last_host_rx)
                self.stats.rx_crc_errors = self._decoder.stats.crc_errors

    def _write_some(self) -> None:
        while self._tx:
            head = self._tx[0]
            n = self._port.write_some(head)
            self.stats.bytes_sent += n
            self._tx_bytes -= n
            if n < len(head):
                self._tx[0] = head[n:]
                self._trim_sample_frames(head, n)
                return
            self._tx.popleft()
            if self._tx_sample_frames and self._tx_sample_frames[0][0] is head:
                self._tx_sample_frames.popleft()

    def _trim_sample_frames(self, head: bytes, n: int) -> None:
        # A partly written frame is committed to the wire: stop counting it as droppable.
        if self._tx_sample_frames and self._tx_sample_frames[0][0] is head:
            self._tx_sample_frames.popleft()

    def _handle(self, frame, now: float) -> None:
        if isinstance(frame, P.HelloRequest):
            self._send(self.hello)
        elif isinstance(frame, P.Start):
            self.stats.starts += 1
            if frame.protocol_version != P.PROTOCOL_VERSION:
                self._send(P.Nack(P.FrameType.START, frame.seq, P.ErrorCode.UNSUPPORTED_VERSION))
                return
            if (frame.sample_rate not in (0, self.sample_rate)  # a WAV file has one rate
                    or frame.samples_per_frame * self.channels > P.MAX_SAMPLES):  # steps of C samples
                self._send(P.Nack(P.FrameType.START, frame.seq, P.ErrorCode.UNSUPPORTED_CONFIG))
                return
            self._send(P.Ack(P.FrameType.START, frame.seq))
            self.stats.acks_sent += 1
            if frame.samples_per_frame:
                self.samples_per_frame = frame.samples_per_frame
            if self._state == ENDED:
                self._send_heartbeat(now)
                return
            if self._clock_t0 is None:
                self._clock_t0 = now
            self._state = STREAMING
        elif isinstance(frame, P.Stop):
            self._send(P.Ack(P.FrameType.STOP, frame.seq))
            self.stats.acks_sent += 1
            if self._state == STREAMING:
                self._state = IDLE
        elif isinstance(frame, P.Alert):
            self._send(P.Ack(P.FrameType.ALERT, frame.alert_id))
            self.stats.acks_sent += 1
            self.stats.alerts_received += 1
            with self._alert_event:
                new = frame.alert_id not in self._alert_ids
                if new:
                    self._alert_ids.add(frame.alert_id)
                    self._alerts.append(frame)
                    self._alert_event.notify_all()
                else:
                    self.stats.alert_duplicates += 1
            if new and self.on_alert is not None:
                self.on_alert(frame)
        elif isinstance(frame, P.Config):
            if frame.key == P.ConfigKey.SAMPLES_PER_FRAME and 1 <= frame.value <= P.MAX_SAMPLES // self.channels:
                self.samples_per_frame = frame.value
            elif frame.key == P.ConfigKey.HEARTBEAT_MS and 50 <= frame.value <= 1000:
                self.heartbeat_s = frame.value / 1000
            else:
                self._send(P.Nack(P.FrameType.CONFIG, frame.seq, P.ErrorCode.UNSUPPORTED_CONFIG))
                return
            self._send(P.Ack(P.FrameType.CONFIG, frame.seq))
            self.stats.acks_sent += 1
        elif isinstance(frame, P.QemgSummary):  # shown, not ACKed (PROTOCOL.md §4)
            with self._lock:
                self.stats.qemg_summaries += 1
                self._summaries.append(frame)
        # HEARTBEAT, ACK, NACK, ERROR from the host need no answer.
