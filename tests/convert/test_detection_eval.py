"""The event-level detection evaluation (convert.detection_eval, run by benchmarks/detection.py)
on a tiny set, with the shipped bundle and the default RuntimeConfig: what it measures must hold
on a clean examination."""

import pytest

from convert import detection_eval as D
from convert.detector_tuning import make_config
from edge.runtime.config import RuntimeConfig

SEED = 7_000_000  # outside the benchmark's eval/tune sets and the bundle's training seeds
PLAN = (
    ("rest", 4.0), ("fibrillation", 8.0), ("rest", 6.0), ("complex_repetitive_discharge", 6.0), ("rest", 6.0),
    ("myotonic_discharge", 6.0), ("rest", 6.0), ("neuromyotonic_discharge", 2.0), ("rest", 6.0),
    ("fasciculation", 9.0), ("rest", 1.0),
)


@pytest.fixture(scope="module")
def bundle():
    from edge.bundle import load_bundle

    return load_bundle("default")


@pytest.fixture(scope="module")
def clean(bundle):
    spec = D.RecordingSpec(SEED, sum(d for _, d in PLAN), PLAN, "test")
    return D.evaluate([spec], bundle, RuntimeConfig(), keep_posteriors=True)


def test_every_episode_of_a_clean_plan_is_detected_with_its_label(clean):
    summary, (run,) = clean
    t = summary["totals"]
    assert t["episodes"] == 5
    assert t["detected"] == 5 and t["false_alarms"] == 0 and t["repeats"] == 0
    assert summary["false_alarms"] == [] and t["false_alarms_during_other_pathology"] == 0
    assert "false alarms: 0 during a pathological episode of another class" in D.table(summary)
    for label in ("fibrillation", "complex_repetitive_discharge", "myotonic_discharge", "neuromyotonic_discharge",
                  "fasciculation"):
        assert summary["per_class"][label]["detected"] == 1, label
    assert sorted(a["label"] for a in run.alerts) == sorted(set(lab for lab, _ in PLAN) - {"rest"})


def test_latency_meets_the_target_except_for_fasciculation(clean, bundle):
    summary, _ = clean
    target = D.window_seconds(bundle) + 0.25
    assert summary["target_s"] == pytest.approx(target, abs=1e-4)
    assert 1.2 < target < 1.3  # 1 s window of 25 ms frames every 10 ms, + 250 ms
    for label, row in summary["per_class"].items():
        if row["detected"] and label != D.SPARSE:
            assert 0.0 < row["latency_max_s"] <= target, label
    sparse = summary["per_class"][D.SPARSE]
    # Two potentials are needed: the alert cannot come before the second one.
    assert sparse["reachable_target"]["detected_with_two_potentials"] == 1


@pytest.mark.xfail(strict=True, reason="the shipped bundle (emg-cnn-d882fa9ca92d, as emg-cnn-e7f24422d4ba before "
                                       "it) alerts this fasciculation 4.15 s after its second potential (target "
                                       "window + 0.25 s = 1.265 s); on the 53-min benchmark 19 of its 20 are within")
def test_fasciculation_alert_within_reach_of_its_second_potential(clean):
    summary, _ = clean
    assert summary["per_class"][D.SPARSE]["reachable_target"]["within"] == 1


def test_replay_of_recorded_posteriors_equals_the_live_pipeline(clean, bundle):
    _, (run,) = clean
    assert D.replay(run, bundle, RuntimeConfig()) == run.alerts
    # A stricter setting through the same replay can only raise fewer or later alerts.
    strict = D.replay(run, bundle, make_config({"enter": 0.9, "min_duration_s": 0.5}))
    assert len(strict) <= len(run.alerts)


def test_no_false_alarm_on_rest(bundle):
    summary, (run,) = D.evaluate([D.RecordingSpec(SEED + 1, 60.0, (("rest", 60.0),), "test")], bundle)
    assert summary["totals"]["episodes"] == 0
    assert run.alerts == []


def test_seed_sets_are_disjoint_from_training_and_demo_seeds():
    from convert.default_bundle import SETS
    from convert.demo_recording import DEMO_SEED
    from convert.taxonomy import LABELS

    used = {DEMO_SEED, 11, 23, 31}  # the demo and benchmarks/runtime.py
    for spec in SETS.values():
        used |= set(range(spec.seed0, spec.seed0 + len(LABELS) * spec.clips_per_class + spec.recordings))
    sets = {name: {s.seed for s in D.recording_set(name)} for name in D.SEED_SETS}
    assert not sets["eval"] & sets["tune"]
    for name, seeds in sets.items():
        assert not seeds & used, name
    specs = D.recording_set("eval")
    assert [s.kind for s in specs[:4]] == ["demo-plan"] * 4
    assert 45 <= sum(s.duration_s for s in specs) / 60 <= 60


def _chain_seed_at(rates: tuple[int, ...]) -> int:
    """The first chain seed from 7,100,000 whose drawn chain records at one of ``rates`` (Hz)."""
    from convert.chain import ChainConfig

    seed = 7_100_000
    while ChainConfig().draw(seed).sample_rate not in rates:
        seed += 1
    return seed


def test_an_examination_through_a_drawn_chain_runs_at_the_chains_rate_and_scale(bundle):
    from convert.chain import ChainConfig

    plan = (("rest", 3.0), ("fibrillation", 8.0), ("rest", 5.0))
    cs = _chain_seed_at((8000, 10000, 16000))
    chain = ChainConfig().draw(cs)
    spec = D.RecordingSpec(SEED + 2, sum(d for _, d in plan), plan, "test", chain_seed=cs)
    summary, (run,) = D.evaluate([spec], bundle, RuntimeConfig(), keep_posteriors=True)
    assert run.sample_rate == chain.sample_rate
    assert run.chain == chain.describe()
    assert summary["recordings"][0]["chain_seed"] == cs
    # Stream positions are in the chain's samples; alerts are reported in seconds.
    assert run.windows[-1][1] <= run.duration_s * chain.sample_rate
    assert [a["label"] for a in run.alerts] == ["fibrillation"]
    assert 3.0 - D.TOLERANCE_S <= run.alerts[0]["onset_s"] <= 11.0
    assert D.replay(run, bundle, RuntimeConfig()) == run.alerts


def test_recording_set_numbers_chain_seeds_per_recording():
    specs = D.recording_set("eval", chain_seed=100)
    assert [s.chain_seed for s in specs] == list(range(100, 100 + len(specs)))
    assert all(s.chain_seed is None for s in D.recording_set("eval"))
