"""The processing chain with a stand-in front-end and classifier: timing, gaps, resampling."""

import numpy as np
from types import SimpleNamespace

from edge.runtime.config import RuntimeConfig
from edge.runtime.pipeline import Pipeline
from edge.runtime.windows import WindowAssembler

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle


def blocks(pcm, size=441, start=0):
    for i in range(0, pcm.size, size):
        yield SimpleNamespace(first_index=start + i, samples=pcm[i:i + size])


def run(pipe, pcm, **kw):
    out = []
    for b in blocks(pcm, **kw):
        out += pipe.feed(b)
    return out


def make(rate=8000, source_rate=None):
    b = standin_bundle(rate)
    return Pipeline(b, ThresholdClassifier(), RuntimeConfig(), source_rate or rate,
                    frontend=EnergyFrontend(b.frontend_config))


def test_window_assembler_matches_offline_slicing():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 100, size=(300, 3)).astype(np.int16)
    wa = WindowAssembler(window_frames=40, hop_frames=7, n_mels=3, dtype=np.int16)
    got = []
    for chunk in np.array_split(frames, [1, 5, 50, 51, 200]):
        got += list(wa.push(chunk))
    want = [(j, frames[j:j + 40]) for j in range(0, 300 - 40 + 1, 7)]
    assert [g[0] for g in got] == [w[0] for w in want]
    for (_, a), (_, b) in zip(got, want):
        np.testing.assert_array_equal(a, b)
    hop_gt_win = WindowAssembler(window_frames=3, hop_frames=5, n_mels=3, dtype=np.int16)
    got = [j for chunk in np.array_split(frames[:40], 7) for j, _ in hop_gt_win.push(chunk)]
    assert got == [0, 5, 10, 15, 20, 25, 30, 35]


def test_bursts_are_detected_once_each_near_their_onset():
    pipe = make()
    pcm = bursts(30.0, 8000, [5.0, 17.0])
    dets = run(pipe, pcm)
    assert [d.label for d in dets] == ["fibrillation", "fibrillation"]
    for d, start in zip(dets, (5.0, 17.0)):
        onset_s = d.onset / 8000
        assert abs(onset_s - start) < 0.3
        # confirmation within one window + min duration of the onset
        assert d.detected_at / 8000 - start <= 1.0 + 0.25
    assert pipe.counters.windows == (30 * 100 - 98) // 25 + 1


def test_small_gap_is_zero_filled_and_timing_kept():
    pipe = make()
    pcm = bursts(20.0, 8000, [10.0])
    cut = 4 * 8000
    dets = run(pipe, pcm[:cut]) + run(pipe, pcm[cut + 800:], start=cut + 800)  # 0.1 s lost
    assert pipe.counters.gap_samples == 800 and pipe.counters.filled_samples == 800
    assert pipe.counters.segments == 1
    assert len(dets) == 1 and abs(dets[0].onset / 8000 - 10.0) < 0.3


def test_long_gap_starts_a_new_segment_in_source_indices():
    pipe = make()
    pcm = bursts(12.0, 8000, [6.0])
    dets = run(pipe, pcm[:3 * 8000]) + run(pipe, pcm[3 * 8000:], start=100 * 8000)  # 97 s gap
    assert pipe.counters.segments == 2
    assert len(dets) == 1
    assert abs(dets[0].onset / 8000 - (100 + 3.0)) < 0.3  # source index domain


def test_duplicates_are_dropped():
    pipe = make()
    pcm = bursts(6.0, 8000, [])
    run(pipe, pcm[:16000])
    run(pipe, pcm[8000:24000], start=8000)  # overlaps by 1 s
    assert pipe.counters.duplicate_samples == 8000
    assert pipe.counters.samples == 24000


def test_resampled_source_reports_in_source_samples():
    pipe = make(rate=8000, source_rate=16000)
    assert pipe.resampler is not None
    pcm = bursts(20.0, 16000, [8.0])
    dets = run(pipe, pcm, size=1600)
    assert len(dets) == 1
    assert abs(dets[0].onset / 16000 - 8.0) < 0.3


class _RejectFibrillation:
    """A guard stand-in with the OpenSetGuard interface that finds every pathological call atypical."""

    def __init__(self, labels, pathological):
        from edge.runtime.openset import OpenSetGuard

        self._real = OpenSetGuard(labels, tuple(pathological), 0.0, 2, 2, {})
        self.checked = 0

    def is_known(self, window, probs):
        self.checked += 1
        return not self._real._path[int(np.argmax(probs))]

    def withhold(self, probs):
        return self._real.withhold(probs)


def test_open_set_guard_withholds_pathological_calls_and_counts_them():
    b = standin_bundle(8000)
    guard = _RejectFibrillation(b.labels, sorted(b.pathological))
    pipe = Pipeline(b, ThresholdClassifier(), RuntimeConfig(), 8000, frontend=EnergyFrontend(b.frontend_config),
                    guard=guard)
    pcm = bursts(30.0, 8000, [5.0, 17.0])
    assert run(pipe, pcm) == []
    assert pipe.counters.unknown_windows > 0
    assert guard.checked == pipe.counters.windows
    # The same stream without the guard raises both alerts (test above), and the guard only
    # withholds: the windows it let through are the normal ones.
    assert pipe.counters.unknown_windows < pipe.counters.windows
