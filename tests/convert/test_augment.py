"""Mixing carries labels and events; chain copies in the training set keep the device's integer
features and labels. (Gain, noise, hum and band-limiting moved to the recording chain:
tests/convert/test_chain.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from convert.augment import mix_episode
from convert.recording import Recording, Segment


def _rec(n=8000, rate=44100, value=1000, segments=(), events=()):
    pcm = (np.sin(np.arange(n) * 2 * np.pi * 3000 / rate) * value).astype(np.int16)
    return Recording(pcm=pcm, sample_rate=rate, uv_per_lsb=0.5, segments=list(segments),
                     meta={"events": list(events)})


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


def _fe():
    from convert.trainset import default_frontend_config, window_config

    return default_frontend_config(44100), window_config(1.0, 0.5)


def test_chain_copies_are_counted_deterministic_and_keep_labels():
    from convert.trainset import features

    fe, w = _fe()
    recs = [_rec(n=44100 * 3, segments=[Segment(0.0, 3.0, "voluntary_muap")]),
            _rec(n=44100 * 3, value=3000, segments=[Segment(0.5, 2.5, "fibrillation")],
                 events=[(t, "fibrillation") for t in np.arange(0.6, 2.4, 0.05)])]
    clean = features(recs, fe, w)
    both = features(recs, fe, w, augment_copies=2, seed=5)
    again = features(recs, fe, w, augment_copies=2, seed=5)
    only = features(recs, fe, w, augment_copies=1, seed=5, keep_clean=False, p_mix=0.0)
    assert len(both.names) == 6 and sum("+chain" in n for n in both.names) == 4
    assert len(only.names) == 2 and all("+chain" in n for n in only.names)
    np.testing.assert_array_equal(both.X, again.X)
    assert both.X.dtype == clean.X.dtype and both.X.shape[1:] == clean.X.shape[1:]
    # a copy's windows carry its source's labels (mixing only into recordings without pathology)
    assert set(only.y[only.groups == 1].tolist()) <= set(clean.y[clean.groups == 1].tolist()) | {0}
    with pytest.raises(ValueError, match="keep_clean"):
        features(recs, fe, w, keep_clean=False)
