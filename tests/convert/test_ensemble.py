"""Ensemble bundles: written from two trained bundles, loaded, posteriors = weighted member mean."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convert.cli import main as convert_main
from convert.ensemble import write_ensemble
from convert.models import ModelConfig
from edge.bundle import BundleError, load_bundle
from edge.inference import Int8Classifier, TFLiteClassifier
from tests.edge.bundle_helpers import make_tiny_bundle, synthetic_windows


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    cnn = make_tiny_bundle(root / "cnn", epochs=2)
    crnn_cfg = ModelConfig.default("crnn", widths=(4, 8), pools=((2, 2), (2, 2)), rnn_units=8, dropout=0.1)
    crnn = make_tiny_bundle(root / "crnn", seed=1, epochs=2, cfg=crnn_cfg)
    return cnn, crnn


@pytest.fixture(scope="module")
def ensemble(members, tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "ensemble"
    rc = convert_main(["ensemble", "--bundles", str(members[0]), str(members[1]), "--weights", "1", "3",
                       "--out", str(out)])
    assert rc == 0
    return out


def test_ensemble_posteriors_are_the_weighted_mean_of_its_members(members, ensemble):
    b = load_bundle(ensemble)
    assert b.is_ensemble and b.manifest["schema_version"] == 2
    assert [round(m.weight, 6) for m in b.members] == [0.25, 0.75]
    X, _ = synthetic_windows(2, b.n_classes, seed=9)
    p = Int8Classifier(b).predict_many(X)
    p_cnn = Int8Classifier(load_bundle(members[0])).predict_many(X)
    p_crnn = Int8Classifier(load_bundle(members[1])).predict_many(X)
    # same int8 models, same inputs: only float32 summation order differs
    np.testing.assert_allclose(p, 0.25 * p_cnn + 0.75 * p_crnn, atol=1e-6)
    pf = TFLiteClassifier(b, which="float").predict_many(X)
    assert pf.shape == p.shape and np.all(np.abs(pf.sum(axis=1) - 1) < 1e-3)
    with pytest.raises(ValueError, match="ensemble of 2 models"):
        Int8Classifier(b).predict_raw(X[0])


def test_ensemble_manifest_names_verified_members(members, ensemble):
    m = load_bundle(ensemble).manifest
    ids = [load_bundle(p).model_id for p in members]
    assert [s["model_id"] for s in m["models"]] == ids == m["training"]["ensemble_of"]
    assert all(s["int8_verification"]["ok"] for s in m["models"])
    # each member's training environment travels with it (what its numbers depend on)
    assert [s["training"]["environment"] for s in m["models"]] == \
        [load_bundle(p).manifest["training"]["environment"] for p in members]
    assert set(m["files"]) == {"model_0.tflite", "model_0_float.tflite", "model_1.tflite", "model_1_float.tflite"}
    assert m["model_id"].startswith("emg-ensemble-")


def test_single_model_bundles_still_load_as_one_member(members):
    b = load_bundle(members[0])
    assert not b.is_ensemble and b.manifest["schema_version"] == 1
    (member,) = b.members
    assert member.path == b.model_path == members[0] / "model.tflite" and member.weight == 1.0
    shipped = load_bundle("default")  # pinned manifest written before ensembles existed
    assert [m.path.name for m in shipped.members] == ["model.tflite"] and shipped.provenance.startswith("shipped")


def test_ensemble_refuses_a_damaged_models_list_and_mismatched_members(members, ensemble, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(ensemble, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["models"][1]["file"] = "elsewhere.tflite"
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match=r"models\[1\].file 'elsewhere.tflite'"):
        load_bundle(bad)
    m["schema_version"] = 1
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="ensemble is schema_version 2"):
        load_bundle(bad)
    other = tmp_path / "other"
    shutil.copytree(members[1], other)
    mo = json.loads((other / "manifest.json").read_text())
    mo["window"]["hop_s"] = 0.2
    (other / "manifest.json").write_text(json.dumps(mo))
    rc = convert_main(["ensemble", "--bundles", str(members[0]), str(other), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc != 0 and "differ in window" in err and "Traceback" not in err
    with pytest.raises(Exception, match="give 2..8 bundles"):
        write_ensemble(tmp_path / "y", [members[0]])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=st.lists(st.floats(0.01, 1000), min_size=2, max_size=2))
def test_any_weights_give_the_normalised_weighted_mean(members, ensemble, tmp_path, w):
    """Manifest weights are normalised; the posterior is a convex mix of the members' (sums to ~1)."""
    d = tmp_path / f"w{abs(hash(tuple(w)))}"
    shutil.copytree(ensemble, d)
    m = json.loads((d / "manifest.json").read_text())
    for spec, wk in zip(m["models"], w):
        spec["weight"] = wk
    (d / "manifest.json").write_text(json.dumps(m))
    X, _ = synthetic_windows(1, 3, seed=2)
    p = Int8Classifier(load_bundle(d)).predict_many(X)
    parts = [Int8Classifier(load_bundle(b)).predict_many(X) for b in members]
    expected = (w[0] * parts[0] + w[1] * parts[1]) / (w[0] + w[1])
    np.testing.assert_allclose(p, expected, atol=1e-5)
    # each member's int8 output rounds each of 12 classes by at most half a step of 1/256
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=12 / 512 + 1e-6)


def test_latency_of_an_ensemble_times_every_member(members, ensemble):
    from convert.evaluate import measure_latency
    from edge.bundle import load_bundle

    lat = measure_latency(load_bundle(ensemble), n=5)
    assert lat["members"] == 2 and lat["median_ms"] > 0
    assert "members" not in measure_latency(load_bundle(members[0]), n=5)


def test_guard_data_fits_the_ensembles_own_open_set_guard(members, tmp_path, capsys):
    # The runtime guards an ensemble's averaged posteriors only if the ensemble has a guard of
    # its own: --guard-data fits one (typicality and confidence floor) and lists it for the loader.
    from edge.runtime.openset import OPEN_SET_FILE, load_guard

    data = tmp_path / "data"
    assert convert_main(["synth", "--out", str(data), "--minutes", "0.5", "--sample-rate", "8000", "--seed", "3",
                         "--file-seconds", "6", "--quiet"]) == 0
    out = tmp_path / "ens"
    capsys.readouterr()
    assert convert_main(["ensemble", "--bundles", str(members[0]), str(members[1]), "--out", str(out),
                         "--guard-data", str(data / "train"), "--guard-val-data", str(data / "val")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["open_set"] and report["guard_windows"] > 0 and report["guard_val_windows"] > 0
    b = load_bundle(out)
    assert OPEN_SET_FILE in b.manifest["files"]
    guard = load_guard(b)
    assert guard is not None and list(guard.labels) == list(b.labels)
    assert 0.0 <= guard.min_confidence <= 0.5
    # without --guard-data there is none, and --guard-val-data alone is a user error
    assert load_guard(load_bundle(write_ensemble(tmp_path / "plain", members))) is None
    assert convert_main(["ensemble", "--bundles", str(members[0]), str(members[1]), "--out", str(tmp_path / "x"),
                         "--guard-val-data", str(data / "val")]) == 2
    assert "--guard-val-data needs --guard-data" in capsys.readouterr().err


def test_unusable_guard_data_is_refused_before_anything_is_written(members, tmp_path, capsys):
    # A typo in --guard-data must not leave an ensemble without its guard behind.
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "ens"
    assert convert_main(["ensemble", "--bundles", str(members[0]), str(members[1]), "--out", str(out),
                         "--guard-data", str(empty)]) == 2
    assert "--guard-data" in capsys.readouterr().err
    assert not out.exists()


def test_an_ensemble_decides_with_its_members_class_prior_and_refuses_differing_ones(members, tmp_path, capsys):
    from convert.export import prior_entry, update_manifest
    from edge.runtime.prior import ClassPrior

    a, b = tmp_path / "a", tmp_path / "b"
    for src, dst in zip(members, (a, b)):
        shutil.copytree(src, dst)
    labels = load_bundle(a).labels
    update_manifest(a, decision_prior=prior_entry({"voluntary_muap": 4.0}, labels))
    rc = convert_main(["ensemble", "--bundles", str(a), str(b), "--out", str(tmp_path / "mixed")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "decide with different class priors" in err[0]
    update_manifest(b, decision_prior=prior_entry({"voluntary_muap": 4.0}, labels))
    assert convert_main(["ensemble", "--bundles", str(a), str(b), "--out", str(tmp_path / "same")]) == 0
    assert ClassPrior.for_bundle(load_bundle(tmp_path / "same")).named() == {"voluntary_muap": 4.0}
