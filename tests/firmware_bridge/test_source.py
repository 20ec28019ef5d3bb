"""WavSource and the SampleBlock contract."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from firmware_bridge.host.source import Pacer, SampleBlock, SampleSource, WavSource, parse_speed, read_wav_int16


def write_wav(path, pcm, rate=8000, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())


def test_wav_source_reads_every_sample_in_order(tmp_path):
    pcm = (np.arange(1000) * 37 % 65536 - 32768).astype(np.int16)
    write_wav(tmp_path / "a.wav", pcm)
    src = WavSource(tmp_path / "a.wav", speed=None, block=300, uv_per_lsb=0.5)
    assert isinstance(src, SampleSource)
    assert src.sample_rate == 8000 and src.uv_per_lsb == 0.5
    blocks = []
    with pytest.raises(EOFError):
        while True:
            blocks.append(src.read_block())
    assert [b.first_index for b in blocks] == [0, 300, 600, 900]
    assert all(b.gap_before == 0 for b in blocks)
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), pcm)
    src.close()
    src.close()  # idempotent
    with pytest.raises(EOFError):
        src.read_block()


def test_wav_source_picks_channel(tmp_path):
    stereo = np.stack([np.arange(50), -np.arange(50)], axis=1).astype(np.int16)
    write_wav(tmp_path / "s.wav", stereo.ravel(), channels=2)
    pcm, rate = read_wav_int16(tmp_path / "s.wav", channel=1)
    assert rate == 8000
    np.testing.assert_array_equal(pcm, -np.arange(50))


def test_wav_source_rejects_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        WavSource(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="not a WAV file"):
        WavSource(tmp_path / "junk.wav")
    (tmp_path / "alaw.wav").write_bytes(b"RIFF\x2e\0\0\0WAVEfmt \x10\0\0\0\x06\0\x01\0\x40\x1f\0\0\x40\x1f\0\0"
                                        b"\x01\0\x08\0data\x02\0\0\0\0\0")
    with pytest.raises(ValueError, match=r"unsupported WAV encoding \(format tag 6, 8 bits\)"):
        WavSource(tmp_path / "alaw.wav")
    write_wav(tmp_path / "mono.wav", np.zeros(10))
    with pytest.raises(ValueError, match="channel 1 requested; the file has 1 channel"):
        WavSource(tmp_path / "mono.wav", channel=1)


class FakeClock:
    def __init__(self):
        self.t = 100.0
        self.slept = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept.append(s)
        self.t += s


def test_pacer_releases_samples_at_speed_times_rate():
    clk = FakeClock()
    p = Pacer(1000, 2.0, clock=clk, sleep=clk.sleep)
    assert p.wait_until(0, timeout=0)  # clock starts now
    assert not p.wait_until(1000, timeout=0.1)  # due in 0.5 s
    assert clk.slept == [0.1]
    assert p.wait_until(1000, timeout=None)
    assert clk.t == pytest.approx(100.5)
    unpaced = Pacer(1000, None, clock=clk, sleep=clk.sleep)
    assert unpaced.wait_until(10**9, timeout=0)


def test_paced_wav_source_returns_none_before_due(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(8000, np.int16))
    src = WavSource(tmp_path / "a.wav", speed=1.0, block=4000)
    assert src.read_block(timeout=0) is None  # first block is due only after 0.5 s
    src.close()


@pytest.mark.parametrize("text,expected", [("1", 1.0), ("10", 10.0), ("max", None), (None, None), (2.5, 2.5)])
def test_parse_speed(text, expected):
    assert parse_speed(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "fast", "nan"])
def test_parse_speed_rejects(text):
    with pytest.raises(ValueError, match="speed"):
        parse_speed(text)


def test_sample_block_validates():
    b = SampleBlock(10, np.zeros(5, np.int16), 2)
    assert b.end_index == 15
    with pytest.raises(ValueError):
        SampleBlock(0, np.zeros(5, np.float32), 0)
    with pytest.raises(ValueError):
        SampleBlock(-1, np.zeros(5, np.int16), 0)


def test_wav_source_scale_from_comment_parameter_or_unknown(tmp_path):
    from convert.recordings import write_wav as write_commented

    pcm = (np.arange(501) * 13 % 2000 - 1000).astype(np.int16)  # odd length: padded data chunk
    write_commented(tmp_path / "c.wav", pcm, 8000, uv_per_lsb=0.1)
    with WavSource(tmp_path / "c.wav", speed=None) as src:
        assert (src.uv_per_lsb, src.uv_per_lsb_source) == (0.1, "wav-comment")
        np.testing.assert_array_equal(src.read_block().samples, pcm[:441])
    with WavSource(tmp_path / "c.wav", speed=None, uv_per_lsb=2.0) as src:  # the parameter wins
        assert (src.uv_per_lsb, src.uv_per_lsb_source) == (2.0, "parameter")
    write_wav(tmp_path / "plain.wav", pcm)  # stdlib wave: no comment
    with WavSource(tmp_path / "plain.wav", speed=None) as src:
        assert (src.uv_per_lsb, src.uv_per_lsb_source) == (None, "unknown")


def test_wavinfo_reads_what_convert_writes(tmp_path):
    from convert.recordings import read_wav
    from convert.recordings import write_wav as write_commented
    from firmware_bridge.host.wavinfo import read_uv_per_lsb

    write_commented(tmp_path / "a.wav", np.zeros(10, np.int16), 8000, uv_per_lsb=0.37, bits=24)
    assert read_uv_per_lsb(tmp_path / "a.wav") == 0.37 == read_wav(tmp_path / "a.wav")[2]["uv_per_lsb"]
    (tmp_path / "x.wav").write_bytes(b"RIFX" + bytes(4) + b"WAVE" + bytes(32))
    with pytest.raises(ValueError, match="RIFX"):
        read_uv_per_lsb(tmp_path / "x.wav")


def test_read_wav_int16_all_channels_as_steps_by_channels(tmp_path):
    stereo = np.stack([np.arange(50), -np.arange(50)], axis=1).astype(np.int16)
    write_wav(tmp_path / "s.wav", stereo.ravel(), channels=2)
    pcm, rate = read_wav_int16(tmp_path / "s.wav", channel=None)
    assert rate == 8000 and pcm.shape == (50, 2)
    np.testing.assert_array_equal(pcm, stereo)
