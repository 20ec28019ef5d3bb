"""The cross-condition harness: conditions really hold out what they say, the needle fallback
is reported, and the run behind ``benchmarks/cross_condition.py --quick`` (``convert.cross_condition``)
runs end to end (< 60 s)."""

from __future__ import annotations

import json

import pytest

from convert import conditions as C
from convert import cross_condition
from convert.train import VOLUNTARY_WEIGHT


def test_each_test_condition_holds_out_its_axis():
    tr = C.TRAIN_CHAIN
    assert min(tr.sample_rates_hz) >= 22050 and tr.highpass_hz == (5.0, 10.0) and tr.lowpass_hz[0] >= 5000
    assert C.CONDITIONS["monopolar"].needle == "monopolar" and C.CONDITIONS["in_condition"].chains == (tr,)
    assert max(C.CONDITIONS["low_rate"].chains[0].sample_rates_hz) < min(tr.sample_rates_hz)
    for ch in C.CONDITIONS["unseen_filters"].chains:
        assert ch.lowpass_hz[1] < tr.lowpass_hz[0]
        assert ch.highpass_hz[1] < tr.highpass_hz[0] or ch.highpass_hz[0] > tr.highpass_hz[1]
    seeds = sorted(C.SEED0.values())
    assert all(b - a >= 100_000 for a, b in zip(seeds, seeds[1:]))


def test_a_simulator_without_needle_types_is_reported(monkeypatch):
    from convert import simulator

    class OldSubject:
        @staticmethod
        def draw(seed):
            return ("subject", seed)

    monkeypatch.setattr(simulator, "Subject", OldSubject)
    assert C.draw_subject(3, "monopolar") == (("subject", 3), False)
    assert C.draw_subject(3, "concentric") == (("subject", 3), True)


def test_summarise_gives_mean_and_sd_over_seeds():
    runs = [{"conditions": {"x": {"int8_macro_f1": f, "sensitivity": 1.0, "specificity": 0.5,
                                  "voluntary_called_pathological": v, "normal_called_pathological": 0.1,
                                  "windows": 10}}}
            for f, v in ((0.5, 0.2), (0.7, None))]
    s = C.summarise(runs)["x"]
    assert s["int8_macro_f1"]["mean"] == 0.6 and s["int8_macro_f1"]["sd"] == pytest.approx(0.1414, abs=1e-4)
    assert s["voluntary_called_pathological"] == {"mean": 0.2, "sd": 0.0, "values": [0.2]}
    assert "0.600 ± 0.141" in C.format_table({"x": s})


@pytest.mark.slow
def test_quick_harness_runs_end_to_end(tmp_path, capsys):
    out, work = tmp_path / "cc.json", tmp_path / "work"
    assert cross_condition.main(["--quick", "--out", str(out), "--work", str(work)]) == 0
    res = json.loads(out.read_text())
    # --reuse scores the trained bundle again (here on a larger test set) without training it
    again = tmp_path / "again.json"
    assert cross_condition.main(["--quick", "--test-clips", "2", "--reuse", "--work", str(work),
                                 "--out", str(again)]) == 0
    res2 = json.loads(again.read_text())
    assert res2["runs"][0]["reused"] == str(work / "seed0") and res2["runs"][0]["best_epoch"] == res["runs"][0]["best_epoch"]
    assert res2["runs"][0]["training"]["train"] == res["runs"][0]["training"]["train"]
    assert res2["runs"][0]["model"] == res["runs"][0]["model"] and res["runs"][0]["model"]["arch"] == "cnn"
    assert all(res2["runs"][0]["conditions"][k]["windows"] > res["runs"][0]["conditions"][k]["windows"]
               for k in C.CONDITIONS)
    # a bundle trained with other training sizes is refused in one line
    assert cross_condition.main(["--quick", "--epochs", "3", "--reuse", "--work", str(work),
                                 "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reuse:" in err[0] and "'epochs': 2" in err[0]
    assert res["seeds"] == [0] and res["sizes"]["epochs"] == 2
    # the recipe's class prior is in the bundle, and the model's own figures are kept beside it
    assert res["runs"][0]["class_prior"] == {"voluntary_muap": VOLUNTARY_WEIGHT}
    assert all(c["voluntary_called_pathological_no_prior"] is not None for c in res["runs"][0]["conditions"].values())
    assert set(res["summary"]) == set(C.CONDITIONS)
    for name, figs in res["summary"].items():
        assert 0.0 <= figs["int8_macro_f1"]["mean"] <= 1.0
        assert set(figs) >= {"sensitivity", "specificity", "voluntary_called_pathological",
                             "normal_called_pathological"}
    seen = res["conditions"]
    assert max(seen["low_rate"]["seen"]["sample_rates_hz"]) <= 10000
    assert min(seen["in_condition"]["seen"]["sample_rates_hz"]) >= 22050
    assert seen["unseen_filters"]["seen"]["lowpass_applied_hz"][1] <= 3000


@pytest.mark.parametrize("kw, match", [
    (dict(train_clips=0), r"Sizes\.train_clips = 0: allowed range is an integer in 1\.\.1000"),
    (dict(clip_s=1.0), r"Sizes\.clip_s = 1\.0: allowed range is 2\.\.600 s"),
    (dict(epochs=2.5), r"Sizes\.epochs = 2\.5: allowed range is an integer in 1\.\.1000"),
    (dict(widths=()), r"Sizes\.widths = \(\): need a non-empty tuple"),
    (dict(weight_average=1.0), r"Sizes\.weight_average = 1\.0: allowed range is 0\.\.0\.99999"),
])
def test_sizes_name_the_bad_value_and_its_range(kw, match):
    from convert.conditions import Sizes

    with pytest.raises(ValueError, match=match):
        Sizes(**kw)
    Sizes.quick()  # the smoke sizes are valid


def test_training_sizes_name_the_weight_average_only_when_on():
    # A bundle trained before the option existed recorded no weight_average: --reuse still
    # accepts it for a run without the option, and not for one with it.
    from convert.conditions import Sizes, _training_sizes

    assert "weight_average" not in _training_sizes(Sizes())
    assert _training_sizes(Sizes(weight_average=0.999))["weight_average"] == 0.999


def test_altsim_clips_are_a_training_size_checked_and_recorded_only_when_used():
    from dataclasses import replace

    from convert import conditions as C

    with pytest.raises(ValueError, match="altsim_clips"):
        C.Sizes(altsim_clips=500)
    assert "altsim_clips" not in C._training_sizes(C.Sizes())
    assert C._training_sizes(replace(C.Sizes(), altsim_clips=10))["altsim_clips"] == 10


def test_first_seed_is_checked_before_anything_is_built(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cross_condition.main(["--quick", "--first-seed", "-1", "--out", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "--first-seed -1: allowed 0..10000" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
