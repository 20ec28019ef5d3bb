"""The decision stage: the smoother and the detector as one component, configured from
RuntimeConfig, with window and hop converted to the stream's samples."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edge.runtime.config import RuntimeConfig
from edge.runtime.decision import DecisionStage
from edge.runtime.detector import EventDetector, rules_for
from edge.runtime.smoothing import PosteriorSmoother

from tests.edge.runtime_standins import LABELS, PATHOLOGICAL, standin_bundle


@pytest.mark.parametrize("source_rate, window, hop", [(8000, 7960, 2000), (16000, 15920, 4000), (6000, 5970, 1500)])
def test_window_and_hop_are_in_source_samples(source_rate, window, hop):
    # the stand-in: 98 frames of 25 ms every 10 ms = 0.995 s windows, 25-frame (0.25 s) hop at 8 kHz
    stage = DecisionStage.for_bundle(standin_bundle(8000), RuntimeConfig(), source_rate)
    assert (stage.window_samples, stage.hop_samples) == (window, hop)
    assert (stage.detector.window, stage.detector.hop) == (window, hop)
    assert stage.detector.exclusive and stage.smoother.windows == RuntimeConfig().smoothing_windows


def test_config_naming_an_unknown_class_is_refused():
    cfg = RuntimeConfig(class_overrides={"not_a_class": {"enter": 0.8}})
    with pytest.raises(ValueError, match="not_a_class"):
        DecisionStage.for_bundle(standin_bundle(8000), cfg, 8000)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(LABELS) - 1), st.floats(0.3, 1.0)), max_size=120),
       st.sampled_from(["mean", "ema", "none"]), st.booleans())
def test_process_is_the_smoother_then_the_detector(rows, method, exclusive):
    cfg = RuntimeConfig(smoothing=method, exclusive=exclusive)
    stage = DecisionStage(cfg, LABELS, PATHOLOGICAL, 1000, 1000, 250)
    sm = PosteriorSmoother(len(LABELS), method, cfg.smoothing_windows, cfg.ema_alpha)
    det = EventDetector(LABELS, set(PATHOLOGICAL), rules_for(cfg, LABELS, PATHOLOGICAL), 1000, 1000, 250,
                        require_argmax=cfg.require_argmax, exclusive=exclusive)
    for i, (k, p) in enumerate(rows):
        post = np.full(len(LABELS), (1.0 - p) / (len(LABELS) - 1))
        post[k] = p
        end = 1000 + 250 * i
        if i == 60:  # a new segment mid-way
            stage.reset()
            sm.reset()
            det.reset()
        assert stage.process(post, end - 1000, end) == det.update(sm.update(post), post, end - 1000, end)
