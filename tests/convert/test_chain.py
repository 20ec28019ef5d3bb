"""The recording chain: validated ranges, deterministic draws, and each stage doing what it says
(filters attenuate, rate and length follow the chain, polarity, gain error, clipping, labels)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert.chain import REAL_RATES_HZ, Chain, ChainConfig, apply_chain
from convert.recording import Recording, Segment

RATE = 44100


def _tone(freq_hz: float, seconds: float = 1.0, amp_lsb: int = 4000, uv_per_lsb: float = 0.5) -> Recording:
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = np.round(amp_lsb * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)
    return Recording(pcm=pcm, sample_rate=RATE, uv_per_lsb=uv_per_lsb,
                     segments=[Segment(0.1, 0.6, "fibrillation")],
                     meta={"events": [(0.2, "fibrillation"), (0.4, "fibrillation")]})


def _plain(**kw) -> Chain:
    """A chain that does nothing but what ``kw`` sets: wide filters, 44.1 kHz, no noise."""
    base = dict(seed=0, sample_rate=RATE, highpass_hz=2.0, highpass_order=1, lowpass_hz=19000.0, lowpass_order=2,
                lowpass_clamped_from_hz=None, gain_error_db=0.0, inverted=False, mains_hz=50.0, hum_uv=0.0,
                hum_harmonics=(0.1, 0.05, 0.03, 0.02), noise_uv=0.0, clip_below_peak_db=None, uv_per_lsb=0.5)
    base.update(kw)
    return Chain(**base)


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


@pytest.mark.parametrize("kw, match", [
    ({"highpass_hz": (20.0, 2.0)}, r"highpass_hz = \(20, 2\) Hz: allowed range is 0.1..200 Hz"),
    ({"lowpass_hz": (100.0, 10000.0)}, r"lowpass_hz = \(100, 10000\) Hz: allowed range is 500..30000"),
    ({"sample_rates_hz": (4000, 500)}, r"sample_rates_hz contains 500 Hz: allowed range is 1000..96000"),
    ({"sample_rates_hz": ()}, r"sample_rates_hz = \(\): need a non-empty tuple"),
    ({"gain_error_db": (-30.0, 6.0)}, r"gain_error_db = \(-30, 6\) dB: allowed range is -20..20 dB"),
    ({"p_invert": 1.5}, r"p_invert = 1.5: allowed range is 0..1"),
    ({"uv_per_lsb": (0.5, 500.0)}, r"uv_per_lsb contains 500.0 µV/LSB: allowed range is 0.01..100"),
    ({"highpass_orders": (1, 7)}, r"highpass_orders contains 7"),
    ({"highpass_hz": (2.0, 600.0)}, r"highpass_hz"),
])
def test_config_validation_names_the_value_and_the_range(kw, match):
    with pytest.raises(ValueError, match=match):
        ChainConfig(**kw)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**40))
def test_a_drawn_chain_is_deterministic_and_inside_its_ranges(seed):
    cfg = ChainConfig()
    a, b = cfg.draw(seed), cfg.draw(seed)
    assert a == b
    assert a.sample_rate in REAL_RATES_HZ and a.uv_per_lsb in cfg.uv_per_lsb
    assert 2.0 <= a.highpass_hz <= 20.0 and a.highpass_order in (1, 2) and a.lowpass_order in (2, 3, 4)
    assert a.lowpass_hz <= 0.45 * a.sample_rate + 1e-6 and a.lowpass_hz <= 10000.0 + 1e-6
    if a.lowpass_clamped_from_hz is not None:
        assert a.lowpass_clamped_from_hz > a.lowpass_hz
    assert -6.0 <= a.gain_error_db <= 6.0


def test_draws_vary_with_the_seed_and_polarity_is_balanced():
    chains = [ChainConfig().draw(s) for s in range(400)]
    assert len({c.sample_rate for c in chains}) == len(REAL_RATES_HZ)
    assert 0.4 < np.mean([c.inverted for c in chains]) < 0.6
    assert all(c.lowpass_clamped_from_hz is not None for c in chains if c.sample_rate == 4000)


@pytest.mark.parametrize("order, lo_db, hi_db", [(4, 23.0, 25.5), (2, 11.0, 13.5)])
def test_a_2khz_lowpass_attenuates_4khz_by_6db_per_order(order, lo_db, hi_db):
    # Butterworth: 20·log10(sqrt(1 + 2^(2·order))) one octave above the edge: 24.1 dB at order 4
    rec = _tone(4000.0)
    out = apply_chain(rec, _plain(lowpass_hz=2000.0, lowpass_order=order))
    n = len(out.pcm) // 4  # skip the filter's start
    loss_db = 20 * np.log10(_rms(rec.pcm[n:]) / max(_rms(out.pcm[n:]), 1e-9))
    assert lo_db < loss_db < hi_db
    # and at a 4 kHz chain rate the archive's anti-alias filter removes the 4 kHz tone entirely
    archived = apply_chain(rec, _plain(lowpass_hz=1800.0, lowpass_order=2, sample_rate=4000))
    assert _rms(archived.pcm[len(archived.pcm) // 4:]) < 0.001 * _rms(rec.pcm)
    passed = apply_chain(_tone(500.0), _plain(lowpass_hz=2000.0, lowpass_order=2))
    assert abs(_rms(passed.pcm[n:]) / _rms(_tone(500.0).pcm[n:]) - 1) < 0.05


def test_a_20hz_highpass_removes_a_slow_drift():
    rec = _tone(2.0, seconds=4.0)
    out = apply_chain(rec, _plain(highpass_hz=20.0, highpass_order=2))
    n = len(out.pcm) // 2
    assert _rms(out.pcm[n:]) < 0.02 * _rms(rec.pcm[n:])


@pytest.mark.parametrize("rate", [4000, 10000, 22050, 48000])
def test_output_rate_and_length_follow_the_chain(rate):
    rec = _tone(300.0, seconds=1.5)
    out = apply_chain(rec, _plain(sample_rate=rate, lowpass_hz=min(9000.0, 0.45 * rate)))
    assert out.sample_rate == rate and out.pcm.dtype == np.int16
    assert len(out.pcm) == int(np.ceil(len(rec.pcm) * rate / RATE))
    assert abs(out.duration_s - rec.duration_s) < 1.0 / rate + 1e-9
    n = len(out.pcm) // 4
    assert abs(_rms(out.pcm[n:-n]) / _rms(rec.pcm) - 1) < 0.03  # 300 Hz passes unchanged


def test_the_lowpass_is_clamped_below_045_of_the_input_rate_and_recorded():
    rec = replace(_tone(300.0), pcm=_tone(300.0).pcm[::4], sample_rate=11025)
    out = apply_chain(rec, _plain(sample_rate=11025, lowpass_hz=9000.0))
    assert out.meta["chain"]["lowpass_applied_hz"] == pytest.approx(0.45 * 11025)


def test_polarity_flips_the_sign():
    rec = _tone(300.0)
    up, down = apply_chain(rec, _plain()), apply_chain(rec, _plain(inverted=True))
    np.testing.assert_array_equal(up.pcm.astype(int), -down.pcm.astype(int))


def test_gain_error_scales_and_the_nominal_scale_is_reported():
    rec = _tone(300.0)
    out = apply_chain(rec, _plain(gain_error_db=6.0, uv_per_lsb=1.0))
    assert out.uv_per_lsb == 1.0
    # µV in the output = µV in the input × 10^(6/20), at the reported 1 µV/LSB
    ratio = _rms(out.pcm[5000:]) * out.uv_per_lsb / (_rms(rec.pcm[5000:]) * rec.uv_per_lsb)
    assert ratio == pytest.approx(10 ** (6 / 20), rel=0.01)


def test_clipping_rails_sit_below_the_peak_and_are_counted():
    rec = _tone(300.0)
    out = apply_chain(rec, _plain(clip_below_peak_db=6.0))
    info = out.meta["chain"]
    peak = np.abs(out.pcm).max()
    assert info["rails_uv"] == pytest.approx(0.5 * 2000.0, rel=0.01)  # 4000 LSB × 0.5 µV, −6 dB
    assert info["clipped_samples"] == int(np.count_nonzero(np.abs(out.pcm) >= peak)) > len(out.pcm) / 4
    loud = apply_chain(_tone(300.0, amp_lsb=30000), _plain(uv_per_lsb=0.1))  # 15 mV at 0.1 µV/LSB
    assert loud.meta["chain"]["saturated_samples"] > 0 and np.abs(loud.pcm).max() == 32767


def test_noise_and_hum_have_their_levels_in_uv():
    silent = Recording(pcm=np.zeros(RATE, np.int16), sample_rate=RATE, uv_per_lsb=0.5)
    n = apply_chain(silent, _plain(noise_uv=10.0, uv_per_lsb=0.25))
    assert _rms(n.pcm) * 0.25 == pytest.approx(10.0, rel=0.05)
    h = apply_chain(silent, _plain(hum_uv=40.0, mains_hz=60.0, sample_rate=10000, lowpass_hz=4000.0))
    spec = np.abs(np.fft.rfft(h.pcm.astype(float)))
    assert np.argmax(spec) == 60  # 1 Hz bins at 1 s: the fundamental dominates


def test_labels_events_and_name_are_unchanged_and_the_chain_is_recorded():
    rec = _tone(300.0)
    chain = ChainConfig().draw(11)
    out = apply_chain(rec, chain)
    assert out.segments == rec.segments and out.meta["events"] == rec.meta["events"] and out.name == rec.name
    assert out.meta["chain"]["seed"] == 11 and out.meta["chain"]["sample_rate"] == chain.sample_rate
    assert "chain" not in rec.meta  # input untouched
    np.testing.assert_array_equal(apply_chain(rec, chain).pcm, out.pcm)  # same chain, same output


def test_a_recordings_chain_record_gives_its_chain_back():
    for seed in range(20):
        chain = ChainConfig().draw(seed)
        assert Chain.from_dict(chain.to_dict()) == chain
        # a recording's meta["chain"] adds what applying the chain did; those keys are ignored
        assert Chain.from_dict({**chain.to_dict(), "clipped_samples": 3, "lowpass_applied_hz": 1.0}) == chain
