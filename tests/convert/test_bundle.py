"""Bundle export and the train / evaluate / finetune commands on a small simulated data directory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.edge.bundle_helpers import make_tiny_bundle, synthetic_windows


from convert import quantize  # noqa: E402
from convert.cli import main as convert_main  # noqa: E402
from convert.evaluate import evaluate_windows  # noqa: E402
from convert.quantize import Int8VerificationError  # noqa: E402
from edge.bundle import load_bundle  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


def test_manifest_records_everything_the_device_and_audit_need(tiny):
    b = load_bundle(tiny)
    m = b.manifest
    for key in ("schema", "schema_version", "labels", "pathological", "frontend", "window", "sample_rate",
                "min_sample_rate", "input", "output", "files", "training", "metrics", "kit_version",
                "int8_verification", "architecture"):
        assert key in m, key
    assert m["frontend"]["spec_version"] and m["frontend"]["config"]["n_mels"] == 16
    assert m["input"]["dtype"] == "int8" and m["input"]["scale"] == 1 / 128 and m["input"]["zero_point"] == 0
    assert m["output"]["dtype"] == "int8"
    assert set(m["files"]) == {"model.tflite", "model_float.tflite", "weights.npz"}
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())
    assert m["int8_verification"]["ok"] and m["training"]["seed"] == 0
    # what a rebuild's numbers depend on besides code and seed (a fresh install's TF/Keras)
    import keras
    import tensorflow as tf

    env = m["training"]["environment"]
    assert env["tensorflow"] == tf.__version__ and env["keras"] == keras.__version__ and env["numpy"] == np.__version__
    assert m["model_id"].startswith("emg-cnn-")
    assert set(m["pathological"]) < set(m["labels"])


def test_export_writes_nothing_when_int8_verification_fails(tmp_path, monkeypatch):
    """A converter that silently falls back to float must fail the export."""
    real_int8 = quantize.to_tflite_int8
    monkeypatch.setattr(quantize, "to_tflite_int8",
                        lambda model, rep, verify=True: quantize.to_tflite_float(model))
    with pytest.raises(Int8VerificationError, match="float32"):
        make_tiny_bundle(tmp_path / "bad", epochs=1)
    assert not (tmp_path / "bad" / "manifest.json").exists()
    monkeypatch.setattr(quantize, "to_tflite_int8", real_int8)


def test_evaluate_windows_reports_the_agreed_keys(tiny):
    b = load_bundle(tiny)
    X, y = synthetic_windows(5, b.n_classes, seed=21)
    res = evaluate_windows(b, X, y, latency=True)
    assert 0 <= res["int8"]["macro_f1"] <= 1 and 0 <= res["float"]["macro_f1"] <= 1
    assert 0 <= res["agreement"] <= 1
    assert res["pathological"]["sensitivity"] is not None and res["pathological"]["specificity"] is not None
    assert set(res["per_class"]) == set(b.labels)
    assert np.asarray(res["int8"]["confusion"]).sum() == len(y)
    for k in ("int8_reference", "int8_xnnpack", "float_reference", "float_xnnpack"):
        assert res["latency_ms"][k]["median_ms"] > 0


@pytest.fixture(scope="module")
def datadir(tmp_path_factory):
    """Six short simulated recordings at 8 kHz (resampled to 44.1 kHz by the commands)."""
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav
    from convert.simulator import simulate_clip

    root = tmp_path_factory.mktemp("data")
    for i, label in enumerate(["rest", "fibrillation", "complex_repetitive_discharge"] * 2):
        rec = simulate_clip(label, 3.0, 8000, seed=500 + i)
        write_wav(root / f"r{i}.wav", rec.pcm, rec.sample_rate, rec.uv_per_lsb)
        write_labels_csv(root / f"r{i}.csv", rec.segments, rec.meta.get("events", ()))
    return root


@pytest.fixture(scope="module")
def trained_bundle(datadir, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "bundle"
    rc = convert_main(["train", "--data", str(datadir), "--model", "cnn", "--out", str(out), "--epochs", "1",
                       "--augment-copies", "0", "--cache", str(out.parent / "cache"), "--quiet"])
    assert rc == 0
    return out


def test_train_command_writes_a_loadable_bundle_and_curve(trained_bundle):
    b = load_bundle(trained_bundle)
    assert (trained_bundle / "training_curve.png").stat().st_size > 0
    assert b.window_frames == 100 and b.frontend_config.sample_rate == 44100
    assert b.manifest["training"]["data"]["train"]["windows"] > 0
    # the recipe's class prior on voluntary activity is stated for the runtime (edge.runtime.prior)
    assert b.manifest["decision_prior"]["weights"] == {"voluntary_muap": 4.0}


def test_train_refuses_a_voluntary_weight_out_of_range_in_one_line(datadir, tmp_path, capsys):
    rc = convert_main(["train", "--data", str(datadir), "--out", str(tmp_path / "b"), "--voluntary-weight", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "--voluntary-weight 0 is out of range: allowed 0.01..100" in err[0]
    assert not (tmp_path / "b").exists()


def test_evaluate_command_writes_json_and_confusion_png(trained_bundle, datadir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    rc = convert_main(["evaluate", "--bundle", str(trained_bundle), "--data", str(datadir), "--json", str(out),
                       "--no-latency"])
    assert rc == 0
    res = json.loads(out.read_text())
    for key in ("int8", "float", "agreement", "pathological", "per_class"):
        assert key in res
    assert "macro_f1" in res["int8"] and "sensitivity" in res["pathological"]
    assert res["data"]["sample_rates"] == [8000]
    assert (tmp_path / "eval.confusion.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "macro-F1 int8" in printed
    # The split by cover adds up to the pathological windows and their misses.
    c, p = res["pathological_by_cover"], res["pathological"]
    assert c["inside"]["windows"] + c["edge"]["windows"] == p["tp"] + p["fn"]
    assert c["inside"]["missed"] + c["edge"]["missed"] == p["fn"]
    assert "inside an episode" in printed


def test_finetune_command_continues_from_the_base(trained_bundle, datadir, tmp_path):
    out = tmp_path / "ft"
    rc = convert_main(["finetune", "--base", str(trained_bundle), "--data", str(datadir), "--out", str(out),
                       "--epochs", "1", "--freeze-blocks", "2", "--augment-copies", "0", "--quiet"])
    assert rc == 0
    base, ft = load_bundle(trained_bundle), load_bundle(out)
    t = ft.manifest["training"]
    assert t["finetuned_from"] == base.model_id
    assert t["frozen_layers"] == ["conv0", "bn0", "conv1", "bn1"]
    assert ft.manifest["input"]["feature_to_int8"] == base.manifest["input"]["feature_to_int8"]
    assert ft.manifest["decision_prior"] == base.manifest["decision_prior"]  # it decides as its base did


def test_evaluate_refuses_a_corrupted_bundle_in_one_line(trained_bundle, datadir, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_bundle, bad)
    (bad / "model.tflite").write_bytes(b"garbage")
    rc = convert_main(["evaluate", "--bundle", str(bad), "--data", str(datadir), "--json", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "corrupted" in err and "Traceback" not in err
