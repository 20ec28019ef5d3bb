"""Regenerate the shared protocol test vectors (Python and C codecs must both match them).

    .venv/bin/python tests/firmware_bridge/vectors/make_vectors.py

frames.txt / frames.bin: one frame per line and its exact wire bytes (canonical encoding).
corrupted.bin / corrupted.txt: a damaged stream and what a decoder must return from it:
the valid frames as lines, then the STATS line with every drop counter. The files are
committed; regenerate only on a deliberate protocol change (and bump PROTOCOL_VERSION).
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import numpy as np

from firmware_bridge.codec import cobs
from firmware_bridge.codec.frametext import stats_line, to_line
from firmware_bridge.codec import (
    MAX_ENCODED, MAX_SAMPLES, Ack, Alert, Config, ConfigKey, Decoder, Error, ErrorCode, FrameType,
    Heartbeat, Hello, HelloRequest, Nack, Samples, Start, Stop, encode,
)

HERE = Path(__file__).resolve().parent


def frames() -> list:
    sine = np.round(1000 * np.sin(np.arange(480) * 2 * np.pi / 48)).astype(np.int16)
    return [
        Hello("unit-0001", "1.0.0", 48000, 16, 0.5, 1, seq=0),
        Hello("", "", 1, 1, 1e-30, 255, protocol_version=1, seq=0xFFFFFFFF),
        Hello("Ω-µV-unit-ß", "fw 2026.11 ✓", 44100, 24, 0.0625, 2, seq=7),
        HelloRequest(1, seq=0),
        Start(1, 48000, 480, seq=1),
        Start(1, 0, 0, seq=2),
        Stop(seq=3),
        Samples(0, sine, seq=4),
        Samples(2**64 - 2, np.array([-32768, 32767], np.int16), seq=5),
        Samples(1, np.full(MAX_SAMPLES, 0x0101, np.int16), seq=6),   # no zeros: 0xFF code blocks
        Samples(256, np.zeros(MAX_SAMPLES, np.int16), seq=7),        # all zeros
        Samples(3, np.full(127, 0x0202, np.int16), seq=8),           # exact 254-byte runs
        Alert(1, "fibrillation", 0.9, 48000, 52800, 2, seq=9),
        Alert(0xFFFFFFFF, "", 0.0, 0, 0, 0, seq=10),
        Alert(42, "positive_sharp_wave", 1.0, 2**64 - 1, 2**64 - 1, 255, seq=11),
        Alert(43, "x" * 64, 0.1234, 5, 6, 1, seq=12),
        Ack(FrameType.ALERT, 1, seq=13),
        Ack(FrameType.START, 1, seq=14),
        Nack(FrameType.CONFIG, 15, ErrorCode.UNSUPPORTED_CONFIG, seq=15),
        Nack(0xEE, 0xFFFFFFFF, 0xFFFF, seq=16),
        Heartbeat(0, 0, 0, 0, seq=17),
        Heartbeat(0xFFFFFFFF, 1, 2**64 - 1, 0xFFFFFFFF, seq=18),
        Error(ErrorCode.OVERRUN, "tx buffer full, 480 samples dropped", seq=19),
        Error(0x8001, "", seq=20),
        Config(ConfigKey.SAMPLE_RATE, 44100, seq=21),
        Config(ConfigKey.NOTCH_HZ, -(2**31), seq=22),
        Config(0xFFFF, 2**31 - 1, seq=23),
    ]


def raw_frame(version: int, ftype: int, payload: bytes, seq: int = 0, plen: int | None = None,
              bad_crc: bool = False, trailing_one: bool = False) -> bytes:
    """A hand-built wire frame (valid CRC unless bad_crc) for cases encode() refuses to make."""
    body = struct.pack("<BBBBIH", version, ftype, 0, 0, seq, len(payload) if plen is None else plen)
    body += payload
    crc = zlib.crc32(body) ^ (1 if bad_crc else 0)
    enc = cobs.encode(body + struct.pack("<I", crc))
    if trailing_one:
        enc += b"\x01"
    return enc + b"\x00"


def corrupted_stream() -> bytes:
    rng = random.Random(3)
    fs = frames()
    good = [encode(f) for f in fs]
    out = bytearray()
    out += b"\x00\x00"                                   # idle delimiters
    out += good[0]
    out += b"\x13\x37\x42"                               # line noise, then a frame: merged, dropped
    out += good[4]
    out += good[6]
    flipped = bytearray(good[7])
    flipped[300] ^= 0x04                                 # bit flip in samples
    out += flipped
    out += good[12]
    dropped = bytearray(good[8])
    del dropped[12]                                      # dropped byte
    out += dropped
    inserted = bytearray(good[13])
    inserted.insert(5, 0x00)                             # inserted delimiter splits a frame
    out += inserted
    dup = bytearray(good[16])
    dup.insert(9, dup[9])                                # duplicated byte
    out += dup
    out += bytes(rng.randrange(1, 256) for _ in range(MAX_ENCODED + 50)) + b"\x00"   # oversize
    out += good[17]
    out += bytes(rng.randrange(1, 256) for _ in range(2 * MAX_ENCODED)) + good[18]   # oversize, eats frame
    out += good[19]
    out += raw_frame(2, FrameType.STOP, b"", seq=100)                                # wrong version
    out += raw_frame(2, FrameType.HELLO, fs[0].payload() + b"v2 field", seq=101)     # newer HELLO: read
    out += raw_frame(1, 0x42, b"abc", seq=102)                                       # unknown type
    out += raw_frame(1, FrameType.STOP, b"", seq=103, plen=5)                        # wrong payload_len
    out += raw_frame(1, FrameType.ACK, b"\x06" * 7, seq=104)                         # short ACK
    out += raw_frame(1, FrameType.SAMPLES, b"\x00" * 9, seq=105)                     # odd SAMPLES
    out += raw_frame(1, FrameType.ALERT, struct.pack("<IQQHBB", 1, 5, 4, 10, 0, 0), seq=106)  # offset<onset
    out += raw_frame(1, FrameType.ALERT, struct.pack("<IQQHBB", 1, 0, 0, 10001, 0, 0), seq=107)  # conf>1
    out += raw_frame(1, FrameType.ERROR, struct.pack("<HBx", 1, 2) + b"\xc3\x28", seq=108)  # bad UTF-8
    out += raw_frame(1, FrameType.HELLO, fs[0].payload()[:12], seq=109)              # truncated HELLO
    out += raw_frame(1, FrameType.START, struct.pack("<BxHI", 1, MAX_SAMPLES + 1, 0), seq=110)
    out += raw_frame(1, FrameType.STOP, b"", seq=111, bad_crc=True)                  # CRC error
    # A 0x01 after a short final block is not redundant: it decodes to an extra 0x00, CRC fails.
    out += raw_frame(1, FrameType.STOP, b"", seq=112, trailing_one=True)
    out += b"\x05\x01\x00"                                                           # bad COBS code
    out += b"\x01\x01\x00"                                                           # too short
    out += good[20] + good[21] + good[22]
    out += good[24][:-1]                                                             # cut, no delimiter
    return bytes(out)


def main() -> None:
    fs = frames()
    (HERE / "frames.txt").write_text("".join(to_line(f) + "\n" for f in fs))
    (HERE / "frames.bin").write_bytes(b"".join(encode(f) for f in fs))
    stream = corrupted_stream()
    dec = Decoder()
    got = dec.feed(stream)
    (HERE / "corrupted.bin").write_bytes(stream)
    (HERE / "corrupted.txt").write_text("".join(to_line(f) + "\n" for f in got) + stats_line(dec.stats) + "\n")
    print(f"{len(fs)} frames, corrupted stream {len(stream)} bytes -> {len(got)} frames; {dec.stats}")


if __name__ == "__main__":
    main()
