"""Wire protocol between an EMG unit and the host: frames, encoder, incremental decoder.

Specification: ``firmware_bridge/PROTOCOL.md`` (this module and ``firmware_bridge/c/``
implement it). A wire frame is::

    COBS( header(10) | payload(0..MAX_PAYLOAD) | crc32(4) ) | 0x00

with the little-endian header ``version u8, type u8, flags u8, reserved u8, seq u32,
payload_len u16`` and a CRC-32 (zlib/ISO-HDLC) over header and payload.

``encode(frame)`` gives one complete wire frame; ``Decoder().feed(chunk)`` returns the
frames completed by ``chunk``. The decoder never raises on garbage, drops frames that
fail COBS, CRC, length or layout checks (counted in :class:`DecoderStats`),
resynchronises at the next 0x00, and never buffers more than :data:`MAX_ENCODED` bytes.
"""

from __future__ import annotations

import enum
import math
import struct
import zlib
from dataclasses import dataclass, fields
from typing import Union

import numpy as np

from firmware_bridge import cobs

__all__ = [
    "PROTOCOL_VERSION", "MAX_PAYLOAD", "HEADER_SIZE", "CRC_SIZE", "MAX_FRAME", "MAX_ENCODED",
    "MAX_SAMPLES", "FrameType", "ErrorCode", "ConfigKey", "StreamState",
    "Hello", "HelloRequest", "Start", "Stop", "Samples", "Alert", "Ack", "Nack",
    "Heartbeat", "Error", "Config", "Frame",
    "encode", "decode_frame", "FrameError", "Decoder", "DecoderStats",
]

#: Protocol version spoken by this codec (header byte 0).
PROTOCOL_VERSION = 1
#: Maximum payload length in bytes.
MAX_PAYLOAD = 1024
HEADER_SIZE = 10
CRC_SIZE = 4
#: Largest unencoded frame (header + payload + CRC), bytes.
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
#: Largest COBS-encoded frame without its 0x00 delimiter, bytes; the decoder's buffer bound.
MAX_ENCODED = cobs.max_encoded_size(MAX_FRAME)
#: Most int16 samples in one SAMPLES frame (8 bytes go to ``first_index``).
MAX_SAMPLES = (MAX_PAYLOAD - 8) // 2

_HEADER = struct.Struct("<BBBBIH")
_CRC = struct.Struct("<I")
_MAX_ID_BYTES = 32
_MAX_LABEL_BYTES = 64
_MAX_MESSAGE_BYTES = 128
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


class FrameType(enum.IntEnum):
    """Header byte 1."""

    HELLO = 0x01       # unit -> host: capabilities (a.k.a. CAPS)
    HELLO_REQ = 0x02   # host -> unit: please send HELLO
    START = 0x03       # host -> unit: start streaming (ACKed)
    STOP = 0x04        # host -> unit: stop streaming (ACKed)
    SAMPLES = 0x05     # unit -> host: int16 samples with the index of the first one
    ALERT = 0x06       # host -> unit: a detected waveform (ACKed by alert id)
    ACK = 0x07         # either direction
    NACK = 0x08        # either direction
    HEARTBEAT = 0x09   # either direction, keeps link-loss detection alive
    ERROR = 0x0A       # either direction, asynchronous error report
    CONFIG = 0x0B      # host -> unit: set one parameter (ACKed or NACKed)


class ErrorCode(enum.IntEnum):
    """Codes of ERROR frames and NACK reasons (u16). 0x8000-0xFFFF are vendor-specific."""

    NONE = 0x0000
    BAD_CRC = 0x0001            # receiver saw corrupted frames (informational)
    UNSUPPORTED_VERSION = 0x0002
    UNKNOWN_TYPE = 0x0003
    MALFORMED = 0x0004          # payload length/layout wrong for the type
    UNSUPPORTED_CONFIG = 0x0005  # CONFIG key unknown or value out of range
    INVALID_STATE = 0x0006      # request not possible in the current state
    OVERRUN = 0x0007            # unit dropped samples (buffer full); gap shows in first_index
    ADC_FAULT = 0x0008
    BUSY = 0x0009
    INTERNAL = 0x000A


class ConfigKey(enum.IntEnum):
    """CONFIG keys (u16). 0x8000-0xFFFF are vendor-specific."""

    SAMPLE_RATE = 0x0001        # Hz
    SAMPLES_PER_FRAME = 0x0002  # samples per SAMPLES frame, 1..MAX_SAMPLES
    HEARTBEAT_MS = 0x0003       # unit heartbeat period, ms
    HIGHPASS_HZ = 0x0004        # amplifier high-pass corner, Hz
    LOWPASS_HZ = 0x0005         # amplifier low-pass corner, Hz
    NOTCH_HZ = 0x0006           # mains notch, Hz (0 = off)


class StreamState(enum.IntEnum):
    """Unit state carried in HEARTBEAT."""

    IDLE = 0
    STREAMING = 1
    #: a unit with a finite source (a recording, the virtual amplifier) has sent its last
    #: sample; ``next_index`` is then the total number of samples (PROTOCOL.md §6).
    ENDED = 2


class FrameError(ValueError):
    """A frame cannot be encoded (field out of range) or a payload cannot be decoded."""


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise FrameError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def _check_text(name: str, value: str, max_bytes: int) -> bytes:
    if not isinstance(value, str):
        raise FrameError(f"{name} must be a str, got {type(value).__name__}")
    raw = value.encode("utf-8")
    if len(raw) > max_bytes:
        raise FrameError(f"{name} must be at most {max_bytes} UTF-8 bytes, got {len(raw)}")
    return raw


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"{name} is not valid UTF-8") from exc


# --------------------------------------------------------------------------- frames


@dataclass
class Hello:
    """Unit capabilities (HELLO/CAPS), sent on power-up and in answer to HELLO_REQ.

    ``sample_rate`` in Hz, ``sample_width`` in bits (16), ``uv_per_lsb`` in µV per ADC
    LSB (stored at float32 precision, as on the wire), ``protocol_version`` = highest
    version the unit speaks.
    """

    device_id: str
    firmware_version: str
    sample_rate: int
    sample_width: int
    uv_per_lsb: float
    channels: int
    protocol_version: int = PROTOCOL_VERSION
    seq: int = 0
    TYPE = FrameType.HELLO

    def __post_init__(self) -> None:
        self.uv_per_lsb = float(np.float32(self.uv_per_lsb))
        self.validate()

    def validate(self) -> None:
        _check_text("device_id", self.device_id, _MAX_ID_BYTES)
        _check_text("firmware_version", self.firmware_version, _MAX_ID_BYTES)
        _check_int("sample_rate", self.sample_rate, 1, _U32)
        _check_int("sample_width", self.sample_width, 1, 32)
        _check_int("channels", self.channels, 1, 255)
        _check_int("protocol_version", self.protocol_version, 1, 255)
        if not (math.isfinite(self.uv_per_lsb) and self.uv_per_lsb > 0):
            raise FrameError(f"uv_per_lsb must be a finite value > 0 µV, got {self.uv_per_lsb!r}")
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        dev = self.device_id.encode("utf-8")
        fw = self.firmware_version.encode("utf-8")
        return (struct.pack("<BBBxIfB", self.protocol_version, self.sample_width, self.channels,
                            self.sample_rate, self.uv_per_lsb, len(dev))
                + dev + bytes([len(fw)]) + fw)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Hello":
        if len(p) < 13:
            raise FrameError("HELLO payload too short")
        ver, width, ch, rate, uv, n_dev = struct.unpack_from("<BBBxIfB", p)
        end_dev = 13 + n_dev
        if end_dev + 1 > len(p):
            raise FrameError("HELLO device_id runs past the payload")
        n_fw = p[end_dev]
        end_fw = end_dev + 1 + n_fw
        if end_fw > len(p):
            raise FrameError("HELLO firmware_version runs past the payload")
        # Bytes after firmware_version are ignored: later versions may append fields.
        return cls(_text(p[13:end_dev], "device_id"), _text(p[end_dev + 1:end_fw], "firmware_version"),
                   rate, width, uv, ch, ver, seq)


@dataclass
class HelloRequest:
    """Host asks the unit for HELLO; ``protocol_version`` = highest version the host speaks."""

    protocol_version: int = PROTOCOL_VERSION
    seq: int = 0
    TYPE = FrameType.HELLO_REQ

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check_int("protocol_version", self.protocol_version, 1, 255)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<B3x", self.protocol_version)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "HelloRequest":
        _need(p, 4, "HELLO_REQ")
        return cls(p[0], seq)


@dataclass
class Start:
    """Start streaming. ``sample_rate`` Hz and ``samples_per_frame`` (0 = unit default);
    ``protocol_version`` = version the host chose (min of both sides' highest)."""

    protocol_version: int = PROTOCOL_VERSION
    sample_rate: int = 0
    samples_per_frame: int = 0
    seq: int = 0
    TYPE = FrameType.START

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check_int("protocol_version", self.protocol_version, 1, 255)
        _check_int("sample_rate", self.sample_rate, 0, _U32)
        _check_int("samples_per_frame", self.samples_per_frame, 0, MAX_SAMPLES)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<BxHI", self.protocol_version, self.samples_per_frame, self.sample_rate)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Start":
        _need(p, 8, "START")
        ver, spf, rate = struct.unpack("<BxHI", p)
        return cls(ver, rate, spf, seq)


@dataclass
class Stop:
    """Stop streaming (the unit keeps its sample counter running)."""

    seq: int = 0
    TYPE = FrameType.STOP

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return b""

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Stop":
        _need(p, 0, "STOP")
        return cls(seq)


@dataclass(eq=False)
class Samples:
    """A block of int16 samples; ``first_index`` = the unit's index of ``samples[0]``.

    The index is a free-running 64-bit count of samples since the unit powered up, so
    gaps are exact (see :class:`firmware_bridge.gaps.GapTracker`). With C channels the
    values are interleaved and ``first_index`` counts time steps.
    """

    first_index: int
    samples: np.ndarray
    seq: int = 0
    TYPE = FrameType.SAMPLES

    def __post_init__(self) -> None:
        arr = np.asarray(self.samples)
        if arr.dtype != np.int16:
            if arr.size and (arr.dtype.kind not in "iu" or arr.min() < -32768 or arr.max() > 32767):
                raise FrameError(f"samples must be int16 values, got dtype {arr.dtype}"
                                 + (f" range [{arr.min()}, {arr.max()}]" if arr.dtype.kind in "iu" else ""))
            arr = arr.astype(np.int16)
        self.samples = arr.reshape(-1)
        self.validate()

    def validate(self) -> None:
        _check_int("first_index", self.first_index, 0, _U64)
        n = len(self.samples)
        if not 1 <= n <= MAX_SAMPLES:
            raise FrameError(f"SAMPLES must hold 1..{MAX_SAMPLES} samples, got {n}")
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<Q", self.first_index) + self.samples.astype("<i2", copy=False).tobytes()

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Samples":
        if len(p) < 10 or len(p) % 2:
            raise FrameError(f"SAMPLES payload must be 8 + 2n bytes (n >= 1), got {len(p)}")
        (first,) = struct.unpack_from("<Q", p)
        samples = np.frombuffer(p, dtype="<i2", offset=8).astype(np.int16)
        return cls(first, samples, seq)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Samples):
            return NotImplemented
        return (self.first_index == other.first_index and self.seq == other.seq
                and np.array_equal(self.samples, other.samples))

    def __repr__(self) -> str:
        return f"Samples(first_index={self.first_index}, n={len(self.samples)}, seq={self.seq})"


@dataclass
class Alert:
    """A detected waveform sent to the unit. ``onset``/``offset`` are sample indices
    (same counter as ``Samples.first_index``); ``confidence`` in 0..1 is carried in
    units of 1e-4 and stored at that precision; ``severity`` 0 info, 1 warning, 2 critical.
    """

    alert_id: int
    label: str
    confidence: float
    onset: int
    offset: int
    severity: int
    seq: int = 0
    TYPE = FrameType.ALERT

    def __post_init__(self) -> None:
        c = float(self.confidence)
        if not (math.isfinite(c) and 0.0 <= c <= 1.0):
            raise FrameError(f"confidence must be in [0, 1], got {self.confidence!r}")
        self.confidence = round(c * 10000) / 10000
        self.validate()

    def validate(self) -> None:
        _check_int("alert_id", self.alert_id, 0, _U32)
        _check_text("label", self.label, _MAX_LABEL_BYTES)
        _check_int("onset", self.onset, 0, _U64)
        _check_int("offset", self.offset, self.onset if isinstance(self.onset, int) else 0, _U64)
        _check_int("severity", self.severity, 0, 255)
        if not 0.0 <= self.confidence <= 1.0:
            raise FrameError(f"confidence must be in [0, 1], got {self.confidence!r}")
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        lab = self.label.encode("utf-8")
        return struct.pack("<IQQHBB", self.alert_id, self.onset, self.offset,
                           round(self.confidence * 10000), self.severity, len(lab)) + lab

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Alert":
        if len(p) < 24:
            raise FrameError("ALERT payload too short")
        aid, onset, offset, conf, sev, n = struct.unpack_from("<IQQHBB", p)
        if len(p) != 24 + n:
            raise FrameError(f"ALERT payload length {len(p)} != 24 + label length {n}")
        if conf > 10000:
            raise FrameError(f"ALERT confidence {conf} > 10000")
        return cls(aid, _text(p[24:], "label"), conf / 10000, onset, offset, sev, seq)


@dataclass
class Ack:
    """Positive acknowledgement. ``ref_id`` = alert_id for ALERT, else the acked frame's seq."""

    ref_type: FrameType
    ref_id: int
    seq: int = 0
    TYPE = FrameType.ACK

    def __post_init__(self) -> None:
        self.validate()
        self.ref_type = _as_type(self.ref_type)

    def validate(self) -> None:
        _check_int("ref_type", self.ref_type, 0, 255)
        _check_int("ref_id", self.ref_id, 0, _U32)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<B3xI", self.ref_type, self.ref_id)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Ack":
        _need(p, 8, "ACK")
        t, rid = struct.unpack("<B3xI", p)
        return cls(t, rid, seq)


@dataclass
class Nack:
    """Negative acknowledgement with an :class:`ErrorCode` ``reason``."""

    ref_type: FrameType
    ref_id: int
    reason: int = ErrorCode.MALFORMED
    seq: int = 0
    TYPE = FrameType.NACK

    def __post_init__(self) -> None:
        self.validate()
        self.ref_type = _as_type(self.ref_type)
        self.reason = _as_enum(ErrorCode, self.reason)

    def validate(self) -> None:
        _check_int("ref_type", self.ref_type, 0, 255)
        _check_int("ref_id", self.ref_id, 0, _U32)
        _check_int("reason", self.reason, 0, 0xFFFF)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<BxHI", self.ref_type, self.reason, self.ref_id)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Nack":
        _need(p, 8, "NACK")
        t, reason, rid = struct.unpack("<BxHI", p)
        return cls(t, rid, reason, seq)


@dataclass
class Heartbeat:
    """Liveness. ``uptime_ms`` (wraps at 2**32), ``state`` (:class:`StreamState`),
    ``next_index`` = index of the next sample the unit will send (0 from the host),
    ``rx_errors`` = frames the sender dropped as corrupted since power-up."""

    uptime_ms: int = 0
    state: int = StreamState.IDLE
    next_index: int = 0
    rx_errors: int = 0
    seq: int = 0
    TYPE = FrameType.HEARTBEAT

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check_int("uptime_ms", self.uptime_ms, 0, _U32)
        _check_int("state", self.state, 0, 255)
        _check_int("next_index", self.next_index, 0, _U64)
        _check_int("rx_errors", self.rx_errors, 0, _U32)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<IB3xQI", self.uptime_ms, self.state, self.next_index, self.rx_errors)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Heartbeat":
        _need(p, 20, "HEARTBEAT")
        up, st, nxt, rx = struct.unpack("<IB3xQI", p)
        return cls(up, st, nxt, rx, seq)


@dataclass
class Error:
    """Asynchronous error report: :class:`ErrorCode` ``code`` and a short UTF-8 message."""

    code: int
    message: str = ""
    seq: int = 0
    TYPE = FrameType.ERROR

    def __post_init__(self) -> None:
        self.validate()
        self.code = _as_enum(ErrorCode, self.code)

    def validate(self) -> None:
        _check_int("code", self.code, 0, 0xFFFF)
        _check_text("message", self.message, _MAX_MESSAGE_BYTES)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        msg = self.message.encode("utf-8")
        return struct.pack("<HBx", self.code, len(msg)) + msg

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Error":
        if len(p) < 4:
            raise FrameError("ERROR payload too short")
        code, n = struct.unpack_from("<HBx", p)
        if len(p) != 4 + n:
            raise FrameError(f"ERROR payload length {len(p)} != 4 + message length {n}")
        return cls(code, _text(p[4:], "message"), seq)


@dataclass
class Config:
    """Set one unit parameter: :class:`ConfigKey` ``key`` to the int32 ``value``."""

    key: int
    value: int
    seq: int = 0
    TYPE = FrameType.CONFIG

    def __post_init__(self) -> None:
        self.validate()
        self.key = _as_enum(ConfigKey, self.key)

    def validate(self) -> None:
        _check_int("key", self.key, 0, 0xFFFF)
        _check_int("value", self.value, -(1 << 31), (1 << 31) - 1)
        _check_int("seq", self.seq, 0, _U32)

    def payload(self) -> bytes:
        return struct.pack("<H2xi", self.key, self.value)

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Config":
        _need(p, 8, "CONFIG")
        key, value = struct.unpack("<H2xi", p)
        return cls(key, value, seq)


Frame = Union[Hello, HelloRequest, Start, Stop, Samples, Alert, Ack, Nack, Heartbeat, Error, Config]

_CLASSES = {cls.TYPE: cls for cls in (Hello, HelloRequest, Start, Stop, Samples, Alert, Ack, Nack,
                                      Heartbeat, Error, Config)}


def _need(p: bytes, n: int, name: str) -> None:
    if len(p) != n:
        raise FrameError(f"{name} payload must be {n} bytes, got {len(p)}")


def _as_type(value: int) -> int:
    try:
        return FrameType(value)
    except ValueError:
        return int(value)


def _as_enum(enum_cls: type, value: int) -> int:
    try:
        return enum_cls(value)
    except ValueError:
        return int(value)


# --------------------------------------------------------------------------- encode


def encode(frame: Frame, *, flags: int = 0) -> bytes:
    """One complete wire frame (COBS-encoded, 0x00-terminated) for ``frame``.

    ``flags`` is header byte 2; version 1 defines no flag and receivers ignore it.
    Raises :class:`FrameError` (a ValueError) naming any field out of range.
    """
    cls = type(frame)
    if _CLASSES.get(getattr(cls, "TYPE", None)) is not cls:
        raise FrameError(f"not a protocol frame: {frame!r}")
    frame.validate()
    _check_int("flags", flags, 0, 255)
    payload = frame.payload()
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    body = _HEADER.pack(PROTOCOL_VERSION, cls.TYPE, flags, 0, frame.seq, len(payload)) + payload
    body += _CRC.pack(zlib.crc32(body))
    return cobs.encode(body) + b"\x00"


def decode_frame(wire: bytes) -> Frame:
    """Decode one wire frame (with or without its trailing 0x00); raises :class:`FrameError`."""
    dec = Decoder()
    data = bytes(wire)
    frames = dec.feed(data if data.endswith(b"\x00") else data + b"\x00")
    if len(frames) != 1:
        raise FrameError(f"not exactly one valid frame ({dec.stats})")
    return frames[0]


# --------------------------------------------------------------------------- decode


@dataclass
class DecoderStats:
    """Counters of an incremental :class:`Decoder` (all since construction)."""

    bytes_in: int = 0        #: bytes fed
    frames: int = 0          #: valid frames returned
    crc_errors: int = 0      #: frames dropped because the CRC did not match
    cobs_errors: int = 0     #: frames dropped because COBS decoding failed
    length_errors: int = 0   #: frames shorter than header+CRC or with a wrong payload_len
    version_errors: int = 0  #: frames of a protocol version this decoder does not speak
    unknown_type: int = 0    #: frames of an unknown type
    malformed: int = 0       #: frames whose payload layout is invalid for their type
    oversize: int = 0        #: runs longer than MAX_ENCODED without a delimiter
    dropped_bytes: int = 0   #: bytes (excluding delimiters) that did not end in a valid frame
    seq_gaps: int = 0        #: frames missing according to header sequence numbers

    @property
    def dropped_frames(self) -> int:
        """Frames (or delimiter-bounded runs) rejected for any reason."""
        return (self.crc_errors + self.cobs_errors + self.length_errors + self.version_errors
                + self.unknown_type + self.malformed + self.oversize)

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["dropped_frames"] = self.dropped_frames
        return d


class Decoder:
    """Incremental decoder: ``feed(chunk) -> list of frames`` for any chunking of the stream.

    Never raises on input bytes. Memory is bounded: the pending buffer never exceeds
    :data:`MAX_ENCODED` bytes; a longer run without a delimiter is discarded (counted in
    ``stats.oversize``) and decoding resumes after the next 0x00.
    """

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._skipping = False  # inside an oversize run: discard until the next 0x00
        self._last_seq: int | None = None

    @property
    def buffered(self) -> int:
        """Bytes currently held while waiting for a delimiter (always <= MAX_ENCODED)."""
        return len(self._buf)

    def reset(self) -> None:
        """Discard any partial frame (e.g. after the port was reopened); keeps stats."""
        self._buf.clear()
        self._skipping = False
        self._last_seq = None

    def feed(self, data: bytes) -> list:
        """Consume ``data`` and return the frames it completed, in order."""
        if not isinstance(data, bytes):
            data = bytes(data)
        stats = self.stats
        stats.bytes_in += len(data)
        out: list = []
        pos, n = 0, len(data)
        while pos < n:
            z = data.find(b"\x00", pos)
            if z < 0:
                self._append(data, pos, n)
                break
            if self._skipping:
                stats.dropped_bytes += z - pos
                self._skipping = False
            elif self._buf:
                self._append(data, pos, z)
                if not self._skipping:
                    block = bytes(self._buf)
                    self._buf.clear()
                    self._finish(block, out)
                else:
                    self._skipping = False
            elif z > pos:
                if z - pos > MAX_ENCODED:
                    stats.oversize += 1
                    stats.dropped_bytes += z - pos
                else:
                    self._finish(data[pos:z], out)
            pos = z + 1
        return out

    def _append(self, data: bytes, start: int, end: int) -> None:
        count = end - start
        if self._skipping:
            self.stats.dropped_bytes += count
            return
        if len(self._buf) + count > MAX_ENCODED:
            self.stats.oversize += 1
            self.stats.dropped_bytes += len(self._buf) + count
            self._buf.clear()
            self._skipping = True
            return
        self._buf += data[start:end]

    def _finish(self, block: bytes, out: list) -> None:
        stats = self.stats
        try:
            body = cobs.decode(block)
        except cobs.CobsError:
            stats.cobs_errors += 1
            stats.dropped_bytes += len(block)
            return
        if len(body) < HEADER_SIZE + CRC_SIZE:
            stats.length_errors += 1
            stats.dropped_bytes += len(block)
            return
        crc = int.from_bytes(body[-4:], "little")
        if zlib.crc32(body[:-4]) != crc:
            stats.crc_errors += 1
            stats.dropped_bytes += len(block)
            return
        version, ftype, _flags, _reserved, seq, plen = _HEADER.unpack_from(body)
        if plen != len(body) - HEADER_SIZE - CRC_SIZE or plen > MAX_PAYLOAD:
            stats.length_errors += 1
            stats.dropped_bytes += len(block)
            return
        cls = _CLASSES.get(ftype)
        if cls is None:
            stats.unknown_type += 1
            stats.dropped_bytes += len(block)
            return
        if version != PROTOCOL_VERSION and cls is not Hello:
            # HELLO's layout is frozen (later versions only append), so a v1 host can
            # still read a newer unit's capabilities and negotiate down.
            stats.version_errors += 1
            stats.dropped_bytes += len(block)
            return
        try:
            frame = cls.from_payload(body[HEADER_SIZE:-CRC_SIZE], seq)
        except (FrameError, ValueError, struct.error):
            stats.malformed += 1
            stats.dropped_bytes += len(block)
            return
        if self._last_seq is not None:
            missing = (seq - self._last_seq - 1) & _U32
            if missing < 0x10000:  # larger jumps are a restart of the sender, not a loss
                stats.seq_gaps += missing
        self._last_seq = seq
        stats.frames += 1
        out.append(frame)
