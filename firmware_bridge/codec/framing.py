"""Framing of the wire protocol: header, CRC, COBS; the encoder and the incremental decoder.

Specification: ``firmware_bridge/PROTOCOL.md`` §1-§3. A wire frame is::

    COBS( header(10) | payload(0..MAX_PAYLOAD) | crc32(4) ) | 0x00

with the little-endian header ``version u8, type u8, flags u8, reserved u8, seq u32,
payload_len u16`` and a CRC-32 (zlib/ISO-HDLC) over header and payload.

``encode(frame)`` gives one complete wire frame; ``Decoder().feed(chunk)`` returns the
frames completed by ``chunk``. The decoder never raises on garbage, drops frames that
fail COBS, CRC, length or layout checks (counted in :class:`DecoderStats`),
resynchronises at the next 0x00, and never buffers more than :data:`MAX_ENCODED` bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, fields

from firmware_bridge.codec import cobs
from firmware_bridge.codec.frames import (
    CRC_SIZE, FRAME_CLASSES, HEADER_SIZE, MAX_ENCODED, MAX_PAYLOAD, PROTOCOL_VERSION, Frame, FrameError,
    Hello, _check_int,
)

__all__ = ["encode", "decode_frame", "Decoder", "DecoderStats"]

_HEADER = struct.Struct("<BBBBIH")
_CRC = struct.Struct("<I")
_U32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- encode


def encode(frame: Frame, *, flags: int = 0) -> bytes:
    """One complete wire frame (COBS-encoded, 0x00-terminated) for ``frame``.

    ``flags`` is header byte 2; version 1 defines no flag and receivers ignore it.
    Raises :class:`FrameError` (a ValueError) naming any field out of range.
    """
    cls = type(frame)
    if not isinstance(frame, Frame) or FRAME_CLASSES.get(cls.TYPE) is not cls:
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
        cls = FRAME_CLASSES.get(ftype)
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
