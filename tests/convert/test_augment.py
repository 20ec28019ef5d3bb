"""Waveform augmentation keeps int16, lengths and labels; mixing carries labels and events."""

from __future__ import annotations

import numpy as np
import pytest

from convert.augment import AugmentConfig, add_hum, add_noise, augment, bandlimit, gain, mix_episode
from convert.recording import Recording, Segment


def _rec(n=8000, rate=44100, value=1000, segments=(), events=()):
    pcm = (np.sin(np.arange(n) * 2 * np.pi * 3000 / rate) * value).astype(np.int16)
    return Recording(pcm=pcm, sample_rate=rate, uv_per_lsb=0.5, segments=list(segments),
                     meta={"events": list(events)})


def test_gain_saturates_like_an_adc():
    r = gain(_rec(value=20000), 12.0)
    assert r.pcm.dtype == np.int16 and r.pcm.max() == 32767 and r.pcm.min() == -32768
    assert "gain+12.0dB" in r.meta["augment"][0]


def test_noise_and_hum_have_the_requested_level():
    silent = Recording(pcm=np.zeros(44100, np.int16), sample_rate=44100, uv_per_lsb=0.5)
    n = add_noise(silent, 10.0, np.random.default_rng(0))
    assert abs(n.pcm.astype(float).std() * 0.5 - 10.0) < 0.5  # µV RMS
    h = add_hum(silent, 40.0, 50.0, np.random.default_rng(0))
    spec = np.abs(np.fft.rfft(h.pcm.astype(float)))
    assert np.argmax(spec) == 50  # 1 Hz bins: the fundamental dominates


def test_bandlimit_removes_content_above_the_archive_nyquist():
    r = _rec(n=44100)  # 3 kHz tone
    low = bandlimit(r, 4000)  # Nyquist 2 kHz: the tone must go
    assert len(low.pcm) == len(r.pcm) and low.pcm.dtype == np.int16
    assert np.abs(low.pcm[1000:-1000]).max() < 0.01 * np.abs(r.pcm).max()
    kept = bandlimit(r, 10000)
    assert np.abs(kept.pcm[1000:-1000]).max() > 0.9 * np.abs(r.pcm).max()


def test_mix_episode_adds_labels_and_events_shifted():
    bg = _rec(n=44100 * 2, value=0)
    ep = _rec(n=44100, value=300, segments=[Segment(0.1, 0.9, "fibrillation")],
              events=[(0.2, "fibrillation"), (0.95, "fibrillation")])
    m = mix_episode(bg, ep, at_s=0.5)
    assert any(s.label == "fibrillation" and abs(s.start_s - 0.6) < 1e-9 for s in m.segments)
    assert [t for t, _ in m.meta["events"]] == pytest.approx([0.7, 1.45])
    assert np.abs(m.pcm[: int(0.5 * 44100)]).max() == 0  # nothing before the offset
    with pytest.raises(ValueError, match="outside"):
        mix_episode(bg, ep, at_s=5.0)


def test_augment_is_deterministic_from_the_generator():
    r = _rec(n=44100)
    a = augment(r, np.random.default_rng(3))
    b = augment(r, np.random.default_rng(3))
    np.testing.assert_array_equal(a.pcm, b.pcm)
    assert a.segments == r.segments


def test_config_validation():
    with pytest.raises(ValueError, match="p_noise"):
        AugmentConfig(p_noise=1.5)
    with pytest.raises(ValueError, match="gain_db"):
        AugmentConfig(gain_db=(6.0, -6.0))
