"""Learned MUAP pattern model: subject-disjoint split, a tiny bundle end to end, and the device
runner's windows equal to the training side's bit for bit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from convert.pattern_model import PatternDataConfig, recording_windows, simulate, train_pattern
from edge.bundle import BundleError
from edge.quant.pattern import INDETERMINATE, NOT_A_DIAGNOSIS
from edge.quant.pattern_model import PATTERN_LABELS, TASK, PatternModel, aggregate, load_pattern_bundle

TINY = PatternDataConfig(per_class=5, clip_s=2.0, chain_copies=1)


def test_split_is_by_subject_and_every_split_has_every_class():
    subjects = PatternDataConfig(per_class=20).subjects()
    seeds = [s for s, _, _ in subjects]
    assert len(set(seeds)) == len(seeds) == 60  # one subject per seed: no anatomy on two sides
    for split in ("train", "val", "test"):
        states = [st for _, st, sp in subjects if sp == split]
        assert sorted(set(states)) == sorted(PATTERN_LABELS)
        assert states.count("normal") == states.count("neurogenic") == states.count("myopathic")
    assert sum(sp == "test" for *_, sp in subjects) == 12


@pytest.mark.parametrize("kw, match", [({"per_class": 4}, "per_class 4"), ({"clip_s": 0.5}, "clip_s 0.5"),
                                       ({"chain_copies": 9}, "chain_copies 9")])
def test_config_errors_name_the_value(kw, match):
    with pytest.raises(ValueError, match=match):
        PatternDataConfig(**kw)


def test_aggregate_is_the_mean_and_empty_is_indeterminate():
    call = aggregate(np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]]))
    assert call.label == "neurogenic" and call.n_windows == 3
    assert call.window_votes == {"normal": 1, "neurogenic": 2, "myopathic": 0}
    assert call.probabilities["normal"] == pytest.approx(0.3)
    empty = aggregate(np.zeros((0, 3)))
    assert empty.label == INDETERMINATE and "too short" in empty.reason and empty.note == NOT_A_DIAGNOSIS


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from convert.models import ModelConfig
    from convert.train import TrainConfig

    out = tmp_path_factory.mktemp("pattern") / "muap_pattern"
    train_pattern(out, TINY, model_cfg=ModelConfig(arch="cnn", widths=(4,), pools=((2, 2),), dropout=0.0),
                  tcfg=TrainConfig(epochs=1, batch_size=32, patience=1, verbose=0), evaluate=False)
    return out


@pytest.mark.slow
def test_tiny_bundle_is_a_valid_int8_pattern_bundle(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["task"] == TASK and manifest["labels"] == list(PATTERN_LABELS)
    assert manifest["input"]["dtype"] == "int8" and manifest["int8_verification"]["ok"]
    assert manifest["input"]["uv_per_lsb"] == 0.5
    assert "weights.npz" not in manifest["files"] and not (tiny_bundle / "weights.npz").exists()
    assert "simulated" in manifest["training"]["data"]["source"]
    bundle = load_pattern_bundle(str(tiny_bundle))
    assert bundle.labels == PATTERN_LABELS


@pytest.mark.slow
def test_runner_windows_equal_training_windows_at_another_rate_and_scale(tiny_bundle):
    from convert.chain import ChainConfig, apply_chain
    from convert.trainset import default_frontend_config, window_config

    rec = simulate(TINY.seed0 + 1, "neurogenic", TINY)
    # 10 kHz at 0.2 µV/LSB: the runner must calibrate and resample as the training side does
    rec = apply_chain(rec, ChainConfig(sample_rates_hz=(10000,), uv_per_lsb=(0.2,), p_clip=0.0).draw(3))
    pm = PatternModel(str(tiny_bundle))
    got = np.stack(list(pm.windows(rec.pcm, rec.sample_rate, rec.uv_per_lsb)))
    want = recording_windows(rec, default_frontend_config(44100), window_config(TINY.window_s, TINY.hop_s), 0.5)
    np.testing.assert_array_equal(got, want)
    call = pm.classify(rec.pcm, rec.sample_rate, rec.uv_per_lsb)
    assert call.label in PATTERN_LABELS and call.n_windows == len(want)
    assert sum(call.probabilities.values()) == pytest.approx(1.0, abs=0.05)
    assert json.loads(json.dumps(call.to_dict()))["trained_on"] == "simulated voluntary activity only"
    short = pm.classify(rec.pcm[:5000], rec.sample_rate, rec.uv_per_lsb)
    assert short.label == INDETERMINATE


@pytest.mark.slow
def test_a_detector_bundle_is_not_a_pattern_bundle(tiny_bundle, tmp_path):
    other = tmp_path / "b"
    shutil.copytree(tiny_bundle, other)
    m = json.loads((other / "manifest.json").read_text())
    m["task"] = "detection"
    (other / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="task is 'detection'"):
        load_pattern_bundle(str(other))
    with pytest.raises(ValueError, match="int16"):
        list(PatternModel(str(tiny_bundle)).windows(np.zeros(100, np.float32), 44100, 0.5))


def test_shipped_bundle_calls_held_out_simulated_subjects():
    """One held-out subject of each class (test split of the shipped recipe), 4 s each."""
    cfg = PatternDataConfig(per_class=40, clip_s=4.0)
    pm = PatternModel()
    held_out = [(seed, state) for seed, state, split in cfg.subjects() if split == "test"][:3]
    assert sorted(s for _, s in held_out) == sorted(PATTERN_LABELS)
    for seed, state in held_out:
        rec = simulate(seed, state, cfg)
        assert pm.classify(rec.pcm, rec.sample_rate, rec.uv_per_lsb).label == state


def _physionet_call(name):
    from pathlib import Path

    from convert.real_records import PHYSIONET_DIR
    from convert.recordings import read_recording

    r = read_recording(Path(PHYSIONET_DIR) / f"{name}.hea")
    return PatternModel().classify(r.pcm, r.sample_rate, r.uv_per_lsb).label


@pytest.mark.parametrize("name, expected", [("emg_healthy", "normal"), ("emg_neuropathy", "neurogenic")])
def test_shipped_bundle_on_real_healthy_and_neuropathy_records(name, expected):
    """PhysioNet emgdb (real TA, concentric, 4 kHz): as measured when the bundle was shipped."""
    assert _physionet_call(name) == expected


@pytest.mark.xfail(strict=True, reason="measured: the shipped model calls the real myopathy record normal "
                                       "(107/107 windows); it was trained on simulation only")
def test_shipped_bundle_on_the_real_myopathy_record():
    assert _physionet_call("emg_myopathy") == "myopathic"
