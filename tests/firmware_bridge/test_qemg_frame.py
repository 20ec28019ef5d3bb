"""QEMG_SUMMARY (0x0C): golden vectors shared by the Python and C codecs, a hypothesis round
trip, and the refusals of out-of-range fields (PROTOCOL.md §4)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.codec import Decoder, FrameError, FrameType, QemgPattern, QemgSummary, encode
from firmware_bridge.codec.frametext import from_line, to_line

from tests.firmware_bridge.test_c_codec import c_decode_lines, c_encode, cbin, needs_cc, py_decode_lines  # noqa: F401

#: (frame, its text line, its exact wire bytes in hex): the shared golden vectors.
GOLDEN = [
    (QemgSummary(7, 48000, 348000, 4, QemgPattern.NEUROGENIC, QemgPattern.NEUROGENIC, 1234, 142, 2500, 1133,
                 0.87, seq=3),
     "QEMG_SUMMARY seq=3 id=7 start=48000 end=348000 units=4 rule=3 model=3 amp=1234 dur=142 poly=2500 rate=1133 "
     "conf=8700",
     "03010c01020301010222020701010380bb010101010104604f05010101010404030304d2048e0bc4096d04fc21a3f6d17e00"),
    (QemgSummary(0, 0, 0, seq=0),  # an empty stretch summary: no units, no model
     "QEMG_SUMMARY seq=0 id=0 start=0 end=0 units=0 rule=1 model=0 amp=0 dur=0 poly=0 rate=0 conf=0",
     None),
    (QemgSummary(0xFFFFFFFF, 2**64 - 2, 2**64 - 1, 255, 255, QemgPattern.MYOPATHIC, 0xFFFF, 0xFFFF, 10000, 0xFFFF,
                 1.0, seq=0xFFFFFFFF),
     "QEMG_SUMMARY seq=4294967295 id=4294967295 start=18446744073709551614 end=18446744073709551615 units=255 "
     "rule=255 model=4 amp=65535 dur=65535 poly=10000 rate=65535 conf=10000",
     None),
]


def test_golden_frame_encodes_to_its_bytes_and_line():
    frame, line, wire = GOLDEN[0]
    assert encode(frame).hex() == wire
    assert to_line(frame) == line and from_line(line) == frame
    assert len(frame.payload()) == 34 and frame.TYPE == FrameType.QEMG_SUMMARY == 0x0C


def test_python_decoder_reads_the_golden_vectors():
    for frame, line, _ in GOLDEN:
        (got,) = Decoder().feed(encode(frame))
        assert got == frame and to_line(got) == line


@needs_cc
def test_c_codec_matches_the_golden_vectors(cbin):  # noqa: F811 - the fixture
    lines = [line for _, line, _ in GOLDEN]
    wire = b"".join(encode(f) for f, _, _ in GOLDEN)
    assert c_encode(cbin, lines[:1]).hex() == GOLDEN[0][2]
    assert c_encode(cbin, lines) == wire                    # C encoder == Python encoder
    assert c_decode_lines(cbin, wire) == py_decode_lines(wire)  # same frames, same counters
    assert c_decode_lines(cbin, wire)[:-1] == lines


def _random_summary(rng: random.Random, seq: int) -> QemgSummary:
    start = rng.randrange(2**63)
    return QemgSummary(rng.randrange(2**32), start, start + rng.randrange(10**7), rng.randrange(256),
                       rng.randrange(256), rng.randrange(256), rng.randrange(2**16), rng.randrange(2**16),
                       rng.randrange(10001), rng.randrange(2**16), rng.randrange(10001) / 10000, seq=seq)


@needs_cc
def test_c_and_python_agree_on_random_summaries_and_their_corruption(cbin):  # noqa: F811
    rng = random.Random(13)
    frames = [_random_summary(rng, seq) for seq in range(200)]
    lines = [to_line(f) for f in frames]
    wire = b"".join(encode(f) for f in frames)
    assert c_encode(cbin, lines) == wire
    assert py_decode_lines(c_encode(cbin, lines))[:-1] == lines
    bad = bytearray(wire)
    for _ in range(60):  # flipped bits: both decoders drop the same frames and count the same
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
    assert c_decode_lines(cbin, bytes(bad)) == py_decode_lines(bytes(bad))


def test_out_of_range_fields_are_refused():
    with pytest.raises(FrameError, match="polyphasic_hundredth_pct"):
        QemgSummary(1, 0, 10, polyphasic_hundredth_pct=10001)
    with pytest.raises(FrameError, match="amplitude_uv"):
        QemgSummary(1, 0, 10, amplitude_uv=65536)  # the sender saturates; the frame refuses
    with pytest.raises(FrameError, match="end"):
        QemgSummary(1, 10, 9)
    with pytest.raises(FrameError, match="model_confidence"):
        QemgSummary(1, 0, 10, model_confidence=1.5)


def test_a_payload_of_the_wrong_length_or_range_is_malformed():
    good = QemgSummary(1, 0, 10).payload()
    with pytest.raises(FrameError):
        QemgSummary.from_payload(good + b"\x00", 0)
    poly_too_big = good[:28] + (10001).to_bytes(2, "little") + good[30:]
    with pytest.raises(FrameError):
        QemgSummary.from_payload(poly_too_big, 0)


U16 = st.integers(0, 2**16 - 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 255),
       st.integers(0, 255), st.integers(0, 255), U16, U16, st.integers(0, 10000), U16, st.integers(0, 10000),
       st.integers(0, 2**32 - 1))
def test_round_trip(sid, a, b, units, rule, model, amp, dur, poly, rate, conf, seq):
    start, end = min(a, b), max(a, b)
    f = QemgSummary(sid, start, end, units, rule, model, amp, dur, poly, rate, conf / 10000, seq=seq)
    (got,) = Decoder().feed(encode(f))
    assert got == f
    assert from_line(to_line(f)) == f
    assert round(got.model_confidence * 10000) == conf
