"""The model card states the bundle's own front-end and window settings and one build time (the
manifest's), not fixed text."""

from __future__ import annotations

import copy
import json
import shutil

from convert.default_bundle import write_model_card
from edge.bundle import load_bundle
from edge.frontend import FrontendConfig


class _Retuned:
    """The default bundle with another front-end, windowing and build time (only what the card reads)."""

    def __init__(self, bundle, build_seconds: float) -> None:
        self._b = bundle
        self.frontend_config = FrontendConfig(sample_rate=16000, window_ms=32.0, hop_ms=16.0, n_mels=40,
                                              fmin_hz=30.0, fmax_hz=7000.0)
        self.window_s, self.hop_s = 2.0, 0.5
        self.manifest = copy.deepcopy(bundle.manifest)
        self.manifest["training"]["build_seconds"] = build_seconds

    def __getattr__(self, name):
        return getattr(self._b, name)


def test_card_takes_frontend_windows_and_build_time_from_the_bundle(tmp_path):
    bundle = load_bundle("default")
    for name in ("evaluation.json", "open_set.json"):
        shutil.copy(bundle.path / name, tmp_path / name)
    fake = _Retuned(bundle, build_seconds=754.0)
    write_model_card(tmp_path, fake, fake.manifest["metrics"])
    card = (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "32 ms / 16 ms, 40 Mel bands\n30 Hz–7 kHz" in card
    assert "25 ms" not in card and "64 Mel" not in card
    assert "one window of 2 s every 0.5 s" in card and "(2 s windows every 0.5 s;" in card
    assert "this build took 13 min on 2 shared cores" in card  # 754 s
    assert card.count(" min on ") == 1


def test_card_leaves_the_build_time_out_when_the_manifest_has_none(tmp_path):
    bundle = load_bundle("default")
    for name in ("evaluation.json", "open_set.json"):
        shutil.copy(bundle.path / name, tmp_path / name)
    fake = _Retuned(bundle, build_seconds=0.0)
    del fake.manifest["training"]["build_seconds"]
    write_model_card(tmp_path, fake, fake.manifest["metrics"])
    assert "this build took" not in (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")


def _cc_json(path, command, train_clips, windows, f1):
    from convert.conditions import FIGURES
    from convert.simulator import GENERATOR_VERSION

    summary = {"monopolar": {k: {"mean": f1 if k == "int8_macro_f1" else 0.01, "sd": 0.0, "values": [f1]}
                             for k in FIGURES}}
    path.write_text(json.dumps({
        "command": command, "seeds": [0], "simulator_version": GENERATOR_VERSION, "summary": summary,
        "sizes": {"train_clips": train_clips, "clip_s": 8.0, "voluntary_factor": 3, "train_recordings": 6,
                  "recording_s": 60.0, "epochs": 15, "test_clips": 12, "test_recordings": 4},
        "runs": [{"training": {"train": {"windows": windows}}, "conditions": {"monopolar": {"windows": 4954}}}]}),
        encoding="utf-8")


def test_card_shows_every_cross_condition_run_that_exists_with_its_training_size(tmp_path):
    from convert.default_bundle import _cross_condition_rows

    small, large, absent = tmp_path / "cc.json", tmp_path / "cc_large.json", tmp_path / "none.json"
    assert _cross_condition_rows((absent,)).startswith("Not run for this build")
    _cc_json(small, "python benchmarks/cross_condition.py --seeds 1", 12, 5000, 0.861)
    _cc_json(large, "python benchmarks/cross_condition.py --train-clips 36", 36, 16864, 0.947)
    text = _cross_condition_rows((small, absent, large))
    assert text.index("--seeds 1") < text.index("--train-clips 36")
    assert "12 clips of 8 s per class (voluntary × 3) and 6 examinations of 60 s, up to 15 epochs (5,000 training windows)" in text
    assert "(16,864 training windows); tested per condition on 12 clips per class and 4 examinations (4,954 windows)" in text
    assert "0.861 ± 0.000" in text and "0.947 ± 0.000" in text and text.count("```") == 4


def test_card_shows_the_other_generators_only_for_the_bundle_they_were_run_on(tmp_path):
    from convert.default_bundle import _generator_rows

    path = tmp_path / "altsim.json"
    assert _generator_rows("altsim", path, "emg-cnn-x").startswith("Not run for this build")

    def run(seed, f1, vol, fib):
        recall = {"rest": 0.95, "fibrillation": fib, "fasciculation": 0.4}
        return {"seed": seed, "windows": 3858, "int8": {"macro_f1": f1, "pathological_sensitivity": 0.9,
                                                         "pathological_specificity": 0.95,
                                                         "voluntary_called_pathological": vol, "recall": recall}}

    path.write_text(json.dumps({"model_id": "emg-cnn-x", "command": "benchmarks/altsim.py --seeds 1 2",
                                "runs": [run(1, 0.752, 0.08, 0.86), run(2, 0.768, 0.035, 0.82)]}), encoding="utf-8")
    text = _generator_rows("altsim", path, "emg-cnn-x")
    assert "| 1 | 3858 | 0.752 | 0.900 | 0.950 | 8.0 % |" in text
    assert "| 2 | 3858 | 0.768 | 0.900 | 0.950 | 3.5 % |" in text
    assert "Lowest mean recall: fasciculation 0.40, fibrillation 0.84, rest 0.95" in text
    # A result measured on another bundle is not this bundle's evidence.
    assert _generator_rows("altsim", path, "emg-cnn-y").startswith("Not run for this build")
    # benchmarks/holdoutsim.py's layout: per seed, flat figures and per-class recall with support
    held = tmp_path / "holdoutsim.json"
    per_class = {"rest": {"recall": 0.93, "support": 621}, "voluntary_muap": {"recall": 0.5, "support": 840}}
    held.write_text(json.dumps({"model_id": "emg-cnn-x", "command": "benchmarks/holdoutsim.py --seeds 1", "seeds": {
        "1": {"windows": 3852, "macro_f1": 0.813, "sensitivity": 0.932, "specificity": 0.868,
              "voluntary_called_pathological": 0.321, "per_class_recall": per_class}}}), encoding="utf-8")
    text = _generator_rows("holdoutsim", held, "emg-cnn-x")
    assert "| 1 | 3852 | 0.813 | 0.932 | 0.868 | 32.1 % |" in text
    assert "Lowest mean recall: voluntary muap 0.50, rest 0.93" in text


def test_rhythm_table_sums_seeds_and_refuses_another_bundle(tmp_path):
    from convert.default_bundle import _rhythm_rows

    path = tmp_path / "rhythm.json"
    assert _rhythm_rows("emg-cnn-x", path).startswith("Not measured for this build")

    def seed(calls, held, vc, vh, before, after):
        return {"correct_fib_psw_calls_withheld": {"calls": calls, "withheld": held},
                "voluntary": {"windows": 300, "called_fib_psw": vc, "withheld": vh},
                "voluntary_called_pathological": {"before": before, "after": after}}

    path.write_text(json.dumps({"model_id": "emg-cnn-x", "generators": {
        "holdoutsim": {"1": seed(475, 5, 34, 13, 0.0881, 0.0726), "2": seed(489, 24, 6, 6, 0.1, 0.0929)}}}),
        encoding="utf-8")
    text = _rhythm_rows("emg-cnn-x", path)
    assert "| `holdoutsim` (1, 2) | 29 of 964 (3.0 %) | 19 of 40 | 8.8 / 10.0 → 7.3 / 9.3 % |" in text
    assert _rhythm_rows("emg-cnn-y", path).startswith("Not measured for this build")
    # with the sparse class's counts the table gains its two columns
    runs = {"1": seed(475, 5, 34, 13, 0.0881, 0.0726), "2": seed(489, 24, 6, 6, 0.1, 0.0929)}
    for i, r in enumerate(runs.values()):
        r["fasciculation"] = {"correct_calls": 100 + i, "correct_withheld": i, "voluntary_called": 10, "voluntary_withheld": 9}
    path.write_text(json.dumps({"model_id": "emg-cnn-x", "generators": {"holdoutsim": runs}}), encoding="utf-8")
    assert "| `holdoutsim` (1, 2) | 29 of 964 (3.0 %) | 19 of 40 | 1 of 201 | 18 of 20 | 8.8 / 10.0 → 7.3 / 9.3 % |" \
        in _rhythm_rows("emg-cnn-x", path)


def test_rhythm_benchmark_counts_withheld_calls():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "rhythm_bench", Path(__file__).resolve().parents[2] / "benchmarks" / "rhythm.py")
    rb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rb)
    path = {"fibrillation", "positive_sharp_wave", "fasciculation"}
    rows = [("fibrillation", "fibrillation", False), ("fibrillation", "fibrillation", True),
            ("positive_sharp_wave", "fibrillation", False), ("voluntary_muap", "positive_sharp_wave", True),
            ("voluntary_muap", "fasciculation", False), ("voluntary_muap", "voluntary_muap", False),
            ("rest", "fibrillation", False)]
    s = rb.summarise(rows, path)
    assert s["fib_psw_true"] == {"windows": 3, "called_fib_psw": 3, "withheld": 1, "withheld_share": 0.3333}
    assert s["correct_fib_psw_calls_withheld"] == {"calls": 2, "withheld": 1}
    assert s["voluntary"]["called_fib_psw"] == 1 and s["voluntary"]["withheld"] == 1
    assert s["voluntary_called_pathological"] == {"before": 0.6667, "after": 0.3333}
    assert s["other_normal"]["called_fib_psw"] == 1 and s["other_normal"]["withheld"] == 0
    assert s["fasciculation"] == {"correct_calls": 0, "correct_withheld": 0, "voluntary_called": 1,
                                  "voluntary_withheld": 0}
