"""The demo end to end, in fast mode: virtual amplifier on a real pty, emg-edge run as a
separate process on the shipped default bundle, alerts back over the protocol, scorecard."""

import json

import pytest

from edge.demo.run import MAX_FALSE_ALARMS_PER_10_MIN, MIN_RECALL, main

pytestmark = [pytest.mark.pty, pytest.mark.slow]


def test_demo_meets_its_scorecard(tmp_path, capsys):
    code = main(["--out", str(tmp_path)])
    printed = capsys.readouterr().out
    card = json.loads((tmp_path / "scorecard.json").read_text())
    assert card["runtime_exit"] == 0
    assert card["episodes"] >= 14  # two episodes of each of the seven pathological classes
    assert all(c["episodes"] >= 2 for c in card["per_class"].values())
    assert card["recall"] >= MIN_RECALL, printed
    assert card["false_alarms_per_10_min"] <= MAX_FALSE_ALARMS_PER_10_MIN, printed
    # every alert the runtime logged reached the amplifier exactly once
    assert card["alerts_at_amplifier"] == card["alerts_logged"]
    assert card["amplifier"]["samples_lost"] == 0
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    assert code == 0
    assert "scorecard PASS" in printed


def test_missing_recording_is_a_one_line_error(tmp_path, capsys):
    assert main(["--wav", str(tmp_path / "nope.wav"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "demo recording file missing" in err and "Traceback" not in err
