"""Waveform augmentation before the front-end (training data only).

Each transform takes and returns a :class:`convert.recording.Recording` (int16 PCM, labels kept),
so the model trains on the exact integer features the device computes from such a signal:

* gain: ×10^(g/20), g uniform in ``gain_db`` (dB); saturates to int16 like an ADC;
* noise: white Gaussian noise of RMS uniform in ``noise_uv`` (µV), i.e. a noisier amplifier;
* hum: mains at 50 or 60 Hz with 3 harmonics, amplitude uniform in ``hum_uv`` (µV);
* band-limiting: down to one of ``bandlimit_rates_hz`` (4–10 kHz archive rates; the resampler
  needs ratios with a large common divisor) and back up with :func:`edge.resample.resample`,
  as archives recorded at 4–10 kHz arrive at the device;
* mixing: a pathological episode added onto another recording's background at a random
  offset, labelled over that background (detection amid background).

Rates in Hz, amplitudes in µV (converted with the recording's ``uv_per_lsb``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from convert.recording import Recording, Segment
from convert.taxonomy import PATHOLOGICAL


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities ``p_*`` in [0, 1] and (low, high) ranges for each transform."""

    p_gain: float = 0.8
    gain_db: tuple[float, float] = (-10.0, 6.0)
    p_noise: float = 0.5
    noise_uv: tuple[float, float] = (1.0, 12.0)
    p_hum: float = 0.4
    hum_uv: tuple[float, float] = (2.0, 40.0)
    p_bandlimit: float = 0.35
    bandlimit_rates_hz: tuple[int, ...] = (4000, 5000, 6000, 8000, 10000)

    def __post_init__(self) -> None:
        for name in ("p_gain", "p_noise", "p_hum", "p_bandlimit"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"AugmentConfig.{name} = {v} out of range [0, 1]")
        for name in ("gain_db", "noise_uv", "hum_uv"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"AugmentConfig.{name} = ({lo}, {hi}): low exceeds high")
        if min(self.noise_uv) < 0 or min(self.hum_uv) < 0:
            raise ValueError("AugmentConfig noise_uv and hum_uv must be >= 0 µV")
        if not self.bandlimit_rates_hz or min(self.bandlimit_rates_hz) < 1000:
            raise ValueError(f"AugmentConfig.bandlimit_rates_hz {self.bandlimit_rates_hz}: need rates >= 1000 Hz")


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _with_pcm(rec: Recording, pcm: np.ndarray, tag: str) -> Recording:
    meta = dict(rec.meta)
    meta["augment"] = list(meta.get("augment", [])) + [tag]
    return replace(rec, pcm=pcm, meta=meta)


def gain(rec: Recording, db: float) -> Recording:
    """Scale by ``db`` decibels, saturating to int16."""
    return _with_pcm(rec, _to_int16(rec.pcm.astype(np.float64) * 10.0 ** (db / 20.0)), f"gain{db:+.1f}dB")


def add_noise(rec: Recording, rms_uv: float, rng: np.random.Generator) -> Recording:
    """Add white Gaussian noise of ``rms_uv`` µV RMS."""
    noise = rng.standard_normal(len(rec.pcm)) * (rms_uv / rec.uv_per_lsb)
    return _with_pcm(rec, _to_int16(rec.pcm + noise), f"noise{rms_uv:.1f}uV")


def add_hum(rec: Recording, amp_uv: float, mains_hz: float, rng: np.random.Generator) -> Recording:
    """Add mains hum: fundamental ``amp_uv`` µV peak, harmonics 2–4 at 1/2, 1/4, 1/8 of it."""
    t = np.arange(len(rec.pcm)) / float(rec.sample_rate)
    hum = np.zeros(len(t))
    for k, rel in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.125)):
        hum += rel * np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi))
    return _with_pcm(rec, _to_int16(rec.pcm + hum * (amp_uv / rec.uv_per_lsb)), f"hum{mains_hz:.0f}Hz")


def bandlimit(rec: Recording, rate_hz: int) -> Recording:
    """Resample to ``rate_hz`` and back (as a recording archived at that rate), same length."""
    from edge.resample import resample

    if rate_hz >= rec.sample_rate:
        return rec
    low = resample(rec.pcm, rec.sample_rate, int(rate_hz))
    back = resample(low, int(rate_hz), rec.sample_rate)
    n = len(rec.pcm)
    back = back[:n] if len(back) >= n else np.concatenate([back, np.zeros(n - len(back), np.int16)])
    return _with_pcm(rec, back.astype(np.int16), f"bandlimit{rate_hz}Hz")


def mix_episode(background: Recording, episode: Recording, at_s: float, episode_gain: float = 1.0) -> Recording:
    """Add ``episode``'s signal onto ``background`` from ``at_s`` seconds (truncated at the end).

    Labels: the background's segments, then the episode's pathological segments shifted by
    ``at_s`` (they win where they overlap: the pathology is what must be detected).
    """
    if episode.sample_rate != background.sample_rate:
        raise ValueError(f"episode rate {episode.sample_rate} Hz differs from background {background.sample_rate} Hz")
    a = int(round(at_s * background.sample_rate))
    if not 0 <= a < len(background.pcm):
        raise ValueError(f"at_s {at_s} s outside the background (0..{background.duration_s:.3f} s)")
    n = min(len(episode.pcm), len(background.pcm) - a)
    scale = episode_gain * episode.uv_per_lsb / background.uv_per_lsb
    out = background.pcm.astype(np.float64)
    out[a:a + n] += episode.pcm[:n] * scale
    end_s = background.duration_s
    segs = list(background.segments)
    for s in episode.segments:
        if s.label in PATHOLOGICAL:
            s0, s1 = s.start_s + at_s, min(s.end_s + at_s, (a + n) / background.sample_rate, end_s)
            if s1 > s0:
                segs.append(Segment(s0, s1, s.label))
    mixed = _with_pcm(background, _to_int16(out), f"mix@{at_s:.2f}s")
    # point events (simulator ground truth) follow the episode, so window labels stay exact
    limit = (a + n) / background.sample_rate
    events = list(background.meta.get("events", []))
    events += [(t + at_s, lab) for t, lab in episode.meta.get("events", [])
               if lab in PATHOLOGICAL and t + at_s < limit]
    mixed.meta["events"] = sorted(events)
    return replace(mixed, segments=segs)


def augment(rec: Recording, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> Recording:
    """Apply a random chain (band-limit, gain, hum, noise; each with its probability)."""
    out = rec
    if rng.random() < cfg.p_bandlimit:
        out = bandlimit(out, int(rng.choice(cfg.bandlimit_rates_hz)))
    if rng.random() < cfg.p_gain:
        out = gain(out, float(rng.uniform(*cfg.gain_db)))
    if rng.random() < cfg.p_hum:
        out = add_hum(out, float(rng.uniform(*cfg.hum_uv)), float(rng.choice([50.0, 60.0])), rng)
    if rng.random() < cfg.p_noise:
        out = add_noise(out, float(rng.uniform(*cfg.noise_uv)), rng)
    return out
