"""Hypothesis properties of the protocol codec: round trip, garbage safety, resync, bounds."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.codec import cobs
from firmware_bridge.codec.frametext import from_line, to_line
from firmware_bridge.host.gaps import GapTracker
from firmware_bridge.codec import (
    MAX_ENCODED, MAX_SAMPLES, Ack, Alert, Config, Decoder, Error, FrameType, Heartbeat, Hello,
    HelloRequest, Nack, Samples, Start, Stop, encode,
)

U8 = st.integers(0, 255)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, 2**64 - 1)


def text(max_bytes: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_bytes // 4)  # a code point is at most 4 UTF-8 bytes


@st.composite
def alerts(draw):
    onset = draw(U64)
    return Alert(draw(U32), draw(text(64)), draw(st.floats(0.0, 1.0)), onset,
                 draw(st.integers(onset, 2**64 - 1)), draw(U8), seq=draw(U32))


samples = st.builds(
    Samples, U64,
    st.lists(st.integers(-32768, 32767), min_size=1, max_size=MAX_SAMPLES).map(
        lambda v: np.array(v, np.int16)),
    seq=U32)

frames = st.one_of(
    st.builds(Hello, text(32), text(32), st.integers(1, 0xFFFFFFFF), st.integers(1, 32),
              st.floats(1e-6, 1e6, allow_nan=False), st.integers(1, 255), st.integers(1, 255), U32),
    st.builds(HelloRequest, st.integers(1, 255), U32),
    st.builds(Start, st.integers(1, 255), U32, st.integers(0, MAX_SAMPLES), U32),
    st.builds(Stop, U32),
    samples,
    alerts(),
    st.builds(Ack, st.sampled_from(list(FrameType)), U32, U32),
    st.builds(Nack, st.sampled_from(list(FrameType)), U32, U16, U32),
    st.builds(Heartbeat, U32, U8, U64, U32, U32),
    st.builds(Error, U16, text(128), U32),
    st.builds(Config, U16, st.integers(-(2**31), 2**31 - 1), U32),
)


def feed_chunked(dec: Decoder, data: bytes, cuts: list[int]) -> list:
    out = []
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for a, b in zip(bounds, bounds[1:]):
        out += dec.feed(data[a:b])
        assert dec.buffered <= MAX_ENCODED
    return out


@settings(max_examples=300, deadline=None)
@given(frames)
def test_round_trip_every_type(frame):
    wire = encode(frame)
    assert wire[-1] == 0 and 0 not in wire[:-1]
    (back,) = Decoder().feed(wire)
    assert back == frame and type(back) is type(frame)
    assert encode(back) == wire
    assert from_line(to_line(frame)) == frame


@settings(max_examples=100, deadline=None)
@given(st.lists(frames, max_size=8), st.lists(st.integers(0, 5000), max_size=20))
def test_any_chunking_gives_the_same_frames(fs, cuts):
    wire = b"".join(encode(f) for f in fs)
    dec = Decoder()
    assert feed_chunked(dec, wire, cuts) == fs
    assert dec.stats.dropped_bytes == 0 and dec.stats.dropped_frames == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000), st.lists(st.integers(0, 4000), max_size=10), frames)
def test_any_bytes_are_safe_and_the_next_frame_after_a_delimiter_decodes(garbage, cuts, frame):
    dec = Decoder()
    feed_chunked(dec, garbage, cuts)           # never raises, bounded
    out = dec.feed(b"\x00" + encode(frame))
    assert out[-1] == frame                    # resync at the next delimiter


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=MAX_ENCODED))
def test_cobs_decode_of_any_block_either_rejects_it_or_inverts_encode(block):
    try:
        data = cobs.decode(block)
    except cobs.CobsError:
        with pytest.raises(cobs.CobsError):  # the reference decoder rejects it too
            cobs._decode_loop(block)
        return
    assert len(data) < len(block)
    assert cobs.decode(cobs.encode(data)) == data


def _outcome(fn, block):
    try:
        return fn(block)
    except cobs.CobsError:
        return "error"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=1200),
                 st.binary(max_size=1200).map(lambda b: cobs.encode(b)),
                 st.binary(max_size=1200).map(lambda b: cobs.encode(b) + b"\x01")))
def test_vectorised_cobs_decoder_equals_the_reference_loop(block):
    assert _outcome(cobs._decode_vectorised, block) == _outcome(cobs._decode_loop, block)


def _c_outcome(block):
    try:
        return _ccodec.cobs_decode(block)
    except ValueError:
        return "error"


try:
    from firmware_bridge.codec import _ccodec
except ImportError:  # not built: only allowed where the install had no compiler
    _ccodec = None


def test_compiled_codec_is_built_when_required():
    if _ccodec is None:
        if os.environ.get("EMG_REQUIRE_EXTENSIONS") == "1":
            pytest.fail("firmware_bridge.codec._ccodec did not build (EMG_REQUIRE_EXTENSIONS=1)")
        pytest.skip("firmware_bridge.codec._ccodec not built: Python decoder in use")
    assert cobs.ACCELERATED == (os.environ.get("EMG_BRIDGE_CODEC", "").lower() != "python")


@pytest.mark.skipif(_ccodec is None, reason="firmware_bridge.codec._ccodec not built")
@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=1200),
                 st.binary(max_size=1200).map(lambda b: cobs.encode(b)),
                 st.binary(max_size=1200).map(lambda b: cobs.encode(b) + b"\x01"),
                 st.binary(max_size=1200).map(lambda b: cobs.encode(b)[:-1])))
def test_compiled_cobs_decoder_equals_the_python_one(block):
    """The firmware's C decoder (bound as firmware_bridge.codec._ccodec) accepts exactly the blocks
    the Python decoder accepts and decodes them to the same bytes."""
    assert _c_outcome(block) == _outcome(cobs.decode_python, block)
    assert _outcome(cobs.decode, block) == _outcome(cobs.decode_python, block)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=1200),
                 st.lists(st.sampled_from([0, 1, 2, 255]), max_size=1200).map(bytes),
                 st.lists(st.sampled_from([0, 7]), max_size=1200).map(bytes)))
def test_vectorised_cobs_encoder_equals_the_reference_loop(data):
    assert cobs.encode(data) == cobs._encode_loop(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_cobs_round_trip_and_overhead_bound(data):
    enc = cobs.encode(data)
    assert 0 not in enc
    assert len(enc) <= cobs.max_encoded_size(len(data))
    assert cobs.decode(enc) == data


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20)), min_size=1, max_size=50))
def test_gap_tracker_accounts_for_every_missing_sample(blocks):
    # A stream of contiguous blocks with some dropped: gaps == sum of dropped lengths.
    index, sent, keep = 0, [], []
    for skip_flag, n in blocks:
        sent.append((index, n))
        keep.append(skip_flag % 3 != 0)
        index += n
    keep[0] = True
    g = GapTracker()
    for (first, n), k in zip(sent, keep):
        if k:
            g.update(first, n)
    last_kept = max(i for i, k in enumerate(keep) if k)
    lost = sum(n for (first, n), k in zip(sent[:last_kept], keep[:last_kept]) if not k)
    assert g.gap_samples == lost
    assert g.received_samples + g.gap_samples == sent[last_kept][0] + sent[last_kept][1]
