"""edge.resample: chunk invariance, exact lengths and timing, pass-band gain, stop-band attenuation."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edge.resample import STOPBAND_DB, StreamResampler, design_filter, ratio, resample

RATE_PAIRS = [(44100, 16000), (48000, 44100), (16000, 44100), (22050, 44100), (44100, 22050)]


def _tone(freq_hz, rate, seconds, amp=1.0):
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq_hz * t)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


@settings(max_examples=40, deadline=None)
@given(
    pair=st.sampled_from(RATE_PAIRS),
    data=st.data(),
)
def test_any_chunking_gives_identical_output(pair, data):
    n = data.draw(st.integers(0, 3000), label="n")
    seed = data.draw(st.integers(0, 2**31), label="seed")
    x = np.random.default_rng(seed).integers(-32768, 32768, n).astype(np.int16)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=8), label="cuts"))
    whole = resample(x, *pair)
    rs = StreamResampler(*pair)
    parts = [rs.process(x[a:b]) for a, b in zip([0] + cuts, cuts + [n])]
    parts.append(rs.flush())
    streamed = np.concatenate(parts)
    assert streamed.dtype == np.int16
    assert np.array_equal(streamed, whole)
    assert len(whole) == -(-n * pair[1] // pair[0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), block=st.integers(1, 700))
def test_float_stream_matches_one_shot_bit_for_bit(seed, block):
    x = np.random.default_rng(seed).standard_normal(2500)
    rs = StreamResampler(48000, 44100)
    out = [rs.process(x[i:i + block]) for i in range(0, len(x), block)]
    out.append(rs.flush(dtype=np.float64))
    assert np.array_equal(np.concatenate(out), resample(x, 48000, 44100))


@pytest.mark.parametrize("from_rate,to_rate", RATE_PAIRS)
def test_passband_gain_is_unity_and_timing_is_zero_phase(from_rate, to_rate):
    f_ny = min(from_rate, to_rate) / 2
    for f in (100.0, 1000.0, 0.85 * f_ny):
        x = _tone(f, from_rate, 0.5)
        y = resample(x, from_rate, to_rate)
        ref = _tone(f, to_rate, 0.5)[: len(y)]
        core = slice(len(y) // 8, -len(y) // 8)  # away from the zero-padded ends
        gain_db = 20 * np.log10(_rms(y[core]) / _rms(ref[core]))
        assert abs(gain_db) < 0.01, (f, gain_db)
        # Zero phase: output k is the input at time k / to_rate.
        assert np.max(np.abs(y[core] - ref[core])) < 1e-3


@pytest.mark.parametrize("from_rate,to_rate", [(44100, 16000), (96000, 44100), (44100, 22050)])
def test_stopband_attenuation_against_aliasing(from_rate, to_rate):
    f_ny = to_rate / 2
    for f in (1.1 * f_ny, 1.5 * f_ny, 0.97 * from_rate / 2):  # stop band, below the input Nyquist
        x = _tone(f, from_rate, 0.5)
        y = resample(x, from_rate, to_rate)
        core = y[len(y) // 8: -len(y) // 8]
        atten_db = -20 * np.log10(_rms(core) / _rms(x))
        assert atten_db > STOPBAND_DB - 3, (f, atten_db)


def test_upsampling_suppresses_images():
    x = _tone(7000.0, 16000, 0.5)
    y = resample(x, 16000, 44100)
    core = y[len(y) // 8: -(len(y) // 8)]
    spec = np.abs(np.fft.rfft(core * np.blackman(len(core))))
    freqs = np.fft.rfftfreq(len(core), 1 / 44100)
    image = spec[(freqs > 8800) & (freqs < 22050)].max()  # first image at 16000 - 7000 = 9 kHz
    assert 20 * np.log10(image / spec.max()) < -(STOPBAND_DB - 5)


def test_int16_output_saturates_and_rounds():
    # A full-scale square wave overshoots (Gibbs) after filtering: must clip, not wrap.
    x = np.tile(np.r_[np.full(50, 32767), np.full(50, -32768)], 40).astype(np.int16)
    y = resample(x, 48000, 44100)
    assert y.dtype == np.int16
    assert y.max() == 32767 and y.min() == -32768
    yf = resample(x.astype(np.float64), 48000, 44100)
    assert np.array_equal(y, np.clip(np.rint(yf), -32768, 32767).astype(np.int16))


def test_filter_spec_and_stream_latency():
    up, down = ratio(44100, 16000)
    assert (up, down) == (160, 441)
    h = design_filter(up, down)
    assert len(h) % 2 == 1
    assert abs(h.sum() - up) < 1e-6  # DC gain up at the stuffed rate = unity overall
    rs = StreamResampler(44100, 16000)
    x = np.zeros(1000, dtype=np.int16)
    got = len(rs.process(x))
    # Outputs held back correspond to at most `latency` input samples.
    assert got == (1000 * up - 1 - (len(h) - 1) // 2) // down + 1
    assert 0 < rs.latency < 200
    assert got + len(rs.flush()) == rs.output_length(1000) == -(-1000 * 16000 // 44100)


def test_equal_rates_pass_through():
    x = np.arange(-5, 5, dtype=np.int16)
    assert np.array_equal(resample(x, 44100, 44100), x)
    rs = StreamResampler(16000, 16000)
    assert rs.latency == 0 and np.array_equal(rs.process(x), x)


def test_rates_with_a_small_common_divisor_still_work():
    # 44 100 -> 7 919 Hz (prime): 7919/44100, a 2.2 M-tap filter designed on demand.
    x = _tone(1000.0, 44100, 0.2)
    y = resample(x, 44100, 7919)
    assert len(y) == -(-len(x) * 7919 // 44100)
    ref = np.sin(2 * np.pi * 1000.0 * np.arange(len(y)) / 7919)
    core = slice(len(y) // 8, -(len(y) // 8))
    assert np.max(np.abs(y[core] - ref[core])) < 1e-3


@pytest.mark.parametrize("bad", [(0, 16000), (44100.5, 16000), (44100, -1), (100_003, 99_991)])
def test_bad_rates_name_the_value(bad):
    with pytest.raises(ValueError, match="Hz|ratio"):
        StreamResampler(*bad)


def test_rejects_non_1d_and_integer_types_other_than_int16():
    rs = StreamResampler(48000, 44100)
    with pytest.raises(ValueError, match="1-D"):
        rs.process(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="int16 or float"):
        rs.process(np.zeros(3, dtype=np.int32))
