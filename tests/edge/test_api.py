"""The embedding API: ``from edge import Detector`` gives the runtime's own detections."""

from __future__ import annotations

import numpy as np
import pytest

from edge import Detector
from edge.bundle import load_bundle
from edge.inference import Int8Classifier
from edge.runtime.config import RuntimeConfig
from edge.runtime.openset import load_guard
from edge.runtime.pipeline import Pipeline
from firmware_bridge.host.source import SampleBlock


@pytest.fixture(scope="module")
def demo_pcm():
    from firmware_bridge.host.source import read_wav_int16
    from edge.demo.recording import DEMO_WAV

    pcm, rate = read_wav_int16(DEMO_WAV)
    return pcm[: rate * 40], rate


def test_detector_equals_the_pipeline_whatever_the_block_size(demo_pcm):
    pcm, rate = demo_pcm
    bundle = load_bundle("default")
    pipe = Pipeline(bundle, Int8Classifier(bundle), RuntimeConfig(), rate, guard=load_guard(bundle))
    want = pipe.feed(SampleBlock(0, pcm))
    det = Detector("default", sample_rate=rate)
    got = []
    rng = np.random.default_rng(0)
    i = 0
    while i < pcm.size:
        n = int(rng.integers(1, 9000))
        got += det.feed(pcm[i:i + n].astype(np.int32))  # any integer dtype within int16
        i += n
    assert want and got == want
    assert det.counters.samples == pcm.size and det.labels == bundle.labels


def test_detector_user_errors():
    with pytest.raises(ValueError, match="sample_rate=100"):
        Detector("default", sample_rate=100)
    det = Detector("default", sample_rate=44100, uv_per_lsb=0.25)
    assert det.feed([]) == []
    with pytest.raises(ValueError, match="int16"):
        det.feed(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="int16"):
        det.feed(np.array([40000]))
    with pytest.raises(ValueError, match="1-D"):
        det.feed(np.zeros((2, 2), dtype=np.int16))


def test_detector_quantifies_voluntary_stretches():
    # A simulated contraction through the shipped bundle: called voluntary activity, one stretch
    # quantified on close(); its median amplitude near the true units' (µV through calibration).
    from convert.simulator.voluntary_truth import render_voluntary_truth

    truth = render_voluntary_truth(3, effort=0.15, duration_s=12.0, sample_rate=10_000)
    det = Detector("default", sample_rate=10_000, uv_per_lsb=truth.uv_per_lsb, qemg=True)
    for i in range(0, truth.pcm.size, 1000):
        assert det.feed(truth.pcm[i:i + 1000]) == []  # no pathological alert on a contraction
    got = det.summaries() + det.close()
    assert len(got) == 1 and got[0].n_units >= 2
    true_amp = float(np.median([u.amplitude_uv for u in truth.units]))
    assert 0.5 * true_amp <= got[0].median_amplitude_uv <= 2.0 * true_amp
    assert Detector("default", sample_rate=10_000).summaries() == []  # off by default


def test_detector_qemg_needs_the_voluntary_class(monkeypatch):
    from edge.runtime.qemg_stretches import QemgConfig

    with pytest.raises(ValueError, match="no class 'tremor'"):
        Detector("default", sample_rate=10_000, qemg=QemgConfig(label="tremor"))
    with pytest.raises(ValueError, match="unknown muscle 'nope'"):  # refused at start, not per stretch
        Detector("default", sample_rate=10_000, qemg=QemgConfig(muscle="nope"))
