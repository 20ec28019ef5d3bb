"""Calibration stage (edge/calibration.py): golden vectors, properties, config refusals."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.calibration import (GAIN_ONE, CalibrationConfig, Calibrator, apply_gain_q16, gain_q16,
                              rescale_pcm)

GOLDEN = json.loads((Path(__file__).parent / "golden" / "calibration_v1.json").read_text())
int16s = hnp.arrays(np.int16, st.integers(0, 400), elements=st.integers(-32768, 32767))
gains = st.integers(256, 256 * GAIN_ONE)


@pytest.mark.parametrize("v", GOLDEN["vectors"], ids=lambda v: f"{v['source_uv_per_lsb']}->{v['target_uv_per_lsb']}")
def test_golden_vectors(v):
    assert gain_q16(v["source_uv_per_lsb"], v["target_uv_per_lsb"]) == v["G"]
    y, sat = rescale_pcm(np.array(v["x"], np.int16), v["source_uv_per_lsb"], v["target_uv_per_lsb"], v["invert"])
    assert y.dtype == np.int16 and y.tolist() == v["y"] and sat == v["saturated"]


def test_identity_and_ties():
    x = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    y, sat = apply_gain_q16(x, GAIN_ONE)
    assert np.array_equal(y, x) and sat == 0
    # the non-shortcut path gives the identity too: (x·2^16 + 2^15) >> 16 == x
    assert np.array_equal((x.astype(np.int64) * GAIN_ONE + 2 ** 15) >> 16, x)
    half, _ = apply_gain_q16(np.array([1, -1, 3, -3], np.int16), GAIN_ONE // 2)
    assert half.tolist() == [1, 0, 2, -1]  # ±0.5, ±1.5 round half up


def test_invert_negates_and_saturates():
    y, sat = rescale_pcm(np.array([-32768, -1, 0, 5, 32767], np.int16), 0.5, 0.5, invert=True)
    assert y.tolist() == [32767, 1, 0, -5, -32767] and sat == 1


@given(int16s)
def test_identity_property(x):
    y, sat = rescale_pcm(x, 0.37, 0.37)
    assert np.array_equal(y, x) and sat == 0


@given(int16s, gains, st.booleans())
def test_matches_exact_reference_and_float(x, G, invert):
    y, sat = apply_gain_q16(x, G, invert)
    ref = [((int(v) * G + 2 ** 15) >> 16) * (-1 if invert else 1) for v in x]
    assert y.tolist() == [min(32767, max(-32768, r)) for r in ref]
    assert sat == sum(r > 32767 or r < -32768 for r in ref)
    ok = np.abs(y.astype(np.int64)) < 32767
    exact = x.astype(np.float64) * (G / GAIN_ONE) * (-1 if invert else 1)
    assert np.all(np.abs(y[ok] - exact[ok]) <= 0.5)


@given(st.floats(1e-3, 1e3), st.floats(1 / 256, 256), int16s)
def test_float_gain_within_rounding(target, g, x):
    source = target * g
    if not 1e-3 <= source <= 1e3 or not 1 / 256 <= source / target <= 256:
        return
    y, _ = rescale_pcm(x, source, target)
    ok = np.abs(y.astype(np.int64)) < 32767
    err = np.abs(y[ok] - x[ok].astype(np.float64) * source / target)
    assert np.all(err <= 0.5 + np.abs(x[ok].astype(np.float64)) * 2.0 ** -17 + 1e-9)


@given(gains, st.booleans())
def test_monotone(G, invert):
    x = np.arange(-32768, 32768, 97, dtype=np.int64).astype(np.int16)
    d = np.diff(apply_gain_q16(x, G, invert)[0].astype(np.int64))
    assert np.all(d <= 0) if invert else np.all(d >= 0)


@settings(max_examples=50)
@given(int16s, st.lists(st.integers(0, 60), max_size=8), st.sampled_from([0.1, 0.5, 2.0, 5.0]), st.booleans())
def test_chunk_invariance(x, cuts, source, invert):
    whole, sat = rescale_pcm(x, source, 0.5, invert)
    cal = Calibrator(CalibrationConfig(source, 0.5, invert))
    edges = sorted({0, len(x), *[min(c * 7, len(x)) for c in cuts]})
    parts = [cal.process(x[a:b]) for a, b in zip(edges, edges[1:])]
    got = np.concatenate(parts) if parts else np.zeros(0, np.int16)
    assert np.array_equal(got, whole) and cal.saturated == sat and cal.samples == len(x)


def test_set_source_changes_gain():
    cal = Calibrator(CalibrationConfig(0.5, 0.5))
    assert cal.process(np.array([100], np.int16)).tolist() == [100]
    cal.set_source(0.1)
    assert cal.process(np.array([100], np.int16)).tolist() == [20]
    assert cal.config.gain_db == pytest.approx(20 * math.log10(13107 / 65536))


@pytest.mark.parametrize("kw, match", [
    (dict(source_uv_per_lsb=0), r"source_uv_per_lsb=0 .*0\.001\.\.1000"),
    (dict(target_uv_per_lsb=float("nan")), "target_uv_per_lsb=nan"),
    (dict(source_uv_per_lsb=1000, target_uv_per_lsb=0.5), r"outside the allowed range 1/256\.\.256"),
    (dict(invert="yes"), "invert='yes'"),
])
def test_config_refusals(kw, match):
    with pytest.raises(ValueError, match=match):
        CalibrationConfig(**kw)
