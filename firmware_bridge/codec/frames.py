"""Frames of the wire protocol: constants, enums, and one dataclass per frame type.

Specification: ``firmware_bridge/PROTOCOL.md`` §4-§5 (this package and ``firmware_bridge/c/``
implement it). Every frame class derives from :class:`Frame`, which does the shared work from
a declarative layout: a frame names its ``TYPE``, the struct ``LAYOUT`` of its fixed
payload part and the fields it packs (``WIRE``, in wire order), the UTF-8 ``TEXTS`` that
follow it (each one u8 length then the bytes) and the allowed ``RANGES`` of its integers.
:class:`Frame` then validates on construction, builds the payload and parses it back;
a frame only adds what is its own (float32 rounding of HELLO, the sample array of SAMPLES).

Framing (header, CRC, COBS) and the incremental decoder are in
:mod:`firmware_bridge.codec.framing`.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from firmware_bridge.codec import cobs

__all__ = [
    "PROTOCOL_VERSION", "MAX_PAYLOAD", "HEADER_SIZE", "CRC_SIZE", "MAX_FRAME", "MAX_ENCODED",
    "MAX_SAMPLES", "FrameType", "ErrorCode", "ConfigKey", "StreamState", "QemgPattern",
    "Frame", "Hello", "HelloRequest", "Start", "Stop", "Samples", "Alert", "Ack", "Nack",
    "Heartbeat", "Error", "Config", "QemgSummary", "FRAME_CLASSES", "FrameError",
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
#: Longest alert label an ALERT frame carries, UTF-8 bytes.
MAX_LABEL_BYTES = 64

_U8 = (0, 0xFF)
_U16 = (0, 0xFFFF)
_U32 = (0, 0xFFFFFFFF)
_U64 = (0, 0xFFFFFFFFFFFFFFFF)
_I32 = (-(1 << 31), (1 << 31) - 1)
_VERSION = (1, 255)


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
    QEMG_SUMMARY = 0x0C  # host -> unit: measures of one voluntary stretch (fire-and-forget, not ACKed)


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


class QemgPattern(enum.IntEnum):
    """Pattern codes of QEMG_SUMMARY (u8; 5..255 reserved: a receiver shows them as unknown).

    The rule-based summary (:mod:`edge.quant.pattern`) says within limits / neurogenic-looking /
    myopathic-looking / indeterminate; the learned model says normal / neurogenic / myopathic
    (normal is sent as WITHIN_LIMITS). A pattern, never a diagnosis."""

    NONE = 0           # no call (no pattern model, or it did not run)
    INDETERMINATE = 1
    WITHIN_LIMITS = 2
    NEUROGENIC = 3
    MYOPATHIC = 4


class FrameError(ValueError):
    """A frame cannot be encoded (field out of range) or a payload cannot be decoded."""


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if type(value) is int and lo <= value <= hi:  # the common case, first: every frame decoded passes here
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise FrameError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def _check_text(name: str, value: str, max_bytes: int) -> None:
    if not isinstance(value, str):
        raise FrameError(f"{name} must be a str, got {type(value).__name__}")
    n = len(value.encode("utf-8"))
    if n > max_bytes:
        raise FrameError(f"{name} must be at most {max_bytes} UTF-8 bytes, got {n}")


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"{name} is not valid UTF-8") from exc


def _fraction_1e4(name: str, value: float) -> float:
    """A fraction in [0, 1] at the wire's precision (units of 1e-4), or FrameError naming it."""
    c = float(value)
    if not (math.isfinite(c) and 0.0 <= c <= 1.0):
        raise FrameError(f"{name} must be in [0, 1], got {value!r}")
    return round(c * 10000) / 10000


def _check_not_before(name: str, value: int, first: int) -> None:
    """An end index (``value``) may not come before its start (``first``)."""
    if value < first:
        raise FrameError(f"{name} must be an integer in [{first}, {_U64[1]}], got {value!r}")


def _known(enum_cls: type, value: int) -> int:
    """``value`` as a member of ``enum_cls`` when it names one (readable reprs), else the int."""
    try:
        return enum_cls(value)
    except ValueError:
        return int(value)


@dataclass(frozen=True)
class Text:
    """A UTF-8 field after the fixed part: u8 byte count, ``pad`` zero bytes, the bytes."""

    name: str
    max_bytes: int
    pad: int = 0


# --------------------------------------------------------------------------- base


class Frame:
    """Base of all frames: validation, payload and parsing from the subclass's layout.

    Subclasses are dataclasses with a ``seq`` field (header sequence number, u32) and declare:

    * ``TYPE``: the :class:`FrameType`;
    * ``LAYOUT``: struct format (little-endian, pad bytes as ``x``) of the fixed payload part,
      and ``WIRE``: the fields it packs, in wire order;
    * ``SCALE``: fields carried on the wire as ``round(value * scale)`` (fixed point);
    * ``TEXTS``: :class:`Text` fields following the fixed part, in wire order;
    * ``RANGES``: inclusive ``(lo, hi)`` of every integer field (checked by :meth:`validate`);
    * ``ENUMS``: integer fields shown as members of an IntEnum when the value is a known one;
    * ``OPEN_ENDED``: bytes after the last field are ignored (later versions may append),
      otherwise the payload must end exactly there.
    """

    TYPE: ClassVar[FrameType]
    LAYOUT: ClassVar[str] = ""
    WIRE: ClassVar[tuple[str, ...]] = ()
    SCALE: ClassVar[dict[str, int]] = {}
    TEXTS: ClassVar[tuple[Text, ...]] = ()
    RANGES: ClassVar[dict[str, tuple[int, int]]] = {}
    ENUMS: ClassVar[dict[str, type]] = {}
    OPEN_ENDED: ClassVar[bool] = False
    _fixed: ClassVar[struct.Struct]
    _ints: ClassVar[tuple[tuple[str, int, int], ...]]

    seq: int

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._fixed = struct.Struct("<" + cls.LAYOUT)
        cls._ints = tuple((name, lo, hi) for name, (lo, hi) in cls.RANGES.items()) + (("seq", *_U32),)

    def __post_init__(self) -> None:
        self._normalise()
        self.validate()
        if self.ENUMS:
            for name, enum_cls in self.ENUMS.items():
                setattr(self, name, _known(enum_cls, getattr(self, name)))

    def _normalise(self) -> None:
        """Bring fields to wire precision before validation (hook)."""

    def validate(self) -> None:
        """Raise :class:`FrameError` naming the first field out of range."""
        for name, lo, hi in self._ints:
            _check_int(name, getattr(self, name), lo, hi)
        for t in self.TEXTS:
            _check_text(t.name, getattr(self, t.name), t.max_bytes)

    def payload(self) -> bytes:
        """The payload bytes of this frame (no header, no CRC)."""
        values = [getattr(self, name) for name in self.WIRE]
        if self.SCALE:
            values = [round(v * self.SCALE[n]) if n in self.SCALE else v for n, v in zip(self.WIRE, values)]
        out = self._fixed.pack(*values)
        for t in self.TEXTS:
            raw = getattr(self, t.name).encode("utf-8")
            out += bytes([len(raw)]) + bytes(t.pad) + raw
        return out

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Frame":
        """Parse a payload; raises :class:`FrameError` (or ValueError) when it is malformed."""
        name = cls.TYPE.name
        size = cls._fixed.size
        if not cls.TEXTS and not cls.OPEN_ENDED:
            if len(p) != size:
                raise FrameError(f"{name} payload must be {size} bytes, got {len(p)}")
        elif len(p) < size:
            raise FrameError(f"{name} payload too short: {len(p)} < {size} bytes")
        values = dict(zip(cls.WIRE, cls._fixed.unpack_from(p)))
        for field_name, scale in cls.SCALE.items():
            if values[field_name] > scale:
                raise FrameError(f"{name} {field_name} {values[field_name]} > {scale}")
            values[field_name] = values[field_name] / scale
        pos = size
        for t in cls.TEXTS:
            start = pos + 1 + t.pad
            if start > len(p):
                raise FrameError(f"{name} {t.name} length runs past the payload")
            end = start + p[pos]
            if end > len(p):
                raise FrameError(f"{name} {t.name} runs past the payload")
            values[t.name] = _text(p[start:end], t.name)
            pos = end
        if pos != len(p) and not cls.OPEN_ENDED:
            raise FrameError(f"{name} payload is {len(p)} bytes, its fields end at {pos}")
        return cls(**values, seq=seq)


# --------------------------------------------------------------------------- frames


@dataclass
class Hello(Frame):
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
    LAYOUT = "BBBxIf"
    WIRE = ("protocol_version", "sample_width", "channels", "sample_rate", "uv_per_lsb")
    TEXTS = (Text("device_id", 32), Text("firmware_version", 32))
    RANGES = {"sample_rate": (1, _U32[1]), "sample_width": (1, 32), "channels": (1, 255),
              "protocol_version": _VERSION}
    # HELLO's layout is frozen: later versions only append fields, which a v1 host ignores.
    OPEN_ENDED = True

    def _normalise(self) -> None:
        self.uv_per_lsb = float(np.float32(self.uv_per_lsb))

    def validate(self) -> None:
        super().validate()
        if not (math.isfinite(self.uv_per_lsb) and self.uv_per_lsb > 0):
            raise FrameError(f"uv_per_lsb must be a finite value > 0 µV, got {self.uv_per_lsb!r}")


@dataclass
class HelloRequest(Frame):
    """Host asks the unit for HELLO; ``protocol_version`` = highest version the host speaks."""

    protocol_version: int = PROTOCOL_VERSION
    seq: int = 0
    TYPE = FrameType.HELLO_REQ
    LAYOUT = "B3x"
    WIRE = ("protocol_version",)
    RANGES = {"protocol_version": _VERSION}


@dataclass
class Start(Frame):
    """Start streaming. ``sample_rate`` Hz and ``samples_per_frame`` (0 = unit default);
    ``protocol_version`` = version the host chose (min of both sides' highest)."""

    protocol_version: int = PROTOCOL_VERSION
    sample_rate: int = 0
    samples_per_frame: int = 0
    seq: int = 0
    TYPE = FrameType.START
    LAYOUT = "BxHI"
    WIRE = ("protocol_version", "samples_per_frame", "sample_rate")
    RANGES = {"protocol_version": _VERSION, "sample_rate": _U32, "samples_per_frame": (0, MAX_SAMPLES)}


@dataclass
class Stop(Frame):
    """Stop streaming (the unit keeps its sample counter running)."""

    seq: int = 0
    TYPE = FrameType.STOP


@dataclass(eq=False)
class Samples(Frame):
    """A block of int16 samples; ``first_index`` = the unit's index of ``samples[0]``.

    The index is a free-running 64-bit count of samples since the unit powered up, so
    gaps are exact (see :class:`firmware_bridge.host.gaps.GapTracker`). With C channels the
    values are interleaved and ``first_index`` counts time steps. The samples follow
    ``first_index`` as little-endian int16 to the end of the payload.
    """

    first_index: int
    samples: np.ndarray
    seq: int = 0
    TYPE = FrameType.SAMPLES
    LAYOUT = "Q"
    WIRE = ("first_index",)
    RANGES = {"first_index": _U64}

    def _normalise(self) -> None:
        arr = np.asarray(self.samples)
        if arr.dtype != np.int16:
            if arr.size and (arr.dtype.kind not in "iu" or arr.min() < -32768 or arr.max() > 32767):
                raise FrameError(f"samples must be int16 values, got dtype {arr.dtype}"
                                 + (f" range [{arr.min()}, {arr.max()}]" if arr.dtype.kind in "iu" else ""))
            arr = arr.astype(np.int16)
        self.samples = arr.reshape(-1)

    def validate(self) -> None:
        super().validate()
        n = len(self.samples)
        if not 1 <= n <= MAX_SAMPLES:
            raise FrameError(f"SAMPLES must hold 1..{MAX_SAMPLES} samples, got {n}")

    def payload(self) -> bytes:
        return super().payload() + self.samples.astype("<i2", copy=False).tobytes()

    @classmethod
    def from_payload(cls, p: bytes, seq: int) -> "Samples":
        if len(p) < 10 or len(p) % 2:
            raise FrameError(f"SAMPLES payload must be 8 + 2n bytes (n >= 1), got {len(p)}")
        (first,) = cls._fixed.unpack_from(p)
        return cls(first, np.frombuffer(p, dtype="<i2", offset=8).astype(np.int16), seq)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Samples):
            return NotImplemented
        return (self.first_index == other.first_index and self.seq == other.seq
                and np.array_equal(self.samples, other.samples))

    def __repr__(self) -> str:
        return f"Samples(first_index={self.first_index}, n={len(self.samples)}, seq={self.seq})"


@dataclass
class Alert(Frame):
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
    LAYOUT = "IQQHB"
    WIRE = ("alert_id", "onset", "offset", "confidence", "severity")
    SCALE = {"confidence": 10000}
    TEXTS = (Text("label", MAX_LABEL_BYTES),)
    RANGES = {"alert_id": _U32, "onset": _U64, "offset": _U64, "severity": _U8}

    def _normalise(self) -> None:
        self.confidence = _fraction_1e4("confidence", self.confidence)

    def validate(self) -> None:
        super().validate()
        _check_not_before("offset", self.offset, self.onset)
        if not 0.0 <= self.confidence <= 1.0:
            raise FrameError(f"confidence must be in [0, 1], got {self.confidence!r}")


@dataclass
class Ack(Frame):
    """Positive acknowledgement. ``ref_id`` = alert_id for ALERT, else the acked frame's seq."""

    ref_type: FrameType
    ref_id: int
    seq: int = 0
    TYPE = FrameType.ACK
    LAYOUT = "B3xI"
    WIRE = ("ref_type", "ref_id")
    RANGES = {"ref_type": _U8, "ref_id": _U32}
    ENUMS = {"ref_type": FrameType}


@dataclass
class Nack(Frame):
    """Negative acknowledgement with an :class:`ErrorCode` ``reason``."""

    ref_type: FrameType
    ref_id: int
    reason: int = ErrorCode.MALFORMED
    seq: int = 0
    TYPE = FrameType.NACK
    LAYOUT = "BxHI"
    WIRE = ("ref_type", "reason", "ref_id")
    RANGES = {"ref_type": _U8, "ref_id": _U32, "reason": _U16}
    ENUMS = {"ref_type": FrameType, "reason": ErrorCode}


@dataclass
class Heartbeat(Frame):
    """Liveness. ``uptime_ms`` (wraps at 2**32), ``state`` (:class:`StreamState`),
    ``next_index`` = index of the next sample the unit will send (0 from the host),
    ``rx_errors`` = frames the sender dropped as corrupted since power-up."""

    uptime_ms: int = 0
    state: int = StreamState.IDLE
    next_index: int = 0
    rx_errors: int = 0
    seq: int = 0
    TYPE = FrameType.HEARTBEAT
    LAYOUT = "IB3xQI"
    WIRE = ("uptime_ms", "state", "next_index", "rx_errors")
    RANGES = {"uptime_ms": _U32, "state": _U8, "next_index": _U64, "rx_errors": _U32}


@dataclass
class Error(Frame):
    """Asynchronous error report: :class:`ErrorCode` ``code`` and a short UTF-8 message."""

    code: int
    message: str = ""
    seq: int = 0
    TYPE = FrameType.ERROR
    LAYOUT = "H"
    WIRE = ("code",)
    TEXTS = (Text("message", 128, pad=1),)
    RANGES = {"code": _U16}
    ENUMS = {"code": ErrorCode}


@dataclass
class Config(Frame):
    """Set one unit parameter: :class:`ConfigKey` ``key`` to the int32 ``value``."""

    key: int
    value: int
    seq: int = 0
    TYPE = FrameType.CONFIG
    LAYOUT = "H2xi"
    WIRE = ("key", "value")
    RANGES = {"key": _U16, "value": _I32}
    ENUMS = {"key": ConfigKey}


@dataclass
class QemgSummary(Frame):
    """The motor unit measures of one voluntary stretch, for the unit to display (PROTOCOL.md §4).

    Fire-and-forget: the unit does not ACK it and the host never retransmits it (a unit that
    does not know type 0x0C drops it; the next stretch supersedes it; the JSON lines keep it).
    ``stretch_id``: the host's counter of summaries in this run. ``start``/``end``: sample
    indices of the stretch (same counter as ``Samples.first_index``), ``end`` exclusive.
    Fixed point, each saturating at its field's maximum (the sender rounds half to even, then
    clamps): ``amplitude_uv`` median peak-to-peak amplitude in µV (u16); ``duration_tenth_ms``
    median duration in 0.1 ms (u16, up to 6553.5 ms); ``polyphasic_hundredth_pct`` share of
    polyphasic units in 0.01 % (0..10000); ``rate_hundredth_hz`` mean firing rate in 0.01 Hz
    (u16). With ``n_units`` 0 (saturating at 255) the measures are 0 and mean nothing.
    ``rule_pattern``/``model_pattern``: :class:`QemgPattern`; ``model_confidence`` (0..1, in
    units of 1e-4 like ALERT's confidence) is the model's mean probability of its call.
    """

    stretch_id: int
    start: int
    end: int
    n_units: int = 0
    rule_pattern: int = QemgPattern.INDETERMINATE
    model_pattern: int = QemgPattern.NONE
    amplitude_uv: int = 0
    duration_tenth_ms: int = 0
    polyphasic_hundredth_pct: int = 0
    rate_hundredth_hz: int = 0
    model_confidence: float = 0.0
    seq: int = 0
    TYPE = FrameType.QEMG_SUMMARY
    LAYOUT = "IQQBBBxHHHHH"
    WIRE = ("stretch_id", "start", "end", "n_units", "rule_pattern", "model_pattern", "amplitude_uv",
            "duration_tenth_ms", "polyphasic_hundredth_pct", "rate_hundredth_hz", "model_confidence")
    SCALE = {"model_confidence": 10000}
    RANGES = {"stretch_id": _U32, "start": _U64, "end": _U64, "n_units": _U8, "rule_pattern": _U8,
              "model_pattern": _U8, "amplitude_uv": _U16, "duration_tenth_ms": _U16,
              "polyphasic_hundredth_pct": (0, 10000), "rate_hundredth_hz": _U16}
    ENUMS = {"rule_pattern": QemgPattern, "model_pattern": QemgPattern}

    def _normalise(self) -> None:
        self.model_confidence = _fraction_1e4("model_confidence", self.model_confidence)

    def validate(self) -> None:
        super().validate()
        _check_not_before("end", self.end, self.start)


#: Frame class of each type byte.
FRAME_CLASSES: dict[int, type[Frame]] = {
    cls.TYPE: cls for cls in (Hello, HelloRequest, Start, Stop, Samples, Alert, Ack, Nack, Heartbeat, Error, Config,
                              QemgSummary)
}
