"""The shipped MUAP pattern bundle on the device side: loads pinned, full int8, small, and its
runner returns a pattern (or indeterminate) with the fixed wording."""

from __future__ import annotations

import json

import numpy as np

from edge.quant.pattern import INDETERMINATE, NOT_A_DIAGNOSIS
from edge.quant.pattern_model import PATTERN_LABELS, TASK, PatternModel, load_pattern_bundle


def test_shipped_bundle_is_a_small_pinned_int8_pattern_bundle():
    b = load_pattern_bundle()
    assert b.manifest["task"] == TASK and b.labels == PATTERN_LABELS
    assert b.provenance.startswith("shipped")
    assert b.manifest["input"]["dtype"] == "int8" and b.manifest["int8_verification"]["ok"]
    assert sum(f["bytes"] for f in b.manifest["files"].values()) < 100_000
    assert b.manifest["training"]["parameters"] < 10_000
    assert "simulated" in b.manifest["training"]["data"]["source"]
    # the held-out figures the model card quotes are in the manifest
    assert b.manifest["metrics"]["int8_recordings_clean"]["n"] == b.manifest["metrics"]["test_subjects"]


def test_runner_gives_a_pattern_with_the_wording_and_indeterminate_when_short():
    pm = PatternModel()
    x = np.random.default_rng(0).normal(0, 400, 3 * 10_000).astype(np.int16)  # 3 s of noise at 10 kHz
    call = pm.classify(x, 10_000, 0.5)
    assert call.label in PATTERN_LABELS and call.n_windows >= 5
    assert abs(sum(call.probabilities.values()) - 1.0) < 0.05
    assert sum(call.window_votes.values()) == call.n_windows
    assert call.note == NOT_A_DIAGNOSIS
    short = pm.classify(x[:5000], 10_000, 0.5)
    assert short.label == INDETERMINATE and short.n_windows == 0 and short.reason
    assert json.loads(json.dumps(short.to_dict()))["label"] == INDETERMINATE
