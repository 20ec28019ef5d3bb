"""convert.windowing: config validation, frame/window geometry, the documented label rule,
and exact integer features sliced from one pass of the real front-end."""

from types import SimpleNamespace

import numpy as np
import pytest

from convert.recording import Recording, Segment
from convert.taxonomy import LABEL_INDEX
from convert.windowing import WindowConfig, label_coverage, label_windows, slice_windows, window_spans

RATE = 8000
I = LABEL_INDEX


def _rec(segments=(), events=None, seconds=10.0):
    meta = {} if events is None else {"events": list(events)}
    return Recording(np.zeros(int(RATE * seconds), np.int16), RATE, 0.5, list(segments), "t", meta)


def _labels(rec, starts, wcfg=None, window=1.0):
    starts = np.asarray(starts, dtype=float)
    return label_windows(rec, starts, starts + window, wcfg or WindowConfig())


@pytest.mark.parametrize("kwargs,match", [
    ({"window_s": 0.0}, "window_s = 0.0: allowed range is 0.05..30 s"),
    ({"hop_s": 2.0}, "hop_s = 2.0: allowed range"),
    ({"hop_s": 0}, "hop_s = 0"),
    ({"min_cover": 0}, "min_cover = 0"),
    ({"min_cover": 1.5}, "min_cover = 1.5"),
    ({"edge_margin_s": 0.6}, "edge_margin_s = 0.6"),
    ({"sparse_labels": ("fasc",)}, "unknown label 'fasc'"),
])
def test_config_validation_names_value_and_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WindowConfig(**kwargs)


def test_config_round_trips_through_dict():
    w = WindowConfig(window_s=0.5, hop_s=0.1, sparse_labels=("fasciculation",), drop_ambiguous=False)
    assert WindowConfig.from_dict(w.to_dict()) == w


def test_frames_and_spans_follow_the_frontend_geometry():
    fcfg = SimpleNamespace(sample_rate=44100, hop_length=441, frame_length=1102)
    w = WindowConfig(window_s=1.0, hop_s=0.25)
    assert w.frames(fcfg) == (100, 25)
    start, end = window_spans(200, fcfg, w)
    assert len(start) == 5  # frames 0..99, 25..124, ..., 100..199
    assert start[1] == pytest.approx(0.25)
    assert end[0] == pytest.approx((99 * 441 + 1102) / 44100)
    assert len(window_spans(99, fcfg, w)[0]) == 0


def test_slice_windows_matches_frame_ranges():
    frames = np.arange(30 * 3, dtype=np.int16).reshape(30, 3)
    X = slice_windows(frames, 10, 4)
    assert X.shape == (6, 10, 3) and X.dtype == np.int16
    for j in range(6):
        assert np.array_equal(X[j], frames[4 * j:4 * j + 10])
    assert slice_windows(frames[:5], 10, 4).shape == (0, 10, 3)


def test_uncovered_time_is_rest_and_background_majority_wins():
    rec = _rec([Segment(2.0, 2.6, "voluntary_muap"), Segment(5.0, 9.0, "endplate_noise")])
    y, amb = _labels(rec, [0.0, 1.7, 1.8, 5.5])
    assert list(y) == [I["rest"], I["voluntary_muap"], I["voluntary_muap"], I["endplate_noise"]]
    assert not amb.any()


def test_dense_pathology_needs_min_cover_and_wins_over_background():
    rec = _rec([Segment(0.0, 10.0, "voluntary_muap"), Segment(3.0, 6.0, "complex_repetitive_discharge")])
    # Windows starting 2.0, 2.5, 2.2, 2.25, 4.0, 5.9 are covered 0, 50, 20, 25, 100, 10 % by CRD.
    y, amb = _labels(rec, [2.0, 2.5, 2.2, 2.25, 4.0, 5.9])
    crd, vol = I["complex_repetitive_discharge"], I["voluntary_muap"]
    assert list(y) == [vol, crd, vol, crd, crd, vol]
    assert list(amb) == [False, False, True, False, False, True]  # touched, not present
    y, _ = _labels(rec, [2.5], WindowConfig(min_cover=0.6))
    assert list(y) == [vol]


def test_dense_class_with_events_needs_an_event_in_the_window():
    # A 0.5 Hz fibrillation episode: potentials at 1, 3, 5 s.
    rec = _rec([Segment(0.5, 6.0, "fibrillation")], events=[(1.0, "fibrillation"), (3.0, "fibrillation"),
                                                          (5.0, "fibrillation")])
    y, amb = _labels(rec, [0.6, 1.5, 2.005])
    assert list(y) == [I["fibrillation"], I["rest"], I["rest"]]  # 2.005: event 3.0 in the 10 ms margin
    assert list(amb) == [False, False, True]  # 1.5-2.5 holds no potential: plain background
    y, _ = _labels(rec, [1.5], WindowConfig(dense_needs_event=False))
    assert list(y) == [I["fibrillation"]]


def test_sparse_fasciculation_is_present_by_event_not_coverage():
    rec = _rec([Segment(0.0, 10.0, "voluntary_muap"), Segment(0.0, 10.0, "fasciculation")],
               events=[(4.3, "fasciculation"), (4.32, "voluntary_muap")])
    y, amb = _labels(rec, [3.5, 5.0, 3.305, 4.295])
    fasc, vol = I["fasciculation"], I["voluntary_muap"]
    assert list(y) == [fasc, vol, vol, vol]
    assert list(amb) == [False, False, True, True]  # event 5 ms from either edge


def test_sparse_class_without_events_uses_its_segment():
    # An Audacity span of 20 ms around one fasciculation, no point labels.
    rec = _rec([Segment(4.29, 4.31, "fasciculation")])
    y, _ = _labels(rec, [3.5, 4.0, 4.305])
    assert list(y) == [I["fasciculation"], I["fasciculation"], I["rest"]]


def test_endplate_spike_beats_other_normal_classes_but_not_pathology():
    rec = _rec([Segment(0.0, 10.0, "endplate_noise"), Segment(6.0, 10.0, "fibrillation")],
               events=[(2.5, "endplate_spike"), (6.5, "endplate_spike")])
    y, _ = _labels(rec, [0.0, 2.0, 6.0])
    assert list(y) == [I["endplate_noise"], I["endplate_spike"], I["fibrillation"]]


def test_most_covered_pathology_wins_ties_to_lower_index():
    rec = _rec([Segment(0.0, 0.6, "myotonic_discharge"), Segment(0.6, 1.0, "positive_sharp_wave"),
                Segment(2.0, 2.5, "myokymic_discharge"), Segment(2.5, 3.0, "fibrillation")])
    y, _ = _labels(rec, [0.0, 2.0])
    assert list(y) == [I["myotonic_discharge"], I["fibrillation"]]


# --- features: the real integer front-end, computed once per recording --------------------

def _fcfg():
    from edge.frontend import FrontendConfig
    return FrontendConfig(sample_rate=16000, window_ms=25.0, hop_ms=10.0, n_mels=32, fmin_hz=20.0, fmax_hz=7000.0)


def test_window_features_equal_frontend_frames_of_the_span():
    from edge.frontend import FEATURE_DTYPE, Frontend

    from convert.windowing import window_recording, windows_of

    fcfg = _fcfg()
    pcm = np.random.default_rng(1).normal(0, 800, 16000 * 3).astype(np.int16)
    rec = Recording(pcm, 16000, 0.5, [Segment(1.0, 2.0, "myotonic_discharge")], "r")
    w = WindowConfig(window_s=1.0, hop_s=0.5, drop_ambiguous=False)
    X, y = window_recording(rec, fcfg, w)
    assert X.dtype == FEATURE_DTYPE and X.shape[1:] == (100, 32)
    full = windows_of(rec, fcfg, w)
    assert len(X) == len(full.start_s) == 4  # frames 0..99, 50..149, 100..199, 150..249 of 298
    for j in range(len(X)):
        a = int(round(full.start_s[j] * 16000))
        b = int(round(full.end_s[j] * 16000))
        # Same integers as running the front-end on just the window's samples.
        assert np.array_equal(X[j], Frontend(fcfg).process(pcm[a:b]))
    assert list(y) == [I["rest"], I["myotonic_discharge"], I["myotonic_discharge"], I["myotonic_discharge"]]


def test_recording_at_another_rate_is_resampled_like_the_device():
    from edge.frontend import Frontend
    from edge.resample import resample

    from convert.windowing import recording_frames

    fcfg = _fcfg()
    pcm = np.random.default_rng(2).normal(0, 800, 44100).astype(np.int16)
    rec = Recording(pcm, 44100, 0.5, [], "r")
    assert np.array_equal(recording_frames(rec, fcfg), Frontend(fcfg).process(resample(pcm, 44100, 16000)))


def test_drop_ambiguous_leaves_out_windows_at_episode_edges():
    from convert.windowing import window_recording, windows_of

    fcfg = _fcfg()
    pcm = np.random.default_rng(3).normal(0, 20, 16000 * 4).astype(np.int16)
    rec = Recording(pcm, 16000, 0.5, [Segment(1.9, 4.0, "fibrillation")], "r")
    w = WindowConfig(window_s=1.0, hop_s=0.25, drop_ambiguous=True)
    full = windows_of(rec, fcfg, w)
    X, y = window_recording(rec, fcfg, w)
    assert full.ambiguous.sum() >= 1 and len(X) == len(full.X) - full.ambiguous.sum()
    assert np.array_equal(y, full.y[~full.ambiguous])


def test_label_coverage_is_the_share_of_the_window_its_own_label_covers():
    rec = _rec([Segment(0.0, 10.0, "endplate_noise"), Segment(6.0, 10.0, "fibrillation")],
               events=[(t, "fibrillation") for t in np.arange(6.05, 10.0, 0.1)])
    starts = np.array([2.0, 5.5, 5.7, 7.0])
    y, _ = _labels(rec, starts)
    assert list(y) == [I["endplate_noise"], I["fibrillation"], I["fibrillation"], I["fibrillation"]]
    np.testing.assert_allclose(label_coverage(rec, starts, starts + 1.0, y), [1.0, 0.5, 0.7, 1.0])
    quiet = _rec([Segment(3.0, 3.5, "voluntary_muap")])
    np.testing.assert_allclose(label_coverage(quiet, np.array([2.5]), np.array([3.5]), np.array([I["rest"]])), [0.5])
