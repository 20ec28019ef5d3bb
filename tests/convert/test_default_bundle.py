"""The shipped default bundle: small, verified full-int8, documented, and reproducing the
metrics recorded in its manifest on a regenerated simulated set (fixed seeds, ~1 min)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from convert.default_bundle import SETS, SetSpec, simulate_set
from convert.evaluate import evaluate_windows, window_config_for
from convert.quantize import verify_int8
from edge.bundle import load_bundle


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("default")


def test_default_bundle_is_small_verified_and_documented(bundle):
    assert bundle.model_path.stat().st_size <= 200 * 1024
    report = verify_int8(bundle.model_path.read_bytes())
    assert report.ok and report.input_dtype == report.output_dtype == "int8"
    card = (bundle.path / "MODEL_CARD.md").read_text()
    for needle in ("Not a medical device", "Intended use", "Training data (simulated)", "Validation status",
                   "4 kHz", "8 kHz", "22.05 kHz"):
        assert needle in card
    assert bundle.sample_rate == 44100 and bundle.min_sample_rate == 4000
    m = bundle.manifest["metrics"]
    for key in ("test", "test_at_4000hz", "test_at_8000hz", "test_at_22050hz", "repro"):
        assert key in m
    assert m["test"]["windows"] >= 30 * 60 / bundle.hop_s * 0.9  # >= 30 min of held-out audio


def test_default_bundle_is_built_by_its_recipe(bundle):
    """The shipped bundle is what `python -m convert.default_bundle` builds (architecture and
    the recipe's dropout, docs/TRAINING.md "Dropout at the full budget")."""
    from convert.default_bundle import RECIPE_DROPOUT

    arch = bundle.manifest["architecture"]
    assert arch["arch"] == "cnn" and arch["dropout"] == RECIPE_DROPOUT


def test_default_bundle_reproduces_its_recorded_metrics(bundle):
    from convert.trainset import features

    spec = SETS["repro"]
    assert bundle.manifest["training"]["data"]["sets"]["repro"]["seed0"] == asdict(spec)["seed0"]
    fs = features(simulate_set(spec), bundle.frontend_config, window_config_for(bundle))
    res = evaluate_windows(bundle, fs.X, fs.y, latency=False)
    rec = bundle.manifest["metrics"]["repro"]
    assert res["windows"] == rec["windows"]
    # simulator, front-end, resampler and reference kernels are deterministic: exact figures
    assert res["int8"]["macro_f1"] == pytest.approx(rec["int8_macro_f1"], abs=1e-6)
    assert res["float"]["macro_f1"] == pytest.approx(rec["float_macro_f1"], abs=1e-6)
    assert res["agreement"] == pytest.approx(rec["agreement"], abs=1e-6)
    assert res["pathological"]["sensitivity"] == pytest.approx(rec["sensitivity"], abs=1e-6)
    assert res["pathological"]["specificity"] == pytest.approx(rec["specificity"], abs=1e-6)


def test_overlay_clips_put_every_pathology_over_every_background_after_the_other_seeds():
    from convert.simulator import OVERLAYS
    from convert.taxonomy import PATHOLOGICAL

    base = dict(seed0=990_000, clips_per_class=0, clip_s=1.5, recordings=1, recording_s=2.0)
    spec = SetSpec(**base, overlay_clips=1)
    recs = simulate_set(spec, workers=1)
    assert sum(r.pcm.size / r.sample_rate for r in recs) == pytest.approx(spec.audio_s)
    # the examination keeps its seed: the overlay clips come after it
    assert recs[0].meta["seed"] == simulate_set(SetSpec(**base), workers=1)[0].meta["seed"]
    got = {(r.meta["episodes"][0]["label"], r.meta["episodes"][0]["background"]) for r in recs[1:]}
    assert got == {(p, o) for p in PATHOLOGICAL for o in OVERLAYS}
    assert all(s.overlay_clips == 0 for s in SETS.values())  # measured, not shipped (SetSpec docstring)


def test_build_command_spells_out_what_differs_from_todays_recipe(bundle):
    # The shipped bundle is today's recipe: its card gives the plain command. A bundle from
    # before the weight average and the second generator gets both spelled out.
    from convert.default_bundle import RECIPE_WEIGHT_AVERAGE, SETS, build_command

    base = "python -m convert.default_bundle --out edge/bundles/default"
    assert build_command(bundle.manifest["training"], bundle.manifest["architecture"]) == base
    assert f"`{base}`" in (bundle.path / "MODEL_CARD.md").read_text()
    sets = {"sets": {"train": {"altsim_clips": SETS["train"].altsim_clips}}}
    today = {"seed": 0, "config": {"epochs": 10, "weight_average": RECIPE_WEIGHT_AVERAGE}, "data": sets}
    assert build_command(today) == base
    assert build_command({"seed": 2, "config": {"epochs": 16, "weight_average": 0.0}}) == \
        base + " --seed 2 --epochs 16 --weight-average 0 --altsim-clips 0"


def test_build_command_spells_out_a_non_default_architecture():
    from convert.default_bundle import RECIPE_WEIGHT_AVERAGE, SETS, build_command

    base = "python -m convert.default_bundle --out edge/bundles/default"
    today = {"seed": 0, "config": {"epochs": 10, "weight_average": RECIPE_WEIGHT_AVERAGE},
             "data": {"sets": {"train": {"altsim_clips": SETS["train"].altsim_clips}}}}
    shipped = {"arch": "cnn", "widths": [16, 32, 48, 64], "pools": [[2, 2], [2, 2], [2, 2], [1, 1]], "dropout": 0.3}
    assert build_command(today, shipped) == base
    five = {**shipped, "widths": [16, 32, 48, 64, 64], "pools": [[2, 2], [2, 2], [2, 2], [2, 1], [1, 1]]}
    assert build_command(today, five) == base + " --widths 16 32 48 64 64 --pools 2x2 2x2 2x2 2x1 1x1"
    assert build_command(today, {**shipped, "dropout": 0.0}) == base + " --dropout 0"


def test_recipe_command_checks_pools_before_simulating(capsys):
    from convert.default_bundle import main

    for argv, msg in ((["--pools", "2x9"], "each factor must be 1..8"), (["--pools", "two"], "write TIMExMEL"),
                      (["--widths", "16", "32", "--pools", "2x2"], "one (time, mel) pair per width")):
        with pytest.raises(SystemExit) as e:
            main(["--out", "/nonexistent/never-built", *argv])
        assert e.value.code == 2
        assert msg in capsys.readouterr().err


def test_altsim_clips_add_the_second_generator_to_a_set_with_its_scale_and_labels():
    from convert.default_bundle import altsim_set
    from convert.taxonomy import LABELS

    spec = SetSpec(seed0=990_000, clips_per_class=0, clip_s=2.0, recordings=0, recording_s=2.0, altsim_clips=1)
    recs = altsim_set(spec)
    assert sum(r.pcm.size / r.sample_rate for r in recs) == pytest.approx(spec.audio_s)
    named = {r.name.split("_", 1)[1].rsplit("_", 1)[0]: r for r in recs}
    assert set(named) == set(LABELS)
    # every clip carries its class, as a segment or (sparse classes) as point events
    assert all({s.label for s in r.segments} | {e[1] for e in r.meta["events"]} >= {lab}
               for lab, r in named.items() if lab != "rest")
    assert sum(r.name.startswith("altsim990000_voluntary_muap") for r in recs) == 3
    assert {(r.sample_rate, r.uv_per_lsb) for r in recs} == {(44100, 0.8)}
    assert [e for r in recs if r.name.startswith("altsim990000_fibrillation") for e in r.meta["events"]]
    assert altsim_set(SetSpec(seed0=1, clips_per_class=0, clip_s=2.0, recordings=0, recording_s=2.0)) == []


def test_recipe_command_checks_altsim_clips_before_simulating(capsys):
    from convert.default_bundle import main

    with pytest.raises(SystemExit) as e:
        main(["--out", "/nonexistent/never-built", "--altsim-clips", "500"])
    assert e.value.code == 2
    assert "--altsim-clips 500: allowed 0..200" in capsys.readouterr().err
