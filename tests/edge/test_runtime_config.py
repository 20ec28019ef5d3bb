"""RuntimeConfig: validation with named bad values, TOML loading, per-class overrides."""

import re

import pytest

from edge.runtime.config import ClassRule, RuntimeConfig


def test_defaults_and_overrides():
    cfg = RuntimeConfig()
    assert cfg.rule_for("fasciculation").min_potentials == 2
    assert cfg.rule_for("myotonic_discharge") == cfg.default_rule
    assert cfg.rule_for("fibrillation") == cfg.default_rule.replace(refractory_s=2.0)
    # a pattern that follows another gets its own alert after 6 windows (1.5 s) of confident lead
    assert cfg.relabel_windows == 6 and cfg.relabel_confident is True


@pytest.mark.parametrize("kwargs, msg", [
    (dict(enter=1.5), "enter=1.5"),
    (dict(enter=0.5, exit=0.7), "exit=0.7"),
    (dict(min_potentials=0), "min_potentials=0"),
    (dict(potential_min_windows=0), re.escape("potential_min_windows=0 is out of range: allowed integers [1, 64]")),
    (dict(potential_min_windows=65), "potential_min_windows=65"),
    (dict(potential_min_windows=2.0), "potential_min_windows=2.0"),
    (dict(confident=1.2), re.escape("confident=1.2 is out of range: allowed [0.0, 1.0]")),
    (dict(hesitant_min_duration_s=-0.5),
     re.escape("hesitant_min_duration_s=-0.5 is out of range: allowed [0.0, 600.0]")),
    (dict(severity=7), "severity=7"),
])
def test_class_rule_errors_name_value_and_range(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        ClassRule(**kwargs)


def test_toml_round(tmp_path):
    p = tmp_path / "rt.toml"
    p.write_text(
        '[smoothing]\nmethod = "ema"\nalpha = 0.3\n'
        "[detector]\nrequire_argmax = false\nrelabel_windows = 3\nrelabel_confident = false\n"
        "[detector.default]\nenter = 0.7\nexit = 0.5\n"
        "[detector.classes.fibrillation]\nmin_duration_s = 1.0\n"
        "[service]\nstats_every_s = 5\n"
    )
    cfg = RuntimeConfig.from_toml(p)
    assert cfg.smoothing == "ema" and cfg.ema_alpha == 0.3 and not cfg.require_argmax
    assert cfg.relabel_windows == 3 and cfg.relabel_confident is False
    assert cfg.rule_for("fibrillation").min_duration_s == 1.0
    assert cfg.rule_for("fibrillation").enter == 0.7
    assert cfg.rule_for("fasciculation").min_potentials == 2  # built-in override kept
    assert cfg.stats_every_s == 5


@pytest.mark.parametrize("text, msg", [
    ("[smoothing]\nmethod = \"median\"\n", "median"),
    ("[smoothing]\nwindow = 3\n", "unknown key"),
    ("[detector.classes.fibrillation]\nenter = 2.0\n", "detector.classes.fibrillation: enter=2.0"),
    ("[detector.classes.fibrillation]\nthreshold = 0.5\n", "allowed keys"),
    ("[other]\n", "unknown config section"),
    ("not toml [", "not valid TOML"),
])
def test_toml_errors_name_file_and_key(tmp_path, text, msg):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ValueError, match=msg) as err:
        RuntimeConfig.from_toml(p)
    assert "bad.toml" in str(err.value)


def test_check_labels_refuses_unknown_class():
    cfg = RuntimeConfig(class_overrides={"fibrilation": {"enter": 0.5}})
    with pytest.raises(ValueError, match="fibrilation"):
        cfg.check_labels(("rest", "fibrillation"))


@pytest.mark.parametrize("data,message", [
    ({"detector": {"require_argmax": "false"}}, "detector.require_argmax='false' must be true or false"),
    ({"detector": {"open_set": 0}}, "detector.open_set=0 must be true or false"),
    ({"smoothing": 3}, "smoothing must be a table"),
    ({"smoothing": {"windows": 2.5}}, "smoothing.windows=2.5 must be an integer"),
    ({"detector": {"relabel_windows": 1.5}}, "detector.relabel_windows=1.5 must be an integer"),
    ({"detector": {"relabel_windows": 65}}, "detector.relabel_windows=65 is out of range: allowed integers [0, 64]"),
    ({"detector": {"relabel_confident": "true"}}, "detector.relabel_confident='true' must be true or false"),
    ({"detector": {"relabel_confident": 1}}, "detector.relabel_confident=1 must be true or false"),
    ({"service": {"queue_blocks": True}}, "service.queue_blocks=True must be an integer"),
    ({"service": {"stats_every_s": "10"}}, "service.stats_every_s='10' must be a number"),
    ({"detector": {"default": {"enter": "0.5"}}}, "detector.default: enter='0.5' must be a number"),
    ({"detector": {"default": 1}}, "detector.default must be a table"),
    ({"detector": {"classes": {"fasciculation": 2}}}, "detector.classes.fasciculation must be a table"),
    ({"detector": {"classes": {"fasciculation": {"alert": "no"}}}}, "alert='no' must be true or false"),
])
def test_values_of_the_wrong_toml_type_are_refused_with_their_key(data, message):
    """A string "false" must never count as true; every wrong type is a one-line ValueError."""
    with pytest.raises(ValueError, match=re.escape(message)):
        RuntimeConfig.from_dict(data)
