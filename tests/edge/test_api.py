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
