"""emg-convert sweep: grid validation and trial ids, a tiny resumable sweep on a local Dask
cluster, and the summary's mean ± sd and paired tests on synthetic metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert.cli import main as convert_main
from convert.sweep import EvalSpec, Grid, make_trial, pending
from convert.sweep_summary import METRICS, bootstrap_ci, format_markdown, parse_reference, sign_flip_p, summarise

TINY = {"model": "cnn", "epochs": 1, "widths": [8, 8], "pools": [[2, 2], [2, 2]], "augment_copies": 0,
        "batch_size": 32}


# ---------------------------------------------------------------- grid and trial ids

def test_grid_is_the_cross_product_with_resolved_configs():
    g = Grid.from_dict({"base": {"model": "cnn", "epochs": 2}, "axes": {"seed": [0, 1, 2], "dropout": [0, 0.5]}})
    trials = g.trials()
    assert len(trials) == 6 and len({t.id for t in trials}) == 6
    assert {(t.config["seed"], t.config["dropout"]) for t in trials} == {(s, d) for s in (0, 1, 2) for d in (0.0, 0.5)}
    t = trials[0]
    assert t.config["learning_rate"] == 2e-3 and t.config["widths"] == [16, 32, 48, 64]  # defaults filled in
    assert t.model_config().dropout == t.config["dropout"] and t.train_config().epochs == 2
    crnn = make_trial({"model": "crnn", "rnn": "tcn"})
    assert crnn.config["rnn"] == "tcn" and crnn.config["widths"] == [16, 32, 48]  # ModelConfig.default("crnn")


@pytest.mark.parametrize("data, match", [
    ({"bogus": {}}, r"unknown section\(s\) bogus; allowed: base, axes, eval, data"),
    ({"data": {"source": "lab"}}, r"data.source 'lab' not one of dir, conditions"),
    ({"data": {"train_clips": 3}}, r"data.train_clips apply to data.source = \"conditions\" only"),
    ({"data": {"source": "conditions", "clips": 3}, "eval": {"sets": ["in_condition"]}},
     r"unknown key\(s\) data.clips; allowed: source, train_clips"),
    ({"data": {"source": "conditions", "train_clips": 0}, "eval": {"sets": ["in_condition"]}},
     r"data.train_clips = 0: allowed range is an integer in 1..1000"),
    ({"data": {"source": "conditions", "clip_s": "8"}, "eval": {"sets": ["in_condition"]}},
     r"data.clip_s = '8': allowed range is 2..600 s"),
    ({"data": {"source": "conditions"}}, r"eval set 'test' is DIR/test.*use in_condition"),
    ({"base": {"initialiser": "he"}}, r"unknown key\(s\) initialiser; allowed: .*dropout"),
    ({"base": {"init": "he"}}, r"init 'he' not one of \('he_normal', 'glorot_uniform'\)"),
    ({"axes": {"spatial_dropout": [0.1, 0.95]}},
     r"spatial_dropout 0.95 out of range \[0, 0.9\) \(trial spatial_dropout=0.95\)"),
    ({"axes": {"dropout": [0.0, 1.5]}}, r"dropout 1.5 out of range \[0, 0.9\) \(trial dropout=1.5\)"),
    ({"base": {"epochs": "8"}}, r"epochs = '8': expected int"),
    ({"base": {"model": "rnn"}}, r"model = 'rnn' not one of \('cnn', 'crnn'\)"),
    ({"base": {"rnn": "tcn"}}, r"applies to model = \"crnn\" only"),
    ({"base": {"model": "crnn", "rnn": "lstmx"}}, r"rnn 'lstmx' not one of"),
    ({"axes": {"seed": []}}, r"axes.seed = \[\]: give a non-empty list"),
    ({"axes": {"seed": [1, 1]}}, r"values repeat"),
    ({"base": {"seed": 1}, "axes": {"seed": [2]}}, r"seed in both \[base\] and \[axes\]"),
    ({"axes": {"dropout": [0.3, 0.2]}, "base": {}}, None),
    ({"eval": {"sets": ["test", "mars"]}}, r"eval.sets .*give distinct names from test, in_condition"),
    ({"eval": {"size": 3}}, r"unknown key\(s\) eval.size; allowed: sets, test_clips, test_recordings"),
])
def test_grid_errors_name_the_bad_key_or_value_and_what_is_allowed(data, match):
    if match is None:
        assert len(Grid.from_dict(data).trials()) == 2
        return
    with pytest.raises(ValueError, match=match):
        Grid.from_dict(data)


def test_grid_file_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text('[base]\nmodel = "cnn"\n[axes]\ndropout = [0.0, 2.0]\n')
    rc = convert_main(["sweep", "--grid", str(grid), "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "dropout 2.0 out of range [0, 0.9)" in err
    grid.write_text("[base\n")
    assert convert_main(["sweep", "--grid", str(grid), "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_missing_sweep_extra_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    rc = convert_main(["sweep", "--grid", "g.toml", "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "sweep extra" in err and "emg-edge-kit[sweep]" in err


_VALUES = {"seed": st.integers(0, 1000), "dropout": st.sampled_from([0, 0.0, 0.25, 0.5]),
           "epochs": st.integers(1, 50), "learning_rate": st.sampled_from([1e-3, 2e-3, 0.01]),
           "spec_augment": st.booleans(), "augment_copies": st.integers(0, 3),
           "head": st.sampled_from(["avg", "avgmax"])}


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_VALUES)), st.just(None), min_size=1).flatmap(
    lambda d: st.fixed_dictionaries({k: _VALUES[k] for k in d})), st.randoms(use_true_random=False))
def test_trial_id_depends_on_the_resolved_config_only(settings_, rnd):
    """Key order, int-for-float spelling and spelling out a default do not change the id."""
    t = make_trial(settings_)
    keys = list(settings_)
    rnd.shuffle(keys)
    shuffled = {k: (float(settings_[k]) if k == "dropout" else settings_[k]) for k in keys}
    assert make_trial(shuffled).id == t.id
    assert make_trial({**settings_, "patience": 6, "model": "cnn"}).id == t.id  # the defaults, spelled out
    other = {**settings_, "epochs": settings_.get("epochs", 40) % 50 + 1}
    assert make_trial(other).id != t.id


@settings(max_examples=20, deadline=None)
@given(st.permutations([0, 1, 2]), st.permutations([0.0, 0.3, 0.5]))
def test_trial_ids_do_not_depend_on_axis_order(seeds, drops):
    a = Grid.from_dict({"axes": {"seed": [0, 1, 2], "dropout": [0.0, 0.3, 0.5]}})
    b = Grid.from_dict({"axes": {"dropout": list(drops), "seed": list(seeds)}})
    assert {t.id for t in a.trials()} == {t.id for t in b.trials()}


# ---------------------------------------------------------------- a tiny sweep on local Dask workers

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """train/ val/ test/ of 3 s simulated clips at 8 kHz, four classes (the synth layout)."""
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav
    from convert.simulator import simulate_clip

    root = tmp_path_factory.mktemp("sweepdata")
    for split, s0 in (("train", 500), ("val", 600), ("test", 700)):
        (root / split).mkdir()
        for i, label in enumerate(["rest", "fibrillation", "complex_repetitive_discharge", "voluntary_muap"]):
            rec = simulate_clip(label, 3.0, 8000, seed=s0 + i)
            write_wav(root / split / f"r{i}.wav", rec.pcm, rec.sample_rate, rec.uv_per_lsb)
            write_labels_csv(root / split / f"r{i}.csv", rec.segments, rec.meta.get("events", ()))
    return root


@pytest.fixture(scope="module")
def swept(tiny_data, tmp_path_factory):
    pytest.importorskip("distributed")
    from convert.sweep import run_sweep

    results = tmp_path_factory.mktemp("sweep") / "results"
    grid = Grid.from_dict({"base": TINY, "axes": {"seed": [0, 1]}})
    logs: list[str] = []
    res = run_sweep(grid, tiny_data, results, workers=1, log=logs.append)
    return grid, results, res, logs


def test_tiny_sweep_writes_config_metrics_and_bundle_per_trial(swept):
    from edge.bundle import load_bundle

    grid, results, res, logs = swept
    assert (res["ran"], res["failed"], res["skipped"]) == (2, 0, 0)
    for t in grid.trials():
        folder = results / t.id
        cfg = json.loads((folder / "config.json").read_text())
        m = json.loads((folder / "metrics.json").read_text())
        assert cfg["config"] == t.config and cfg["settings"]["seed"] == t.config["seed"]
        assert set(m["sets"]) == {"test"} and m["sets"]["test"]["windows"] > 0
        for key in METRICS:
            assert key in m["sets"]["test"]
        assert m["epochs_run"] == 1 and m["train_windows"] > 0
        assert load_bundle(folder / "bundle").model_id == m["bundle"]
        assert "val_macro_f1" in (folder / "train.log").read_text()  # the worker's Keras output, kept apart
    assert not list(results.glob(".tmp-*"))
    assert json.loads((results / "sweep.json").read_text())["trials"] == sorted(t.id for t in grid.trials())


def test_an_interrupted_sweep_resumes_and_skips_finished_trials(swept, tiny_data):
    from convert.sweep import run_sweep

    grid, results, _, _ = swept
    first = {t.id: (results / t.id / "metrics.json").read_text() for t in grid.trials()}
    (results / ".tmp-deadbeef-123").mkdir()  # what a killed trial leaves behind
    logs: list[str] = []
    res = run_sweep(grid, tiny_data, results, workers=1, log=logs.append)
    assert (res["skipped"], res["ran"]) == (2, 0) and logs[0] == "2 trials: 2 done, 0 to run"
    assert {t.id: (results / t.id / "metrics.json").read_text() for t in grid.trials()} == first
    assert not (results / ".tmp-deadbeef-123").exists()
    # a trial folder without metrics.json is not finished: it is removed and run again
    t2 = make_trial({**TINY, "seed": 2})
    (results / t2.id).mkdir()
    (results / t2.id / "config.json").write_text("{}")
    assert pending([*grid.trials(), t2], results) == [t2] and not (results / t2.id).exists()


def test_summary_command_on_the_tiny_sweep(swept, capsys):
    _, results, _, _ = swept
    assert convert_main(["sweep-summary", str(results)]) == 0
    out = capsys.readouterr().out
    assert "| (all) (reference) | 2 |" in out
    s = json.loads((results / "summary.json").read_text())
    assert s["configurations"][0]["seeds"] == [0, 1] and (results / "summary.md").is_file()


def test_an_ensemble_of_a_trial_with_itself_scores_as_the_trial(swept, capsys):
    """sweep-ensemble pairs member trials by seed, writes each ensemble as a trial folder and
    evaluates it on the members' window sets: averaging a model with itself changes no call."""
    from convert.sweep_ensemble import PREFIX

    _, results, _, _ = swept
    argv = ["sweep-ensemble", str(results), "--members", "epochs=1", "epochs=1,augment_copies=0"]
    assert convert_main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == {"seeds": [0, 1], "written": 2, "skipped": 0}
    assert out[0].startswith("ensemble seed 0 (ens-") and "test int8 macro-F1" in out[0]
    ens = sorted(results.glob(PREFIX + "*"))
    assert len(ens) == 2
    for folder in ens:
        cfg = json.loads((folder / "config.json").read_text())["config"]
        m = json.loads((folder / "metrics.json").read_text())
        assert cfg["model"] == "ensemble" and cfg["epochs"] == 1 and len(m["members"]) == 2
        member = json.loads((results / m["members"][0] / "metrics.json").read_text())["sets"]["test"]
        for key in ("int8_macro_f1", "sensitivity", "specificity", "windows", "agreement"):
            assert m["sets"]["test"][key] == member[key]
        assert 0.0 <= member["agreement"] <= 1.0  # int8 vs float top-1, recorded per set
    assert convert_main(argv) == 0  # a rerun skips the ensembles that exist
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 2
    # the ensemble rows join the summary, paired by seed with their members
    s = summarise(results, {"model": "cnn"}, label_keys=["model"])
    by = {c["label"]: c["sets"]["test"]["int8_macro_f1"] for c in s["configurations"]}
    assert set(by) == {'model="cnn"', 'model="ensemble"'}
    assert by['model="ensemble"']["paired"]["n"] == 2 and by['model="ensemble"']["paired"]["mean_diff"] == 0
    assert convert_main(["sweep-ensemble", str(results), "--members", "epochs=1", "epochs=9"]) == 2
    assert "matches 0 configurations" in capsys.readouterr().err


def test_sweep_evaluate_adds_the_real_healthy_record_to_every_finished_trial(swept, capsys):
    """sweep-evaluate runs each trial's bundle (ensembles too) over the PhysioNet healthy
    record through the device chain and adds it to metrics.json; the summary then compares the
    configurations on it. Specificity: every window of a healthy record is non-pathological."""
    from convert.real_records import evaluate_records
    from edge.bundle import load_bundle

    _, results, _, _ = swept
    before = {t.name: json.loads((t / "metrics.json").read_text()) for t in results.glob("*/") if
              (t / "metrics.json").is_file()}
    assert convert_main(["sweep-evaluate", str(results), "--sets", "physionet_healthy"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res == {"trials": len(before), "updated": len(before), "evaluations": len(before)}
    for tid, old in before.items():
        m = json.loads((results / tid / "metrics.json").read_text())
        assert m["sets"]["test"] == old["sets"]["test"]  # the other sets are kept as they were
        h = m["sets"]["physionet_healthy"]
        assert h["windows"] >= 45 and len(h["window_labels"]["emg_healthy"]) == h["windows"]
        assert h["specificity"] == pytest.approx(1 - h["pathological_windows"] / h["windows"], abs=1e-6)
    tid = sorted(t for t in before if not t.startswith("ens-"))[0]
    direct = evaluate_records(load_bundle(results / tid / "bundle"), records=("emg_healthy",))["emg_healthy"]
    h = json.loads((results / tid / "metrics.json").read_text())["sets"]["physionet_healthy"]
    assert (h["window_labels"]["emg_healthy"], h["pathological_alerts"]) == (direct["window_labels"],
                                                                             direct["pathological_alerts"])
    # a rerun has nothing to add; an unknown set is a one-line user error naming the allowed ones
    assert convert_main(["sweep-evaluate", str(results), "--sets", "physionet_healthy"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["updated"] == 0
    assert convert_main(["sweep-evaluate", str(results), "--sets", "emg_healthy"]) == 2
    assert "physionet_healthy" in capsys.readouterr().err
    s = summarise(results, {"model": "cnn"}, label_keys=["model"])
    row = s["configurations"][0]["sets"]["physionet_healthy"]
    assert row["specificity"]["n"] == 2 and row["int8_macro_f1"]["n"] == 0  # no per-window truth: no F1
    assert "physionet_healthy" in format_markdown(s)


def test_a_real_set_is_a_grid_eval_set():
    grid = Grid.from_dict({"base": TINY, "eval": {"sets": ["in_condition", "physionet_healthy"]},
                           "data": {"source": "conditions"}})
    assert grid.eval.sets == ("in_condition", "physionet_healthy")
    with pytest.raises(ValueError, match="physionet_healthy"):
        EvalSpec(sets=("emg_healthy",))


def test_a_fine_tuning_sweep_continues_the_base_and_keeps_frozen_blocks(swept, tiny_data, tmp_path):
    """base_bundle/freeze_blocks: the trial starts from the base's weights and feature → int8
    rule, its first blocks unchanged; the resolved config names the base's model id."""
    from convert.sweep import run_sweep
    from edge.bundle import load_bundle

    grid0, results0, _, _ = swept
    base = load_bundle(results0 / grid0.trials()[0].id / "bundle")
    grid = Grid.from_dict({"base": {"base_bundle": str(base.path), "epochs": 1, "augment_copies": 0,
                                    "learning_rate": 3e-4},
                           "axes": {"freeze_blocks": [1, 0], "seed": [0]}})
    assert {t.config["base_model_id"] for t in grid.trials()} == {base.model_id}
    assert "widths" not in grid.trials()[0].settings and grid.trials()[0].config["widths"] == [8, 8]
    res = run_sweep(grid, tiny_data, tmp_path / "ft", workers=1, log=lambda _: None)
    assert (res["ran"], res["failed"]) == (2, 0)
    by = {t.config["freeze_blocks"]: load_bundle(tmp_path / "ft" / t.id / "bundle") for t in grid.trials()}
    w0, w1, w2 = (np.load(b.path / "weights.npz") for b in (base, by[1], by[0]))
    assert by[1].manifest["training"]["finetuned_from"] == base.model_id
    assert by[1].manifest["training"]["frozen_layers"] == ["conv0", "bn0"]
    assert by[1].manifest["input"]["feature_to_int8"] == base.manifest["input"]["feature_to_int8"]
    np.testing.assert_array_equal(w1["w000"], w0["w000"])  # conv0 kernel: frozen
    assert not np.array_equal(w2["w000"], w0["w000"])      # trained when nothing is frozen
    # model keys belong to the base; freeze_blocks needs a base
    with pytest.raises(ValueError, match="keeps its base's architecture"):
        make_trial({"base_bundle": str(base.path), "dropout": 0.1})
    with pytest.raises(ValueError, match="applies to fine-tuning only"):
        make_trial({"freeze_blocks": 1})
    with pytest.raises(ValueError, match=r"freeze_blocks = 3 out of range 0..2"):
        make_trial({"base_bundle": str(base.path), "freeze_blocks": 3})


# ---------------------------------------------------------------- summary statistics

def _fake_results(root: Path, values: dict[float, list[float]]) -> Path:
    """Trials dropout × seed with ``int8_macro_f1`` = values[dropout][seed], written as the sweep does."""
    (root / "sweep.json").write_text(json.dumps({"grid": {"axes": {"seed": [0, 1, 2, 3, 4],
                                                                   "dropout": sorted(values)}}}))
    for d, vals in values.items():
        for seed, v in enumerate(vals):
            t = make_trial({"dropout": d, "seed": seed})
            (root / t.id).mkdir()
            (root / t.id / "config.json").write_text(json.dumps({"id": t.id, "settings": t.settings,
                                                                 "config": t.config}))
            sets = {"test": {"int8_macro_f1": v, "sensitivity": 0.9, "specificity": 0.8 + seed / 100,
                             "voluntary_called_pathological": None}}
            (root / t.id / "metrics.json").write_text(json.dumps({"id": t.id, "sets": sets}))
    return root


def test_summary_mean_sd_and_paired_comparison(tmp_path):
    ref_vals, new_vals = [0.80, 0.82, 0.79, 0.85, 0.81], [0.83, 0.86, 0.80, 0.88, 0.84]
    s = summarise(_fake_results(tmp_path, {0.0: ref_vals, 0.5: new_vals}))
    assert s["reference"] == "dropout=0.0" and s["varying"] == ["dropout"]
    by = {c["label"]: c["sets"]["test"] for c in s["configurations"]}
    f1 = by["dropout=0.5"]["int8_macro_f1"]
    assert f1["n"] == 5 and f1["mean"] == pytest.approx(np.mean(new_vals))
    assert f1["sd"] == pytest.approx(np.std(new_vals, ddof=1))
    d = np.subtract(new_vals, ref_vals)
    assert f1["paired"]["mean_diff"] == pytest.approx(d.mean())
    assert f1["paired"]["p_sign_flip"] == pytest.approx(2 / 32)  # all 5 differences positive
    lo, hi = f1["paired"]["ci95"]
    assert d.min() <= lo <= d.mean() <= hi <= d.max()
    assert by["dropout=0.5"]["specificity"]["paired"]["mean_diff"] == pytest.approx(0.0)  # same per seed
    assert by["dropout=0.5"]["voluntary_called_pathological"]["n"] == 0  # None values left out
    assert "paired" not in by["dropout=0.0"]["int8_macro_f1"]
    md = format_markdown(s)
    assert "| dropout=0.0 (reference) | 5 | 0.814 ± 0.023 |" in md and "p 0.062" in md
    s2 = summarise(tmp_path, parse_reference("dropout=0.5"))
    assert s2["reference"] == "dropout=0.5"
    with pytest.raises(ValueError, match="matches 0 configurations.*dropout=0.0; dropout=0.5"):
        summarise(tmp_path, {"dropout": 0.7})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False).filter(lambda x: abs(x) > 1e-6), min_size=1, max_size=10))
def test_sign_flip_p_is_exact_and_symmetric(d):
    d = np.array(d)
    p = sign_flip_p(d)
    n = len(d)
    assert 2 / 2 ** n - 1e-12 <= p <= 1.0
    assert sign_flip_p(-d) == pytest.approx(p)
    if np.all(d > 0) and len(set(np.round(d, 9))) == 1:
        assert p == pytest.approx(min(1.0, 2 / 2 ** n))


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    d = np.array([0.01, 0.03, -0.01, 0.02, 0.04, 0.00])
    lo, hi = bootstrap_ci(d)
    assert lo < d.mean() < hi and (lo, hi) == bootstrap_ci(d)
    assert np.isnan(bootstrap_ci(np.array([0.1]))[0])


def test_reference_parsing():
    assert parse_reference("dropout=0.5, model=cnn,spec_augment=true") == {"dropout": 0.5, "model": "cnn",
                                                                            "spec_augment": True}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_reference("dropout")


def test_a_second_sweep_on_the_same_results_is_refused(tmp_path):
    from clikit import UserError

    from convert.sweep import results_lock

    with results_lock(tmp_path):
        with pytest.raises(UserError, match="another sweep is running on"):
            with results_lock(tmp_path):
                pass
    with results_lock(tmp_path):  # released
        pass


# ---------------------------------------------------------------- model options and the training condition as grid keys

def test_initialiser_and_spatial_dropout_are_grid_keys():
    g = Grid.from_dict({"base": {"dropout": 0.3}, "axes": {"init": ["he_normal", "glorot_uniform"],
                                                            "spatial_dropout": [0.0, 0.1]}})
    trials = g.trials()
    assert len({t.id for t in trials}) == 4
    by = {(t.config["init"], t.config["spatial_dropout"]): t for t in trials}
    m = by[("glorot_uniform", 0.1)].model_config()
    assert (m.init, m.spatial_dropout, m.dropout) == ("glorot_uniform", 0.1, 0.3)
    # the defaults resolve to the same trial as a grid that does not name them
    assert by[("he_normal", 0.0)].id == make_trial({"dropout": 0.3}).id


def test_conditions_source_builds_the_cross_condition_training_sets(tmp_path):
    """[data] source = "conditions": the windows are convert.conditions.build_train_sets' own
    (concentric needle, TRAIN_CHAIN copies from data_seed, training hop 0.5 s), no --data."""
    from clikit import UserError

    from convert import trainset
    from convert.conditions import build_train_sets
    from convert.sweep import CONDITIONS_TRAIN_HOP_S, _frontend, load_set, prepare_features, run_sweep

    sizes = {"train_clips": 1, "train_recordings": 0, "val_clips": 1, "val_recordings": 0, "clip_s": 3.0,
             "voluntary_factor": 1}
    grid = Grid.from_dict({"base": {**TINY, "augment_copies": 1, "data_seed": 3}, "axes": {"seed": [0]},
                           "eval": {"sets": ["in_condition"], "test_clips": 1, "test_recordings": 0},
                           "data": {"source": "conditions", **sizes}})
    assert grid.to_dict()["data"] == {"source": "conditions", **sizes}
    with pytest.raises(UserError, match="builds its own training data"):
        run_sweep(grid, tmp_path, tmp_path / "r")
    with pytest.raises(UserError, match="give --data DIR"):
        run_sweep(Grid.from_dict({"axes": {"seed": [0]}}), None, tmp_path / "r")
    feat = prepare_features(grid, grid.trials(), None, tmp_path, tmp_path / "cache", log=lambda s: None)
    X, y, info = load_set(feat / "train-a1-s3")
    fe, wcfg = _frontend()
    tr, va, _ = build_train_sets(grid.data.condition_sizes(1), fe, trainset.window_config(1.0, CONDITIONS_TRAIN_HOP_S),
                                 wcfg, 3)
    np.testing.assert_array_equal(np.asarray(X), tr.X)
    np.testing.assert_array_equal(y, tr.y)
    np.testing.assert_array_equal(load_set(feat / "val-a1-s3")[1], va.y)
    assert (feat / "eval-in_condition" / "info.json").is_file()


def test_summary_labels_rows_of_several_grids_by_resolved_value(tmp_path):
    """Grids run into one RESULTS folder name different keys; rows are told apart by the
    resolved configuration, so the default row of one grid is the same row in another."""
    rows = [({"dropout": 0.3}, [0.80, 0.82, 0.79, 0.85, 0.81, 0.80]),                 # grid a, names dropout only
            ({"dropout": 0.0}, [0.81, 0.80, 0.80, 0.86, 0.80, 0.79]),
            ({"init": "glorot_uniform", "dropout": 0.3}, [0.70, 0.71, 0.72, 0.75, 0.70, 0.69])]  # grid b
    for settings_, vals in rows:
        for seed, v in enumerate(vals):
            t = make_trial({**settings_, "seed": seed})
            (tmp_path / t.id).mkdir()
            (tmp_path / t.id / "config.json").write_text(json.dumps({"id": t.id, "settings": t.settings,
                                                                     "config": t.config}))
            sets = {"monopolar": {m: v for m in METRICS}}
            (tmp_path / t.id / "metrics.json").write_text(json.dumps({"id": t.id, "sets": sets}))
    # a key that does not vary (spatial_dropout) may be named in the reference: matched on the resolved config
    s = summarise(tmp_path, parse_reference("dropout=0.3,init=he_normal,spatial_dropout=0.0"))
    assert s["varying"] == ["dropout", "init"] and s["reference"] == 'dropout=0.3, init="he_normal"'
    by = {c["label"]: c["sets"]["monopolar"]["int8_macro_f1"] for c in s["configurations"]}
    assert set(by) == {'dropout=0.3, init="he_normal"', 'dropout=0.0, init="he_normal"',
                       'dropout=0.3, init="glorot_uniform"'}
    g = by['dropout=0.3, init="glorot_uniform"']["paired"]
    d = np.subtract(rows[2][1], rows[0][1])
    assert g["n"] == 6 and g["mean_diff"] == pytest.approx(d.mean())
    assert g["p_sign_flip"] == pytest.approx(2 / 64) and g["ci95"][1] < 0  # six of six lower: p = 2/2^6


def test_summary_select_and_label_keep_and_name_the_chosen_rows(tmp_path):
    s_all = summarise(_fake_results(tmp_path, {0.0: [0.8] * 3, 0.3: [0.7] * 3, 0.5: [0.6] * 3}))
    assert len(s_all["configurations"]) == 3
    s = summarise(tmp_path, {"dropout": 0.5}, select=[{"dropout": 0.5}, {"dropout": 0.3}])
    assert [c["label"] for c in s["configurations"]] == ["dropout=0.5", "dropout=0.3"]
    row = s["configurations"][1]["sets"]["test"]["int8_macro_f1"]
    assert row["values"] == {"0": 0.7, "1": 0.7, "2": 0.7} and row["paired"]["mean_diff"] == pytest.approx(0.1)
    s = summarise(tmp_path, {"dropout": 0.5}, label_keys=["dropout", "init"])
    assert 'dropout=0.5, init="he_normal"' in {c["label"] for c in s["configurations"]}
    with pytest.raises(ValueError, match="do not tell the 3 configurations apart"):
        summarise(tmp_path, {"dropout": 0.5}, label_keys=["init"])
    with pytest.raises(ValueError, match="no finished trial matches"):
        summarise(tmp_path, select=[{"dropout": 0.9}])


def test_eval_sizes_use_the_shared_range_table():
    with pytest.raises(ValueError, match=r"^eval\.test_clips = 0: allowed range is an integer in 1\.\.1000$"):
        EvalSpec(sets=("in_condition",), test_clips=0)
