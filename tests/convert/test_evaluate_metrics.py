"""The share of voluntary (and of all normal) windows called pathological: on a hand-made
confusion, in evaluate_windows / format_report, and the evaluate command under a drawn chain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convert.metrics import called_pathological, pathological_detection
from convert.taxonomy import LABEL_INDEX, LABELS, PATHOLOGICAL

MASK = np.array([name in PATHOLOGICAL for name in LABELS])
VOL, REST, CRD, FIB = (LABEL_INDEX[k] for k in ("voluntary_muap", "rest", "complex_repetitive_discharge",
                                                  "fibrillation"))


def test_share_of_voluntary_windows_called_pathological_on_a_hand_made_confusion():
    # 10 voluntary windows: 6 right, 3 called CRD, 1 called rest; 5 rest: 4 right, 1 called fibrillation;
    # 4 CRD windows: all called CRD (not counted in either share)
    y = [VOL] * 10 + [REST] * 5 + [CRD] * 4
    p = [VOL] * 6 + [CRD] * 3 + [REST] + [REST] * 4 + [FIB] + [CRD] * 4
    v = called_pathological(y, p, MASK, [VOL])
    assert v == {"windows": 10, "called_pathological": 3, "share": 0.3}
    n = called_pathological(y, p, MASK)
    assert n == {"windows": 15, "called_pathological": 4, "share": round(4 / 15, 6)}
    spec = pathological_detection(y, p, MASK)["specificity"]
    assert n["share"] == pytest.approx(1 - spec, abs=1e-6)  # false alarms per normal window
    assert called_pathological([CRD], [CRD], MASK, [VOL]) == {"windows": 0, "called_pathological": 0, "share": None}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.edge.bundle_helpers import make_tiny_bundle

    return make_tiny_bundle(tmp_path_factory.mktemp("tiny") / "bundle", epochs=1)


def test_evaluate_windows_and_report_carry_the_shares(tiny):
    from convert.evaluate import evaluate_windows, format_report
    from edge.bundle import load_bundle
    from tests.edge.bundle_helpers import synthetic_windows

    b = load_bundle(tiny)
    X, y = synthetic_windows(5, b.n_classes, seed=3)
    res = evaluate_windows(b, X, y, latency=False)
    pred = np.asarray(res["int8"]["confusion"])
    vol_row = pred[VOL]
    assert res["voluntary_called_pathological"]["windows"] == int(vol_row.sum())
    assert res["voluntary_called_pathological"]["called_pathological"] == int(vol_row[MASK].sum())
    assert res["normal_called_pathological"]["called_pathological"] == int(pred[~MASK][:, MASK].sum())
    assert "called pathological (int8): voluntary windows" in format_report(res)


def test_evaluate_decides_under_the_bundles_prior_and_keeps_the_models_own_figures(tiny, tmp_path):
    import shutil

    from convert.evaluate import evaluate_windows, format_report
    from convert.export import prior_entry, update_manifest
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier
    from edge.runtime.prior import ClassPrior
    from tests.edge.bundle_helpers import synthetic_windows

    b0 = load_bundle(tiny)
    X, y = synthetic_windows(5, b0.n_classes, seed=3)
    plain = evaluate_windows(b0, X, y, latency=False)
    assert "class_prior" not in plain  # no prior stated: the model's argmax, as before
    work = tmp_path / "weighted"
    shutil.copytree(tiny, work)
    update_manifest(work, decision_prior=prior_entry({"voluntary_muap": 20.0}, b0.labels))
    b = load_bundle(work)
    res = evaluate_windows(b, X, y, latency=False)
    assert res["class_prior"]["weights"] == {"voluntary_muap": 20.0}
    assert res["class_prior"]["int8_without"]["macro_f1"] == plain["int8"]["macro_f1"]
    expect = ClassPrior.for_bundle(b).apply(Int8Classifier(b).predict_many(X)).argmax(axis=1)
    assert res["int8"]["confusion"] == np.asarray(
        [[int(np.sum((y == t) & (expect == p))) for p in range(b.n_classes)] for t in range(b.n_classes)]).tolist()
    assert "class prior voluntary_muap x20 (figures above); the model's own argmax: macro-F1" in format_report(res)
    called = np.asarray(res["int8"]["confusion"])[:, VOL].sum()
    assert called >= np.asarray(plain["int8"]["confusion"])[:, VOL].sum()


def test_evaluate_command_under_a_drawn_chain_records_the_chains(tiny, tmp_path, capsys):
    from convert.cli import main as convert_main
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav
    from convert.simulator import simulate_clip

    data = tmp_path / "data"
    data.mkdir()
    for i, label in enumerate(["voluntary_muap", "fibrillation"]):
        rec = simulate_clip(label, 2.0, 44100, seed=900 + i)
        write_wav(data / f"r{i}.wav", rec.pcm, rec.sample_rate, rec.uv_per_lsb)
        write_labels_csv(data / f"r{i}.csv", rec.segments, rec.meta.get("events", ()))
    out = tmp_path / "eval.json"
    rc = convert_main(["evaluate", "--bundle", str(tiny), "--data", str(data), "--json", str(out),
                       "--no-latency", "--chain-seed", "40"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["data"]["chain_seed"] == 40 and [c["seed"] for c in res["data"]["chains"]] == [40, 41]
    assert res["data"]["sample_rates"] == sorted({c["sample_rate"] for c in res["data"]["chains"]})
    assert res["voluntary_called_pathological"]["windows"] > 0
    assert "voluntary windows" in capsys.readouterr().out


def test_evaluate_writes_its_json_even_without_matplotlib(tiny, tmp_path, capsys, monkeypatch):
    """The figures come first: a missing plotting library must not lose them."""
    import builtins

    from convert.cli import main as convert_main
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav
    from convert.simulator import simulate_clip

    data = tmp_path / "data"
    data.mkdir()
    rec = simulate_clip("fibrillation", 2.0, 44100, seed=905)
    write_wav(data / "r.wav", rec.pcm, rec.sample_rate, rec.uv_per_lsb)
    write_labels_csv(data / "r.csv", rec.segments, rec.meta.get("events", ()))
    real_import = builtins.__import__

    def no_matplotlib(name, *a, **k):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "eval.json"
    assert convert_main(["evaluate", "--bundle", str(tiny), "--data", str(data), "--json", str(out),
                         "--no-latency"]) == 0
    assert "int8" in json.loads(out.read_text()) and "no confusion plot" in capsys.readouterr().out


def test_sensitivity_by_cover_splits_pathological_windows_inside_and_at_the_edge():
    from types import SimpleNamespace

    from convert.evaluate import sensitivity_by_cover

    path = {1}
    bundle = SimpleNamespace(n_classes=3, is_pathological=lambda i: i in path)
    y = np.array([1, 1, 1, 1, 0, 2])
    pred = np.array([1, 0, 1, 0, 0, 1])
    cover = np.array([1.0, 1.0, 0.4, 0.3, 1.0, 1.0])
    res = sensitivity_by_cover(y, pred, cover, bundle)
    assert res == {"inside": {"windows": 2, "missed": 1, "sensitivity": 0.5},
                   "edge": {"windows": 2, "missed": 1, "sensitivity": 0.5}}
    none = sensitivity_by_cover(np.array([0]), np.array([0]), np.array([1.0]), bundle)
    assert none["inside"] == {"windows": 0, "missed": 0, "sensitivity": None}
