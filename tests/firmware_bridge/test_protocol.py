"""Unit tests of the wire protocol codec (firmware_bridge.codec: frames, framing, cobs, crc)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.codec import cobs
from firmware_bridge.codec.crc import CRC32_CHECK, crc32, crc32_bitwise
from firmware_bridge.codec import (
    MAX_ENCODED, MAX_PAYLOAD, MAX_SAMPLES, PROTOCOL_VERSION, Ack, Alert, Config, ConfigKey,
    Decoder, Error, ErrorCode, FrameError, FrameType, Heartbeat, Hello, HelloRequest, Nack,
    QemgSummary, Samples, Start, Stop, decode_frame, encode,
)


def example_frames() -> list:
    sine = np.round(1000 * np.sin(np.arange(480) * 2 * np.pi / 48)).astype(np.int16)
    return [
        Hello("unit-1", "1.2.3", 48000, 16, 0.125, 1, seq=1),
        HelloRequest(seq=2),
        Start(PROTOCOL_VERSION, 48000, 480, seq=3),
        Stop(seq=4),
        Samples(2**40 + 5, sine, seq=5),
        Alert(7, "fibrillation", 0.9, 100, 4900, 2, seq=6),
        Ack(FrameType.ALERT, 7, seq=7),
        Nack(FrameType.CONFIG, 11, ErrorCode.UNSUPPORTED_CONFIG, seq=8),
        Heartbeat(123456, 1, 9999, 3, seq=9),
        Error(ErrorCode.OVERRUN, "sample buffer overrun", seq=10),
        Config(ConfigKey.SAMPLES_PER_FRAME, 240, seq=11),
        QemgSummary(1, 48000, 348000, 5, 2, 2, 640, 95, 2000, 1150, 0.9, seq=12),
    ]


def test_crc32_check_value():
    assert crc32(b"123456789") == CRC32_CHECK == 0xCBF43926
    assert crc32_bitwise(b"123456789") == CRC32_CHECK


@pytest.mark.parametrize("data, wire", [
    # Examples from the COBS literature (Wikipedia "Consistent Overhead Byte Stuffing").
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
])
def test_cobs_known_vectors(data, wire):
    assert cobs.encode(data) == wire
    assert cobs.decode(wire) == data


def test_cobs_accepts_the_non_canonical_final_ff_block():
    # Some encoders emit 0x01 after a final 254-byte run; it decodes to nothing.
    assert cobs.decode(b"\xff" + bytes(range(1, 255)) + b"\x01") == bytes(range(1, 255))


def test_cobs_rejects_bad_blocks():
    for bad in (b"", b"\x03\x11", b"\x02\x00", b"\x05\x11\x22"):
        with pytest.raises(cobs.CobsError):
            cobs.decode(bad)


def test_round_trip_every_type_any_chunking():
    frames = example_frames()
    assert {type(f).TYPE for f in frames} == set(FrameType)
    wire = b"".join(encode(f) for f in frames)
    for chunk in (1, 3, 64, len(wire)):
        dec = Decoder()
        out = []
        for i in range(0, len(wire), chunk):
            out += dec.feed(wire[i:i + chunk])
        assert out == frames
        assert dec.stats.frames == len(frames)
        assert dec.stats.dropped_frames == 0 and dec.stats.dropped_bytes == 0
    for f in frames:
        assert decode_frame(encode(f)) == f


def test_wire_layout_of_a_samples_frame():
    wire = encode(Samples(0x0102030405060708, np.array([1, -2], np.int16), seq=0x0A0B0C0D))
    assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1]
    body = cobs.decode(wire[:-1])
    assert body[:10] == bytes([1, FrameType.SAMPLES, 0, 0, 0x0D, 0x0C, 0x0B, 0x0A, 12, 0])
    assert body[10:18] == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert body[18:22] == b"\x01\x00\xfe\xff"
    assert int.from_bytes(body[22:], "little") == crc32(body[:22])


def test_quantised_fields_are_stored_as_on_the_wire():
    a = Alert(1, "x", 0.123456, 0, 0, 0)
    assert a.confidence == 0.1235
    h = Hello("d", "f", 44100, 16, 0.1, 1)
    assert h.uv_per_lsb == float(np.float32(0.1))
    assert decode_frame(encode(a)) == a and decode_frame(encode(h)) == h


@pytest.mark.parametrize("make", [
    lambda: Samples(0, np.zeros(MAX_SAMPLES + 1, np.int16)),
    lambda: Samples(0, np.zeros(0, np.int16)),
    lambda: Samples(-1, np.zeros(1, np.int16)),
    lambda: Samples(0, np.array([40000])),
    lambda: Alert(1, "x", 1.5, 0, 0, 0),
    lambda: Alert(1, "x", 0.5, 10, 5, 0),
    lambda: Alert(1, "x" * 65, 0.5, 0, 0, 0),
    lambda: Hello("d", "f", 0, 16, 0.1, 1),
    lambda: Hello("d", "f", 48000, 16, -1.0, 1),
    lambda: Config(ConfigKey.SAMPLE_RATE, 2**31),
    lambda: Ack(FrameType.ALERT, -1),
    lambda: Stop(seq=2**32),
])
def test_out_of_range_fields_name_the_value(make):
    with pytest.raises(FrameError, match=r"must|exceeds"):
        make()


def test_encode_revalidates_mutated_frames():
    f = Stop()
    f.seq = -5
    with pytest.raises(FrameError, match="seq"):
        encode(f)


def test_max_size_samples_frame_fits_the_decoder_bound():
    f = Samples(1, np.full(MAX_SAMPLES, 0x0101, np.int16))  # no zero bytes: worst COBS case
    wire = encode(f)
    assert len(wire) - 1 <= MAX_ENCODED
    assert len(f.payload()) <= MAX_PAYLOAD
    assert Decoder().feed(wire) == [f]


def test_corrupted_frame_is_dropped_and_decoder_resyncs():
    frames = example_frames()
    wires = [encode(f) for f in frames]
    bad = bytearray(wires[4])
    bad[100] ^= 0x10
    dec = Decoder()
    out = dec.feed(wires[3] + bytes(bad) + wires[5])
    assert out == [frames[3], frames[5]]
    assert dec.stats.crc_errors + dec.stats.cobs_errors == 1
    assert dec.stats.dropped_bytes == len(bad) - 1


def test_garbage_without_delimiter_is_bounded_and_counted():
    dec = Decoder()
    for _ in range(10):
        assert dec.feed(b"\x55" * 1000) == []
        assert dec.buffered <= MAX_ENCODED
    good = encode(Stop(seq=1))
    assert dec.feed(b"\x00" + good) == [Stop(seq=1)]
    assert dec.stats.oversize == 1 and dec.stats.dropped_bytes == 10_000


def test_unknown_type_wrong_version_and_bad_length_are_counted():
    import struct
    import zlib

    def raw(version, ftype, payload, plen=None):
        body = struct.pack("<BBBBIH", version, ftype, 0, 0, 0, len(payload) if plen is None else plen)
        body += payload
        return cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"

    dec = Decoder()
    assert dec.feed(raw(1, 0x7F, b"") + raw(2, FrameType.STOP, b"") + raw(1, FrameType.STOP, b"", 3)
                    + raw(1, FrameType.ACK, b"\x00" * 7) + raw(1, FrameType.STOP, b"")) == [Stop()]
    s = dec.stats
    assert (s.unknown_type, s.version_errors, s.length_errors, s.malformed) == (1, 1, 1, 1)


def test_newer_hello_with_appended_fields_is_still_read():
    import struct
    import zlib
    payload = Hello("d", "f", 48000, 16, 0.5, 1, protocol_version=3).payload() + b"future"
    body = struct.pack("<BBBBIH", 3, FrameType.HELLO, 0, 0, 9, len(payload)) + payload
    wire = cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"
    (h,) = Decoder().feed(wire)
    assert h.protocol_version == 3 and h.sample_rate == 48000 and h.seq == 9


def test_worked_examples_in_protocol_md_are_what_the_codec_sends():
    from pathlib import Path
    import re
    doc = (Path(__file__).resolve().parents[2] / "firmware_bridge" / "PROTOCOL.md").read_text()
    wires = [bytes.fromhex(" ".join(m.split())) for m in
             re.findall(r"wire: +((?:[0-9a-f]{2} ?)+(?:\n +(?:[0-9a-f]{2} ?)+)*)", doc)]
    frames = [Stop(seq=1), Ack(FrameType.ALERT, 7, seq=42),
              Samples(1000, np.array([0, 1, -1, 256], np.int16), seq=5),
              Alert(7, "fibrillation", 0.9, 48000, 52800, 2, seq=3),
              QemgSummary(7, 48000, 348000, 4, 3, 3, 1234, 142, 2500, 1133, 0.87, seq=3)]
    assert wires == [encode(f) for f in frames]


def test_documented_protocol_module_reexports_the_codec():
    import firmware_bridge.codec as codec
    import firmware_bridge.protocol as protocol

    assert protocol.__all__ == codec.__all__
    for name in codec.__all__:
        assert getattr(protocol, name) is getattr(codec, name), name
