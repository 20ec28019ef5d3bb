"""AdcSource against a test double of the sounddevice module."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from firmware_bridge.host.adc import AdcConfig, AdcSource, import_sounddevice, uv_per_lsb_from_levels
from clikit import UserError
from firmware_bridge.host.source import SampleSource


class FakeStream:
    """Records how it was opened; the test drives the callback as PortAudio would."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.started = self.stopped = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def close(self):
        self.closed = True


class Flags:
    def __init__(self, overflow=False):
        self.input_overflow = overflow


class TimeInfo:
    def __init__(self, adc_time):
        self.inputBufferAdcTime = adc_time


def fake_sd():
    sd = types.SimpleNamespace(streams=[])

    def InputStream(**kwargs):
        if kwargs.get("device") == "missing":
            raise ValueError("No input device matching 'missing'")
        s = FakeStream(**kwargs)
        sd.streams.append(s)
        return s

    sd.InputStream = InputStream
    return sd


def push(stream, first, n, channels=1, overflow=False, rate=1000):
    data = np.zeros((n, channels), np.int16)
    data[:, -1] = np.arange(first, first + n) % 30000
    stream.callback(data, n, TimeInfo(1.0 + first / rate), Flags(overflow))


def test_adc_source_streams_blocks_with_indices():
    sd = fake_sd()
    src = AdcSource(sd=sd, sample_rate=1000, block=100, channels=2, channel=1, uv_per_lsb=0.1)
    assert isinstance(src, SampleSource)
    stream = sd.streams[0]
    assert stream.started
    assert stream.kwargs["dtype"] == "int16" and stream.kwargs["samplerate"] == 1000
    assert stream.kwargs["channels"] == 2 and stream.kwargs["blocksize"] == 100
    assert src.read_block(timeout=0) is None
    push(stream, 0, 100, channels=2)
    push(stream, 100, 100, channels=2)
    a, b = src.read_block(timeout=1), src.read_block(timeout=1)
    assert (a.first_index, a.gap_before, b.first_index, b.gap_before) == (0, 0, 100, 0)
    np.testing.assert_array_equal(b.samples, np.arange(100, 200))
    src.close()
    src.close()
    assert stream.stopped and stream.closed
    with pytest.raises(EOFError):
        src.read_block(timeout=0)


def test_slow_reader_drops_oldest_blocks_and_reports_exact_gap():
    sd = fake_sd()
    src = AdcSource(sd=sd, sample_rate=1000, block=100, queue_s=0.2)  # room for 2 blocks
    stream = sd.streams[0]
    for k in range(5):
        push(stream, 100 * k, 100)
    blocks = [src.read_block(timeout=1) for _ in range(2)]
    assert [b.first_index for b in blocks] == [300, 400]
    assert blocks[0].gap_before == 300 and blocks[1].gap_before == 0
    assert src.stats.dropped_blocks == 3 and src.stats.gap_samples == 300


def test_overflow_gap_estimated_from_adc_timestamps():
    sd = fake_sd()
    src = AdcSource(sd=sd, sample_rate=1000, block=100)
    stream = sd.streams[0]
    push(stream, 0, 100)
    push(stream, 350, 100, overflow=True)  # 250 samples never reached us
    a, b = src.read_block(timeout=1), src.read_block(timeout=1)
    assert b.first_index == 350 and b.gap_before == 250
    assert src.stats.overflows == 1


def test_open_failure_is_a_user_error():
    with pytest.raises(UserError, match="missing"):
        AdcSource(sd=fake_sd(), device="missing")


def test_missing_sounddevice_is_a_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes import fail
    with pytest.raises(UserError, match="libportaudio2"):
        import_sounddevice()


@pytest.mark.parametrize("kw", [dict(sample_rate=10), dict(channel=1), dict(uv_per_lsb=0), dict(block=0)])
def test_config_validation(kw):
    with pytest.raises(ValueError):
        AdcConfig(**kw)


def test_uv_per_lsb_from_levels():
    # 1 V peak full scale, x1000 amplifier: 1e6 µV / 32768 / 1000
    assert uv_per_lsb_from_levels(1.0, 1000.0) == pytest.approx(0.030517578125)
    with pytest.raises(ValueError):
        uv_per_lsb_from_levels(0, 1)
