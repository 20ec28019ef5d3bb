import pytest

from edge.scorecard import Episode, score

LABELS = ["fibrillation", "fasciculation"]


def test_detection_miss_false_alarm_and_repeat_are_counted_separately():
    eps = [Episode(10, 20, "fibrillation"), Episode(40, 50, "fibrillation"), Episode(70, 75, "fasciculation")]
    alerts = [
        {"label": "fibrillation", "onset_s": 10.5, "offset_s": 19.0, "detected_s": 11.2},
        {"label": "fibrillation", "onset_s": 15.0, "offset_s": 18.0, "detected_s": 16.0},  # repeat
        {"label": "fasciculation", "onset_s": 30.0, "offset_s": 31.0},  # false alarm
        {"label": "fibrillation", "onset_s": 69.0, "offset_s": 76.0},  # wrong class -> false alarm
    ]
    card = score(eps, alerts, duration_s=600.0, labels=LABELS)
    fib, fasc = card.per_class["fibrillation"], card.per_class["fasciculation"]
    assert (fib.episodes, fib.detected, fib.missed, fib.false_alarms, fib.repeats) == (2, 1, 1, 1, 1)
    assert (fasc.episodes, fasc.detected, fasc.missed, fasc.false_alarms) == (1, 0, 1, 1)
    assert fib.latencies_s == [pytest.approx(1.2)]
    assert card.outcomes == [(eps[0], pytest.approx(1.2)), (eps[1], None), (eps[2], None)]
    assert card.recall == pytest.approx(1 / 3)
    assert card.false_alarms_per_10_min == pytest.approx(2.0)
    # each false alarm says whether it sat on another class's episode (a wrong class) or not
    assert card.false_alarm_list == [("fasciculation", 30.0, 31.0, None), ("fibrillation", 69.0, 76.0, "fasciculation")]


def test_tolerance_lets_a_smeared_onset_match():
    eps = [Episode(10, 12, "fibrillation")]
    alert = {"label": "fibrillation", "onset_s": 12.6, "offset_s": 13.5}
    assert score(eps, [alert], 60, LABELS, tolerance_s=1.0).detected == 1
    assert score(eps, [alert], 60, LABELS, tolerance_s=0.5).detected == 0


def test_each_episode_gets_the_first_unmatched_overlapping_alert():
    eps = [Episode(10, 20, "fibrillation"), Episode(20.5, 30, "fibrillation")]
    alerts = [{"label": "fibrillation", "onset_s": 11, "offset_s": 21}, {"label": "fibrillation", "onset_s": 21, "offset_s": 29}]
    card = score(eps, alerts, 60, LABELS, merge_gap_s=0.0)
    assert card.detected == 2 and card.false_alarms == 0


def test_table_mentions_every_class():
    card = score([Episode(1, 2, "fibrillation")], [], 60, LABELS)
    text = card.table()
    assert "fibrillation" in text and "fasciculation" in text and "event recall 0.000" in text


def test_segments_of_one_class_close_together_are_one_episode():
    eps = [Episode(10, 10.8, "neuromyotonic_discharge"), Episode(11.4, 12.0, "neuromyotonic_discharge"),
           Episode(14.0, 15.0, "neuromyotonic_discharge")]
    card = score(eps, [{"label": "neuromyotonic_discharge", "onset_s": 10.2, "offset_s": 10.5}], 60,
                 ["neuromyotonic_discharge"], merge_gap_s=1.0)
    c = card.per_class["neuromyotonic_discharge"]
    assert (c.episodes, c.detected, c.missed) == (2, 1, 1)
