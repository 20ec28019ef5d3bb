"""int8 inference: the documented feature→int8 rule, and the classifier on a tiny real bundle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.edge.bundle_helpers import FRAMES, N_MELS, make_tiny_bundle, synthetic_windows


from edge.bundle import load_bundle  # noqa: E402
from edge.inference import FeatureQuantizer, Int8Classifier, TFLiteClassifier  # noqa: E402


@given(lo=st.integers(-30000, 30000), span=st.integers(1, 60000), shift=st.integers(8, 20),
       f=st.lists(st.integers(-70000, 70000), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_quantizer_matches_its_documented_rule(lo, span, shift, f):
    q = FeatureQuantizer.from_range(lo, lo + span, shift=shift)
    x = np.asarray(f, np.int64)
    got = q(x)
    assert got.dtype == np.int8
    # the rule written out in Python integers (arbitrary precision): no overflow anywhere
    for xi, gi in zip(f, got):
        d = min(max(xi - q.offset, 0), q.span)
        ref = ((d * q.mul + (1 << (q.shift - 1))) >> q.shift) - 128
        assert int(gi) == max(-128, min(127, ref))


@given(lo=st.integers(-1000, 1000), span=st.integers(255, 20000))
@settings(max_examples=100, deadline=None)
def test_quantizer_is_monotonic_and_spans_int8(lo, span):
    q = FeatureQuantizer.from_range(lo, lo + span)
    x = np.arange(lo - 5, lo + span + 5, max(1, span // 500))
    out = q(x).astype(int)
    assert np.all(np.diff(out) >= 0)
    assert out[0] == -128
    assert q(np.array([lo + span]))[0] >= 126  # floor(255·2^16/span) loses < 1 step


def test_quantizer_rejects_bad_parameters():
    with pytest.raises(ValueError, match="span"):
        FeatureQuantizer(offset=0, span=0, mul=1)
    with pytest.raises(ValueError, match="mul"):
        FeatureQuantizer(offset=0, span=1000, mul=10**9)
    with pytest.raises(ValueError, match="empty"):
        FeatureQuantizer.from_range(5, 5)
    with pytest.raises(ValueError, match="integers"):
        FeatureQuantizer.from_range(0, 100)(np.array([1.5]))


def test_quantizer_round_trips_through_dict():
    q = FeatureQuantizer.from_range(-20, 3000)
    assert FeatureQuantizer.from_dict(q.to_dict()) == q


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    return load_bundle(make_tiny_bundle(tmp_path_factory.mktemp("tiny") / "bundle"))


def test_int8_classifier_outputs_probabilities(tiny_bundle):
    clf = Int8Classifier(tiny_bundle)
    X, _ = synthetic_windows(2, tiny_bundle.n_classes, seed=7)
    p = clf.predict(X[0])
    assert p.shape == (tiny_bundle.n_classes,) and p.dtype == np.float32
    assert abs(float(p.sum()) - 1.0) < 0.05 and p.min() >= 0.0


def test_int8_input_is_the_quantised_feature_unchanged(tiny_bundle):
    clf = Int8Classifier(tiny_bundle)
    X, _ = synthetic_windows(1, 1, seed=3)
    x = clf.model_input(X[0])
    assert x.dtype == np.int8
    np.testing.assert_array_equal(x.reshape(FRAMES, N_MELS), clf.quantizer(X[0]))


def test_int8_agrees_with_float_twin(tiny_bundle):
    X, y = synthetic_windows(4, tiny_bundle.n_classes, seed=11)
    p8 = Int8Classifier(tiny_bundle).predict_many(X)
    pf = TFLiteClassifier(tiny_bundle, which="float").predict_many(X)
    assert np.mean(p8.argmax(1) == pf.argmax(1)) >= 0.9
    assert np.abs(p8 - pf).max() < 0.1


def test_reference_kernels_are_deterministic_and_xnnpack_close(tiny_bundle):
    X, _ = synthetic_windows(1, tiny_bundle.n_classes, seed=5)
    a = Int8Classifier(tiny_bundle).predict_raw(X[3])
    b = Int8Classifier(tiny_bundle).predict_raw(X[3])
    np.testing.assert_array_equal(a, b)
    c = Int8Classifier(tiny_bundle, xnnpack=True).predict_raw(X[3])
    assert np.abs(a.astype(int) - c.astype(int)).max() <= 8  # XNNPACK differs by a few LSB


def test_wrong_window_shape_is_refused(tiny_bundle):
    clf = Int8Classifier(tiny_bundle)
    with pytest.raises(ValueError, match="window must have shape"):
        clf.predict(np.zeros((FRAMES + 1, N_MELS), np.uint16))
