"""firmware_bridge.host.wavfile: every WAV sub-format decoded block by block, scaled to int16; hard errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.io.wavfile
from hypothesis import given, settings, strategies as st

from firmware_bridge.host.wavfile import MAX_RATE_HZ, MIN_RATE_HZ, WavFile, WavFormatError, fraction, to_int16


def wav_24(path, frames: np.ndarray, rate: int = 8000) -> None:
    """A 24-bit PCM WAV of ``frames`` (steps × channels, values in −2^23..2^23−1), packed here
    little-endian three bytes a sample, as the WAV format specifies."""
    v = np.asarray(frames, dtype=np.int64) & 0xFFFFFF
    steps, channels = v.shape
    payload = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=-1).astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 3 * channels, 3 * channels, 24)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload))
            + payload + (b"\0" if len(payload) & 1 else b""))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_all(path, block: int) -> np.ndarray:
    with WavFile(path) as w:
        parts = [w.read(i, block) for i in range(0, w.n_frames, block)]
        return np.concatenate(parts) if parts else np.zeros((0, w.channels))


FORMATS = {  # dtype scipy writes → (bits, float?)
    "uint8": (8, False), "int16": (16, False), "int32": (32, False), "float32": (32, True), "float64": (64, True),
}


@pytest.mark.parametrize("dtype", sorted(FORMATS))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_sub_format_round_trips_through_scipy_in_any_blocks(tmp_path, dtype, channels):
    rng = np.random.default_rng(channels)
    if dtype.startswith("float"):
        x = rng.uniform(-1, 1, (1000, channels)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (1000, channels), endpoint=True).astype(dtype)
    scipy.io.wavfile.write(tmp_path / "x.wav", 16000, x if channels > 1 else x[:, 0])
    with WavFile(tmp_path / "x.wav") as w:
        assert (w.bits, w.is_float, w.channels, w.sample_rate, w.n_frames) == (*FORMATS[dtype], channels, 16000, 1000)
        assert w.uv_per_lsb is None
    for block in (1, 333, 1000, 5000):
        got = read_all(tmp_path / "x.wav", block)
        assert got.dtype == x.dtype and np.array_equal(got, x)
    # int16 at 32768 steps per full scale: the same fraction whatever the encoding.
    with WavFile(tmp_path / "x.wav") as w:
        pcm, clipped = w.read_int16(0, 1000, channels - 1)
    expect = np.clip(np.rint(fraction(x[:, channels - 1]) * 32768), -32768, 32767)
    assert np.array_equal(pcm, expect.astype(np.int16))
    assert clipped == int(np.count_nonzero(np.rint(fraction(x[:, channels - 1]) * 32768) > 32767))


def test_exact_encodings_keep_every_value():
    assert np.array_equal(to_int16(np.array([0, 128, 255, 192], np.uint8))[0], [-32768, 0, 32512, 16384])
    x = np.array([-32768, -1, 0, 32767], np.int16)
    assert np.array_equal(to_int16(x)[0], x) and to_int16(x)[1] == 0


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-(1 << 23), (1 << 23) - 1), min_size=1, max_size=200),
       channels=st.integers(1, 3), block=st.integers(1, 250))
def test_int24_packing_round_trips(tmp_path_factory, values, channels, block):
    n = len(values) // channels or 1
    frames = np.resize(np.array(values, dtype=np.int64), n * channels).reshape(n, channels)
    path = tmp_path_factory.mktemp("w24") / "x.wav"
    wav_24(path, frames)
    got = read_all(path, block)
    assert got.dtype == np.int32 and np.array_equal(got, frames << 8)  # scipy left-justifies 24 bit
    with WavFile(path) as w:
        pcm, _ = w.read_int16(0, n, channels - 1)
    # 2^8 of the file's steps per int16 step: half to even, saturating at the top.
    expect = np.clip(np.rint(frames[:, channels - 1] / 256.0), -32768, 32767).astype(np.int16)
    assert np.array_equal(pcm, expect)


def test_truncated_data_chunk_is_a_hard_error(tmp_path):
    scipy.io.wavfile.write(tmp_path / "x.wav", 8000, np.zeros(1000, np.int16))
    data = (tmp_path / "x.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-501])
    with pytest.raises(WavFormatError, match=r"cut\.wav: truncated: the data chunk declares 2000 bytes but only "
                                             r"1499 are in the file \(501 missing\)"):
        WavFile(tmp_path / "cut.wav")


@pytest.mark.parametrize("rate", [0, MIN_RATE_HZ - 1, MAX_RATE_HZ + 1])
def test_rate_outside_the_one_range_is_refused(tmp_path, rate):
    scipy.io.wavfile.write(tmp_path / "r.wav", rate, np.zeros(10, np.int16))
    with pytest.raises(WavFormatError, match=f"r.wav: sample rate {rate} Hz is outside 1000..384000 Hz"):
        WavFile(tmp_path / "r.wav")


def test_non_finite_float_sample_is_refused_where_it_is_met(tmp_path):
    x = np.zeros(100, np.float32)
    x[70] = np.inf
    scipy.io.wavfile.write(tmp_path / "f.wav", 10000, x)
    with WavFile(tmp_path / "f.wav") as w:
        assert w.read_int16(0, 50, 0)[0].size == 50
        with pytest.raises(WavFormatError, match=r"f.wav: 1 samples are NaN or infinite \(first at sample 70, "
                                                 r"0.007 s\)"):
            w.read_int16(50, 50, 0)


def test_channel_out_of_range_names_the_file_and_count(tmp_path):
    scipy.io.wavfile.write(tmp_path / "s.wav", 8000, np.zeros((10, 2), np.int16))
    with WavFile(tmp_path / "s.wav") as w, pytest.raises(WavFormatError, match="s.wav: channel 2 requested; the "
                                                                               "file has 2 channel"):
        w.read_int16(0, 10, 2)
