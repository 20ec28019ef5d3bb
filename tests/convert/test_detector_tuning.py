"""The detector sweep's grid and selection rule (convert.detector_tuning), and its command."""

import pytest

from convert import detector_tuning as T
from convert.cli import main
from edge.runtime.config import RuntimeConfig


def _summary(missed=0, false=0, share=1.0, median=0.7, p90=1.0, repeats=0):
    return {"target_s": 1.265, "totals": {
        "missed": missed, "false_alarms": false, "repeats": repeats, "within_target_share_excl_fasciculation": share,
        "latency_median_excl_fasciculation_s": median, "latency_p90_excl_fasciculation_s": p90}}


def test_stage1_starts_with_the_defaults_and_keeps_exit_at_most_enter():
    configs = list(T.stage1_configs("full"))
    assert configs[0] == T.default_knobs()
    assert T.make_config(configs[0]) == RuntimeConfig()
    # the grid's 1,296 cells and the defaults, which lie off it (relabel_windows 6)
    assert len(configs) == 1297 and all(k["exit"] <= k["enter"] for k in configs)
    episode = list(T.stage1_configs("episode"))
    assert episode[0] == T.default_knobs() and len(episode) == 15  # 5 × 3, the defaults' own cell first
    moved = {k for c in episode for k, v in c.items() if v != episode[0][k]}
    assert moved == {"relabel_windows", "refractory_s"}  # the thresholds stay as configured
    assert len({tuple(sorted(k.items())) for k in configs}) == len(configs)
    relabel = list(T.stage1_configs("relabel"))
    assert relabel[0] == T.default_knobs() and len(relabel) == 12  # 6 × 2, the defaults' own cell first
    assert {k for c in relabel for k, v in c.items() if v != relabel[0][k]} == {"relabel_windows", "relabel_confident"}
    assert T.make_config({**relabel[0], "relabel_confident": False}).relabel_confident is False


def test_pareto_pick_never_trades_latency_for_fewer_errors():
    ref = _summary(missed=3, false=2)
    fewer_errors_but_later = _summary(missed=1, false=1, median=0.9)
    better_everywhere = _summary(missed=2, false=2, median=0.6)
    assert T.pick([("ref", ref), ("later", fewer_errors_but_later), ("better", better_everywhere)], ref)[0] == "better"
    # the errors rule takes the fewest errors among settings whose p90 meets the target
    assert T.pick([("ref", ref), ("later", fewer_errors_but_later)], ref, rule="errors")[0] == "later"
    with pytest.raises(ValueError, match="pareto or errors"):
        T.pick([("ref", ref)], ref, rule="fastest")


def test_tune_detector_is_a_command_of_emg_convert(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tune-detector", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--bundle", "--minutes", "--rule", "--out"):
        assert option in out


@pytest.mark.parametrize("args, message", [
    (["--minutes", "0.1"], "--minutes=0.1 is out of range: allowed >= 0.5"),
    (["--bundle", "no-such-bundle"], "bundle 'no-such-bundle' not found"),
])
def test_tune_detector_user_errors_are_one_line(tmp_path, capsys, args, message):
    assert main(["tune-detector", *args, "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "t.json").exists()
