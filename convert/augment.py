"""Waveform augmentation before the front-end (training data only) that is not the recording
chain: mixing a pathological episode into another recording's background.

Gain, noise, mains hum, band-limiting, filters, polarity and the stored scale are the recording
chain (:mod:`convert.chain`), drawn per augmented copy in :func:`convert.trainset.features`.
Each function takes and returns a :class:`convert.recording.Recording` (int16 PCM, labels
kept), so the model trains on the exact integer features the device computes from such a signal.
Times in seconds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from convert.recording import Recording, Segment
from convert.taxonomy import PATHOLOGICAL


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _with_pcm(rec: Recording, pcm: np.ndarray, tag: str) -> Recording:
    meta = dict(rec.meta)
    meta["augment"] = list(meta.get("augment", [])) + [tag]
    return replace(rec, pcm=pcm, meta=meta)


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
