"""Open-set guard (edge.runtime.openset): what it withholds and what it lets through."""

import json

import numpy as np
import pytest

from edge.runtime.openset import ClassModel, OpenSetGuard, summary_vector

LABELS = ("rest", "voluntary_muap", "fibrillation", "complex_repetitive_discharge")
PATH = ("fibrillation", "complex_repetitive_discharge")


def _window(level_db, rng, frames=100, bands=64, jitter_db=1.0):
    """A feature window (1/64 dB) at ``level_db`` in every band plus Gaussian jitter."""
    return np.round((level_db + jitter_db * rng.standard_normal((frames, bands))) * 64).astype(np.int16)


def _guard(min_conf=0.4, max_distance=6.0):
    dim = 20
    fib = ClassModel(np.r_[np.full(16, 30.0), np.full(4, 1.0)], np.eye(dim), max_distance)
    return OpenSetGuard(LABELS, PATH, min_conf, 16, 4, {"fibrillation": fib})


def test_summary_vector_means_and_stds_in_db():
    rng = np.random.default_rng(0)
    w = _window(30.0, rng)
    s = summary_vector(w, 16, 4)
    assert s.shape == (20,)
    np.testing.assert_allclose(s[:16], 30.0, atol=0.2)
    np.testing.assert_allclose(s[16:], 0.25, atol=0.05)  # std of a 16-band mean of unit jitter = 1/4
    batch = summary_vector(np.stack([w, w]), 16, 4)
    np.testing.assert_array_equal(batch[0], s)


def test_summary_vector_refuses_uneven_groups():
    with pytest.raises(ValueError, match="equal groups"):
        summary_vector(np.zeros((10, 60), np.int16), 16, 4)


def test_typical_pathological_call_passes_and_atypical_is_withheld():
    rng = np.random.default_rng(1)
    g = _guard()
    probs = np.array([0.05, 0.05, 0.85, 0.05])
    assert g.is_known(_window(30.0, rng), probs)
    assert not g.is_known(_window(45.0, rng), probs)  # 15 dB louder in every band group


def test_low_confidence_pathological_call_is_withheld():
    rng = np.random.default_rng(2)
    g = _guard(min_conf=0.6)
    assert not g.is_known(_window(30.0, rng), np.array([0.2, 0.2, 0.5, 0.1]))


def test_normal_calls_and_classes_without_a_model_are_not_tested():
    rng = np.random.default_rng(3)
    g = _guard()
    far = _window(80.0, rng)
    assert g.is_known(far, np.array([0.1, 0.8, 0.05, 0.05]))  # voluntary: never tested
    assert g.is_known(far, np.array([0.05, 0.05, 0.05, 0.85]))  # CRD: no typicality model


def test_batch_mask_equals_single_checks():
    rng = np.random.default_rng(4)
    g = _guard(min_conf=0.5)
    wins = np.stack([_window(lv, rng) for lv in (30, 31, 45, 30, 80)])
    probs = np.array([[0.05, 0.05, 0.85, 0.05], [0.1, 0.1, 0.45, 0.35], [0.0, 0.0, 1.0, 0.0],
                      [0.9, 0.05, 0.05, 0.0], [0.0, 0.0, 0.0, 1.0]])
    expect = [g.is_known(w, p) for w, p in zip(wins, probs)]
    assert g.known_mask(wins, probs).tolist() == expect == [True, False, False, True, True]


def test_withhold_moves_pathological_mass_to_normal_classes():
    g = _guard()
    out = g.withhold(np.array([0.1, 0.3, 0.5, 0.1]))
    np.testing.assert_allclose(out, [0.25, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(g.withhold(np.array([0.0, 0.0, 0.6, 0.4])), [1.0, 0.0, 0.0, 0.0])


def test_dict_round_trip_and_refusals():
    g = _guard()
    d = json.loads(json.dumps(g.to_dict()))
    g2 = OpenSetGuard.from_dict(d, LABELS, PATH)
    assert g2.to_dict() == g.to_dict()
    with pytest.raises(ValueError, match="version"):
        OpenSetGuard.from_dict({**d, "version": 99}, LABELS, PATH)
    bad = json.loads(json.dumps(d))
    bad["classes"]["fibrillation"]["mean"] = [0.0] * 3
    with pytest.raises(ValueError, match="20 values"):
        OpenSetGuard.from_dict(bad, LABELS, PATH)
    with pytest.raises(ValueError, match="min_confidence"):
        _guard(min_conf=1.5)
    with pytest.raises(ValueError, match="does not have"):
        OpenSetGuard(LABELS[:2], (), 0.1, 16, 4, {"fibrillation": g._models[2]})
