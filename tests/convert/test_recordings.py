"""convert.recordings: WAV 8/16/24/32-bit int and float, WFDB, EDF; scales, resampling, bad inputs."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convert.recordings import (DEFAULT_WAV_UV_PER_LSB, RecordingError, read_recording, read_wav,
                                write_wav)
from edge.resample import resample


def _pcm(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, 3000, n), -32768, 32767).astype(np.int16)


def _raw_wav(path, payload: bytes, rate, bits, tag=1, channels=1, extensible=False, data_size=None):
    width = bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, channels, rate, rate * width * channels, width * channels,
                          bits, 22, bits, 0, tag, b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * width * channels, width * channels, bits)
    size = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + payload
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_int16_wav_round_trip_keeps_samples_and_scale(tmp_path):
    x = _pcm()
    write_wav(tmp_path / "a.wav", x, 44100, uv_per_lsb=0.25)
    rec = read_recording(tmp_path / "a.wav")
    assert np.array_equal(rec.pcm, x)
    assert rec.sample_rate == 44100 and rec.uv_per_lsb == 0.25
    assert rec.meta["uv_per_lsb_source"] == "wav-comment" and rec.name == "a"
    # A caller's scale overrides; a file without one gets the documented default.
    assert read_recording(tmp_path / "a.wav", uv_per_lsb=0.1).uv_per_lsb == 0.1
    write_wav(tmp_path / "b.wav", x, 8000)
    rec = read_recording(tmp_path / "b.wav")
    assert rec.uv_per_lsb == DEFAULT_WAV_UV_PER_LSB and rec.meta["uv_per_lsb_source"] == "default"


def test_24_bit_wav_written_and_read_back_exactly(tmp_path):
    x = _pcm()
    write_wav(tmp_path / "a.wav", x, 48000, uv_per_lsb=0.5, bits=24)
    rec = read_recording(tmp_path / "a.wav")
    assert np.array_equal(rec.pcm, x) and rec.meta["bits"] == 24


@pytest.mark.parametrize("bits,tag,dtype,scale", [
    (24, 1, None, 1 << 23), (32, 1, "<i4", 1 << 31), (32, 3, "<f4", 1.0), (64, 3, "<f8", 1.0), (16, 1, "<i2", 1 << 15),
])
@pytest.mark.parametrize("extensible", [False, True])
def test_wav_encodings_map_full_scale_to_int16(tmp_path, bits, tag, dtype, scale, extensible):
    frac = np.array([0.0, 0.5, -0.5, 0.25, -1.0, 0.999, 1e-3])
    if bits == 24:
        v = np.rint(frac * scale).astype(np.int64) & 0xFFFFFF
        payload = np.stack([v & 0xFF, (v >> 8) & 0xFF, v >> 16], 1).astype(np.uint8).tobytes()
    else:
        payload = (np.clip(np.rint(frac * scale), -scale, scale - 1) if tag == 1 else frac).astype(dtype).tobytes()
    _raw_wav(tmp_path / "x.wav", payload, 22050, bits, tag, extensible=extensible)
    rec = read_recording(tmp_path / "x.wav")
    expect = np.clip(np.rint(frac * 32768), -32768, 32767).astype(np.int16)
    assert np.abs(rec.pcm.astype(int) - expect).max() <= 1  # 16-bit rounding of the deeper formats
    assert rec.pcm[1] == 16384 and rec.pcm[4] == -32768


def test_stereo_wav_channel_selection_and_float_clipping(tmp_path):
    left = np.array([0.1, 0.2, 1.5], dtype="<f4")
    right = np.array([-0.1, -0.2, -0.3], dtype="<f4")
    _raw_wav(tmp_path / "s.wav", np.stack([left, right], 1).tobytes(), 16000, 32, tag=3, channels=2)
    assert read_recording(tmp_path / "s.wav", channel=1).pcm[1] == round(-0.2 * 32768)
    rec = read_recording(tmp_path / "s.wav")
    assert rec.pcm[2] == 32767 and rec.meta["clipped_samples"] == 1
    with pytest.raises(RecordingError, match="channel 2 requested; the file has 2"):
        read_recording(tmp_path / "s.wav", channel=2)


def test_truncated_wav_is_a_clear_error(tmp_path):
    x = _pcm(1000)
    write_wav(tmp_path / "a.wav", x, 44100)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) - 500])
    with pytest.raises(RecordingError, match=r"cut\.wav: truncated: the data chunk declares 2000 bytes"):
        read_recording(tmp_path / "cut.wav")
    (tmp_path / "head.wav").write_bytes(data[:30])
    with pytest.raises(RecordingError, match="head.wav: "):
        read_recording(tmp_path / "head.wav")
    (tmp_path / "not.wav").write_bytes(b"hello world, not audio")
    with pytest.raises(RecordingError, match="not a WAV file"):
        read_recording(tmp_path / "not.wav")


def test_unsupported_inputs(tmp_path):
    _raw_wav(tmp_path / "alaw.wav", b"\x00" * 10, 8000, 8, tag=6)
    with pytest.raises(RecordingError, match="unsupported WAV encoding"):
        read_recording(tmp_path / "alaw.wav")
    (tmp_path / "x.mp3").write_bytes(b"ID3")
    with pytest.raises(RecordingError, match="unknown recording type '.mp3'"):
        read_recording(tmp_path / "x.mp3")
    with pytest.raises(FileNotFoundError):
        read_recording(tmp_path / "missing.wav")


def test_rate_below_minimum_is_refused_and_target_rate_resamples(tmp_path):
    x = _pcm(8000)
    write_wav(tmp_path / "lo.wav", x, 8000)
    with pytest.raises(RecordingError, match=r"sampled at 8000 Hz, below the minimum 16000 Hz"):
        read_recording(tmp_path / "lo.wav", min_rate=16000)
    write_wav(tmp_path / "hi.wav", x, 48000, uv_per_lsb=0.5)
    rec = read_recording(tmp_path / "hi.wav", target_rate=44100, min_rate=16000)
    assert rec.sample_rate == 44100 and rec.meta["native_rate"] == 48000
    assert np.array_equal(rec.pcm, resample(x, 48000, 44100))  # the device's resampler, bit for bit


def test_wfdb_physical_units_give_uv_per_lsb(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    t = np.arange(4000) / 10000
    sig_uv = 800 * np.sin(2 * np.pi * 150 * t)
    wfdb.wrsamp("emg", fs=10000, units=["mV"], sig_name=["needle"], p_signal=(sig_uv / 1000)[:, None],
                fmt=["16"], adc_gain=[8000.0], baseline=[10], write_dir=str(tmp_path))
    rec = read_recording(tmp_path / "emg.hea")
    assert rec.sample_rate == 10000
    assert rec.uv_per_lsb == pytest.approx(1000 / 8000)  # 1 mV = 8000 steps
    assert np.max(np.abs(rec.pcm * rec.uv_per_lsb - sig_uv)) <= rec.uv_per_lsb  # within one LSB
    assert rec.meta["uv_per_lsb_source"] == "wfdb-header"
    assert read_recording(tmp_path / "emg.hea", channel="needle").pcm.shape == rec.pcm.shape
    with pytest.raises(RecordingError, match="no channel named 'ecg'"):
        read_recording(tmp_path / "emg.hea", channel="ecg")
    dat = (tmp_path / "emg.dat").read_bytes()
    (tmp_path / "emg.dat").write_bytes(dat[: len(dat) // 2])
    with pytest.raises(RecordingError, match="emg.hea: .*truncated"):
        read_recording(tmp_path / "emg.hea")


def test_edf_physical_range_gives_uv_per_lsb(tmp_path):
    highlevel = pytest.importorskip("pyedflib.highlevel")
    t = np.arange(20000) / 10000
    sig_uv = 1500 * np.sin(2 * np.pi * 90 * t)
    hdr = highlevel.make_signal_header("EMG", dimension="uV", sample_frequency=10000, physical_min=-2000,
                                       physical_max=2000, digital_min=-32768, digital_max=32767)
    highlevel.write_edf(str(tmp_path / "x.edf"), sig_uv[None, :].copy(), [hdr])
    rec = read_recording(tmp_path / "x.edf", target_rate=8000)
    assert rec.meta["native_rate"] == 10000 and rec.sample_rate == 8000
    assert rec.uv_per_lsb == pytest.approx(4000 / 65535)
    direct = read_recording(tmp_path / "x.edf")
    assert np.max(np.abs(direct.pcm * direct.uv_per_lsb - sig_uv)) <= 2 * direct.uv_per_lsb
    # Re-expressed in a caller's scale.
    coarse = read_recording(tmp_path / "x.edf", uv_per_lsb=1.0)
    assert np.max(np.abs(coarse.pcm - sig_uv)) <= 0.6
    data = (tmp_path / "x.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[:-5000])
    with pytest.raises(RecordingError, match="cut.edf: .*truncated"):
        read_recording(tmp_path / "cut.edf")


def test_read_wav_reports_format(tmp_path):
    write_wav(tmp_path / "a.wav", _pcm(10), 16000, uv_per_lsb=1.5)
    x, rate, info = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and info == {"format": "pcm", "bits": 16, "channels": 1, "uv_per_lsb": 1.5}
    assert x.dtype == np.float64 and np.all(np.abs(x) <= 1)


@settings(max_examples=25, deadline=None)
@given(pcm=st.lists(st.integers(-32768, 32767), max_size=300).map(lambda v: np.array(v, dtype=np.int16)),
       bits=st.sampled_from([16, 24]), rate=st.integers(1000, 96000),
       uv=st.floats(0.01, 100.0, allow_nan=False))
def test_write_read_wav_round_trip_property(tmp_path_factory, pcm, bits, rate, uv):
    path = tmp_path_factory.mktemp("wav") / "p.wav"
    write_wav(path, pcm, rate, uv_per_lsb=uv, bits=bits)
    rec = read_recording(path)
    assert np.array_equal(rec.pcm, pcm) and rec.sample_rate == rate and rec.uv_per_lsb == uv


def test_8_bit_unsigned_wav(tmp_path):
    _raw_wav(tmp_path / "u8.wav", bytes([128, 192, 64, 0, 255]), 8000, 8)
    assert list(read_recording(tmp_path / "u8.wav").pcm) == [0, 16384, -16384, -32768, 32512]


def test_float_wav_with_nan_or_inf_is_refused(tmp_path):
    """A damaged float WAV must not turn NaN into silence (0) or inf into full scale."""
    x = np.zeros(1000, dtype="<f4")
    x[10] = np.nan
    _raw_wav(tmp_path / "nan.wav", x.tobytes(), 10000, 32, tag=3)
    with pytest.raises(RecordingError, match=r"nan.wav: 1 samples are NaN or infinite \(first at sample 10"):
        read_recording(tmp_path / "nan.wav")
    x[10], x[20] = 0.0, np.inf
    _raw_wav(tmp_path / "inf.wav", x.tobytes(), 10000, 32, tag=3)
    with pytest.raises(RecordingError, match="NaN or infinite"):
        read_recording(tmp_path / "inf.wav")


@pytest.mark.parametrize("rate", [0, 50, 2_000_000_000])
def test_wav_with_an_absurd_sample_rate_is_refused(tmp_path, rate):
    _raw_wav(tmp_path / "r.wav", _pcm(100).tobytes(), rate, 16)
    with pytest.raises(RecordingError, match=f"sample rate {rate} Hz is outside 1000..384000 Hz"):
        read_recording(tmp_path / "r.wav")


def test_edf_with_a_non_finite_physical_range_is_refused(tmp_path):
    highlevel = pytest.importorskip("pyedflib.highlevel")
    hdr = highlevel.make_signal_header("EMG", dimension="uV", sample_frequency=10000, physical_min=-2000,
                                       physical_max=2000, digital_min=-32768, digital_max=32767)
    highlevel.write_edf(str(tmp_path / "x.edf"), np.zeros((1, 20000)), [hdr])
    data = bytearray((tmp_path / "x.edf").read_bytes())
    # One signal: its physical maximum is the 8 ASCII bytes after label, transducer, unit, minimum.
    at = 256 + 16 + 80 + 8 + 8
    data[at:at + 8] = b"9e99999 "
    (tmp_path / "inf.edf").write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="inf.edf"):
        read_recording(tmp_path / "inf.edf")
