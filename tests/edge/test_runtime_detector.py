"""Event detector and posterior smoothing: hysteresis, minimum duration, refractory, potentials."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edge.runtime.config import ClassRule, RuntimeConfig
from edge.runtime.detector import EventDetector, rules_for
from edge.runtime.smoothing import PosteriorSmoother

LABELS = ("rest", "voluntary_muap", "fibrillation", "fasciculation", "positive_sharp_wave")
PATH = {"fibrillation", "fasciculation", "positive_sharp_wave"}
RATE = 1000  # Hz: 1 sample = 1 ms keeps the arithmetic readable
WIN, HOP = 1000, 250


def make(rules=None, require_argmax=True, exclusive=False, relabel_windows=0, relabel_confident=False):
    rules = rules or {"fibrillation": ClassRule(enter=0.6, exit=0.4, min_duration_s=0.5, refractory_s=4.0),
                      "positive_sharp_wave": ClassRule(enter=0.6, exit=0.4, min_duration_s=0.5, refractory_s=4.0),
                      "fasciculation": ClassRule(min_potentials=2, min_duration_s=0.0, refractory_s=10.0)}
    return EventDetector(LABELS, PATH, rules, RATE, WIN, HOP, require_argmax=require_argmax, exclusive=exclusive,
                         relabel_windows=relabel_windows, relabel_confident=relabel_confident)


both_modes = pytest.mark.parametrize("exclusive", [False, True], ids=["per-class", "exclusive"])


def post(cls: str | None, p: float = 0.9) -> np.ndarray:
    v = np.zeros(len(LABELS))
    if cls is None:
        v[0] = 1.0
    else:
        v[LABELS.index(cls)] = p
        v[0] = 1.0 - p
    return v


def feed(det, seq):
    """seq: list of class-or-None per window; returns detections with the window index."""
    out = []
    start = getattr(det, "_test_i", 0)  # windows already fed: time keeps running across calls
    det._test_i = start + len(seq)
    for i, cls in enumerate(seq, start):
        end = WIN + i * HOP
        p = post(cls)
        for d in det.update(p, p, end - WIN, end):
            out.append((i, d))
    return out


@both_modes
def test_sustained_activity_alerts_once_after_min_duration(exclusive):
    det = make(exclusive=exclusive)
    seq = [None] * 4 + ["fibrillation"] * 20 + [None] * 8
    out = feed(det, seq)
    assert len(out) == 1
    i, d = out[0]
    assert d.label == "fibrillation" and d.pathological
    # opens at window 4 (onset = its end - hop); confirmed when onset..end spans 0.5 s: window 5
    assert i == 5
    assert d.onset == WIN + 4 * HOP - HOP
    assert d.detected_at == d.offset == WIN + 5 * HOP
    assert 0.85 < d.confidence <= 0.9


@both_modes
def test_single_window_flicker_is_ignored(exclusive):
    det = make(exclusive=exclusive)
    assert feed(det, [None, "fibrillation", None, None, "fibrillation", None] * 10) == []


@both_modes
def test_refractory_merges_close_reactivations_and_separates_far_ones(exclusive):
    det = make(exclusive=exclusive)
    burst = ["fibrillation"] * 6
    close_gap = [None] * 8  # 2 s < 4 s refractory
    far_gap = [None] * 30  # 7.5 s > 4 s
    out = feed(det, burst + close_gap + burst + far_gap + burst)
    assert [d.label for _, d in out] == ["fibrillation", "fibrillation"]
    assert out[1][0] >= len(burst + close_gap + burst + far_gap)


@both_modes
def test_hysteresis_keeps_episode_open_between_exit_and_enter(exclusive):
    det = make(exclusive=exclusive)
    seq = []
    out = []
    for i in range(30):
        p = 0.9 if i < 5 else 0.5  # drops below enter but stays above exit
        v = post("fibrillation", p)
        end = WIN + i * HOP
        out += det.update(v, v, end - WIN, end)
    assert len(out) == 1
    # drop below exit for exit_windows, then wait out the refractory, then a new episode
    for i in range(30, 60):
        v = post(None)
        end = WIN + i * HOP
        out += det.update(v, v, end - WIN, end)
    for i in range(60, 70):
        v = post("fibrillation", 0.9)
        end = WIN + i * HOP
        out += det.update(v, v, end - WIN, end)
    assert len(out) == 2


def test_require_argmax_blocks_a_runner_up_class():
    det = make()
    v = np.array([0.0, 0.33, 0.0, 0.0])
    v[LABELS.index("voluntary_muap")] = 0.36
    v[LABELS.index("fibrillation")] = 0.35  # below enter anyway; raise the rule's enter
    rules = {"fibrillation": ClassRule(enter=0.3, exit=0.2, min_duration_s=0.0)}
    strict = EventDetector(LABELS, PATH, rules, RATE, WIN, HOP, require_argmax=True)
    loose = EventDetector(LABELS, PATH, rules, RATE, WIN, HOP, require_argmax=False)
    got_strict = got_loose = 0
    for i in range(10):
        end = WIN + i * HOP
        got_strict += len(strict.update(v, v, end - WIN, end))
        got_loose += len(loose.update(v, v, end - WIN, end))
    assert got_strict == 0 and got_loose == 1
    assert det is not None


@both_modes
def test_fasciculation_needs_two_potentials(exclusive):
    det = make(exclusive=exclusive)
    one = ["fasciculation"] * 4  # one short potential: run of window_s/hop_s windows
    quiet = [None] * 20  # 5 s
    out = feed(det, quiet + one + quiet)
    assert out == []
    out = feed(det, one + quiet)  # a second potential 5 s after the first
    assert len(out) == 1
    d = out[0][1]
    assert d.label == "fasciculation" and d.potentials >= 2
    # onset goes back to the first potential (run began at window 20 of the first call)
    assert d.onset == WIN + 20 * HOP - HOP


@both_modes
def test_fasciculations_too_far_apart_do_not_pair(exclusive):
    det = make(exclusive=exclusive)
    one = ["fasciculation"] * 3
    out = feed(det, one + [None] * 100 + one)  # 25 s apart > 20 s potential memory
    assert out == []


@both_modes
def test_long_run_counts_as_two_potentials(exclusive):
    det = make(exclusive=exclusive)
    out = feed(det, ["fasciculation"] * 8)  # longer than one potential can keep windows active
    assert len(out) == 1


@both_modes
def test_one_window_flickers_are_not_potentials(exclusive):
    # A short potential stays in view for window / hop = 4 windows; a one-window blip (a window
    # straddling the end of a contraction) is no potential: three of them do not make two.
    flick = ["fasciculation"] + [None] * 8
    assert feed(make(exclusive=exclusive), flick * 3) == []
    rule = ClassRule(min_potentials=2, min_duration_s=0.0, refractory_s=10.0, potential_min_windows=1)
    assert len(feed(make({"fasciculation": rule}, exclusive=exclusive), flick * 3)) == 1  # the old count
    # a flicker does not stand in for a missing second potential either
    out = feed(make(exclusive=exclusive), flick + ["fasciculation"] * 4 + [None] * 8)
    assert out == []


def _expected_potentials(runs, k):
    """Potentials the rule counts: runs of at least k windows; one potential stays in view for
    at most window - hop of window ends (4 windows here), a longer run holds two."""
    return sum(1 if n <= WIN // HOP else 2 for n in runs if n >= k)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(3, 6)), min_size=1, max_size=6), st.integers(1, 4))
def test_fasciculation_alerts_iff_two_runs_reach_potential_min_windows(runs, k):
    # runs of (length, quiet windows after) within the 20 s potential memory (<= 72 windows)
    seq = [None] * 4
    for n, gap in runs:
        seq += ["fasciculation"] * n + [None] * gap
    rule = ClassRule(min_potentials=2, min_duration_s=0.0, refractory_s=10.0, potential_min_windows=k)
    want = _expected_potentials([n for n, _ in runs], k) >= 2
    for exclusive in (False, True):
        out = feed(make({"fasciculation": rule}, exclusive=exclusive), seq)
        assert (len(out) >= 1) == want, (runs, k, exclusive)
        for _, d in out:
            assert d.potentials >= 2


def _level(cls, p, n):
    """Feed-able rows: class ``cls`` at posterior ``p`` for ``n`` windows between rest."""
    return [None] * 4 + [(cls, p)] * n + [None] * 8


def feed_levels(det, seq):
    out = []
    for i, item in enumerate(seq):
        end = WIN + i * HOP
        v = post(None) if item is None else post(*item)
        out += [(i, d) for d in det.update(v, v, end - WIN, end)]
    return out


@both_modes
def test_a_hesitant_call_waits_until_the_window_is_mostly_new_activity(exclusive):
    # default rule: min_duration 0.25 s; below confidence 0.8 the evidence must span 0.5 s
    rule = RuntimeConfig().default_rule
    assert (rule.confident, rule.hesitant_min_duration_s, rule.min_duration_s) == (0.8, 0.5, 0.25)
    det = lambda: make({"fibrillation": rule}, exclusive=exclusive)  # noqa: E731
    # one hesitant (smoothed) window, like those straddling the end of a contraction: no alert
    assert feed_levels(det(), _level("fibrillation", 0.75, 1)) == []
    # the same window called confidently alerts at once (window 4: its span is onset + one hop)
    assert [i for i, _ in feed_levels(det(), _level("fibrillation", 0.9, 1))] == [4]
    # a hesitant call that lasts alerts one hop later (0.5 s of evidence), with its own confidence
    got = feed_levels(det(), _level("fibrillation", 0.75, 6))
    assert [i for i, _ in got] == [5] and got[0][1].confidence == 0.75


@both_modes
def test_a_hesitant_call_is_not_confirmed_by_earlier_potentials(exclusive):
    # Fasciculations take their onset back to the first potential in memory; a hesitant window
    # seconds later (the start of another pattern) must still wait on its own span.
    rule = ClassRule(min_potentials=2, min_duration_s=0.0, refractory_s=1.0)
    earlier = [("fasciculation", 0.95)] * 8 + [None] * 20  # two potentials, alerted, then 5 s quiet
    hesitant = feed_levels(make({"fasciculation": rule}, exclusive=exclusive),
                           earlier + [("fasciculation", 0.75)] + [None] * 8)
    confident = feed_levels(make({"fasciculation": rule}, exclusive=exclusive),
                            earlier + [("fasciculation", 0.95)] + [None] * 8)
    assert [i for i, _ in hesitant] == [4]  # the first episode's alert only (its 5th window: two potentials)
    assert [i for i, _ in confident] == [4, 28]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([0.75, 0.8125, 0.875, 0.9375, 1.0]),  # dyadic: the mean of n equal values is exact
       st.sampled_from([0.0, 0.78, 0.8, 0.85, 0.9, 0.97, 1.0]),
       st.sampled_from([0.0, 0.25, 0.5]), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
       st.integers(1, 8), st.booleans())
def test_alert_time_follows_the_confidence_dependent_minimum_duration(p, confident, min_dur, hesitant, n, exclusive):
    rule = ClassRule(enter=0.7, exit=0.4, min_duration_s=min_dur, confident=confident,
                     hesitant_min_duration_s=hesitant, refractory_s=4.0)
    need_s = min_dur if p >= confident else max(min_dur, hesitant)
    # the episode opens on the first window (onset one hop before its end): after j + 1
    # windows its evidence spans (j + 1) hops
    first = max(1, -(-int(need_s * RATE) // HOP))  # windows needed, at least the opening one
    got = feed_levels(make({"fibrillation": rule}, exclusive=exclusive), [None] * 4 + [("fibrillation", p)] * n
                      + [None] * 8)
    if n >= first:
        assert [i for i, _ in got] == [4 + first - 1]
        assert got[0][1].confidence == p
    else:
        assert got == []


@both_modes
def test_reset_closes_open_episodes_without_alert(exclusive):
    det = make(exclusive=exclusive)
    feed(det, ["fibrillation"] * 2)
    det.reset()
    out = feed(det, [None] * 2)
    assert out == []


def test_rules_for_default_config_covers_pathological_classes_only():
    cfg = RuntimeConfig()
    rules = rules_for(cfg, LABELS, PATH)
    assert set(rules) == PATH
    assert rules["fasciculation"].min_potentials == 2
    assert rules_for(RuntimeConfig(alert_normal=True), LABELS, PATH).keys() == set(LABELS)


def test_smoother_mean_and_ema():
    sm = PosteriorSmoother(3, "mean", windows=2)
    a = sm.update([1.0, 0.0, 0.0])
    np.testing.assert_allclose(a, [1, 0, 0])
    b = sm.update([0.0, 1.0, 0.0])
    np.testing.assert_allclose(b, [0.5, 0.5, 0])
    c = sm.update([0.0, 0.0, 1.0])
    np.testing.assert_allclose(c, [0, 0.5, 0.5])
    sm.reset()
    np.testing.assert_allclose(sm.update([0.0, 0.0, 1.0]), [0, 0, 1])
    e = PosteriorSmoother(2, "ema", alpha=0.25)
    e.update([1.0, 0.0])
    np.testing.assert_allclose(e.update([0.0, 1.0]), [0.75, 0.25])
    with pytest.raises(ValueError, match="classes"):
        e.update([1.0, 0.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=1, max_size=200),
       st.integers(1, 8))
def test_smoother_mean_equals_trailing_average(rows, n):
    sm = PosteriorSmoother(3, "mean", windows=n)
    x = np.array(rows)
    for i in range(len(x)):
        got = sm.update(x[i])
        want = x[max(0, i - n + 1):i + 1].mean(axis=0)
        np.testing.assert_allclose(got, want, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([None, "fibrillation", "fasciculation", "voluntary_muap"]), max_size=300))
def test_detector_alerts_are_ordered_and_spaced_by_refractory(seq):
    for exclusive in (False, True):
        _check_ordered(make(exclusive=exclusive), seq)


def _check_ordered(det, seq):
    out = feed(det, seq)
    for label in PATH:
        times = [d.detected_at for _, d in out if d.label == label]
        assert times == sorted(times)
        for a, b in zip(times, times[1:]):
            assert b - a > 0
    for _, d in out:
        assert d.onset <= d.offset and 0 < d.confidence <= 1


def test_exclusive_mode_raises_one_alert_for_a_wandering_episode():
    # the model hesitates between two similar classes inside one physical episode
    seq = [None] * 4 + ["fibrillation", "positive_sharp_wave", "fibrillation", "fibrillation",
                        "positive_sharp_wave", "fibrillation"] * 3 + [None] * 8
    per_class = feed(make(require_argmax=False), seq)
    shared = feed(make(exclusive=True), seq)
    assert len(shared) == 1 and shared[0][1].label == "fibrillation"
    assert len(per_class) >= 1
    # a different class after the episode has closed is a new alert
    later = feed(make(exclusive=True), seq + ["positive_sharp_wave"] * 8)
    assert [d.label for _, d in later] == ["fibrillation", "positive_sharp_wave"]


def test_relabel_gives_a_following_finding_its_own_alert():
    # fibrillation, then positive sharp waves with no pause between: one shared episode
    seq = [None] * 4 + ["fibrillation"] * 8 + ["positive_sharp_wave"] * 8 + [None] * 8
    assert [d.label for _, d in feed(make(exclusive=True), seq)] == ["fibrillation"]
    relabel = feed(make(exclusive=True, relabel_windows=2), seq)
    assert [d.label for _, d in relabel] == ["fibrillation", "positive_sharp_wave"]
    (_, first), (i, second) = relabel
    # the new episode starts one hop before the first window the challenger led
    assert second.onset == WIN + 12 * HOP - HOP and first.onset < second.onset
    assert i >= 12 + 1  # confirmed no earlier than its relabel windows and its own rule allow


def test_relabel_ignores_wandering_shorter_than_its_windows():
    seq = [None] * 4 + (["fibrillation"] * 3 + ["positive_sharp_wave"] * 2) * 4 + [None] * 8
    assert [d.label for _, d in feed(make(exclusive=True, relabel_windows=3), seq)] == ["fibrillation"]
    with pytest.raises(ValueError, match="relabel_windows=65 out of range"):
        make(exclusive=True, relabel_windows=65)


def test_relabel_back_to_the_first_class_within_its_refractory_time_is_no_new_alert():
    seq = [None] * 4 + ["fibrillation"] * 8 + ["positive_sharp_wave"] * 8 + ["fibrillation"] * 8 + [None] * 8
    got = feed(make(exclusive=True, relabel_windows=2), seq)
    assert [d.label for _, d in got] == ["fibrillation", "positive_sharp_wave"]


def feed_p(det, seq):
    """seq: (class-or-None, posterior) per window; returns detections with the window index."""
    out = []
    for i, (cls, p) in enumerate(seq):
        end = WIN + i * HOP
        v = post(cls, p)
        out += [(i, d) for d in det.update(v, v, end - WIN, end)]
    return out


def test_relabel_confident_lets_a_hesitant_challenger_keep_the_episode():
    # fibrillation, then 8 windows in which the model calls positive sharp waves hesitantly
    # (0.7 < confident 0.8): inside one episode that is the model wavering, not a new finding
    hesitant = [(None, 1.0)] * 4 + [("fibrillation", 0.9)] * 8 + [("positive_sharp_wave", 0.7)] * 8 + [(None, 1.0)] * 8
    assert [d.label for _, d in feed_p(make(exclusive=True, relabel_windows=2), hesitant)] == \
        ["fibrillation", "positive_sharp_wave"]
    assert [d.label for _, d in feed_p(make(exclusive=True, relabel_windows=2, relabel_confident=True), hesitant)] \
        == ["fibrillation"]
    # a confident challenger takes over after its relabel windows, as without the rule
    confident = hesitant[:12] + [("positive_sharp_wave", 0.9)] * 8 + hesitant[20:]
    assert feed_p(make(exclusive=True, relabel_windows=2), confident) == \
        feed_p(make(exclusive=True, relabel_windows=2, relabel_confident=True), confident)
    # a hesitant lead that turns confident takes over once its mean over the lead reaches 0.8:
    # (4 × 0.7 + k × 0.95) / (4 + k) >= 0.8 from k = 3 on
    turning = hesitant[:12] + [("positive_sharp_wave", 0.7)] * 4 + [("positive_sharp_wave", 0.95)] * 6 + hesitant[20:]
    got = feed_p(make(exclusive=True, relabel_windows=2, relabel_confident=True), turning)
    assert [d.label for _, d in got] == ["fibrillation", "positive_sharp_wave"]
    (i, second) = got[1]
    assert i == 12 + 4 + 3 - 1 and second.onset == WIN + 12 * HOP - HOP  # onset: the lead's first window


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([0.625, 0.75, 0.8125, 0.875, 1.0]),  # dyadic: the mean of n equal values is exact
       st.sampled_from([0.0, 0.75, 0.875, 1.0]), st.integers(1, 4), st.integers(1, 8), st.booleans())
def test_relabel_alerts_iff_the_lead_is_long_enough_and_confident_enough(p, confident, n, lead, relabel_confident):
    psw = ClassRule(enter=0.6, exit=0.4, min_duration_s=0.5, confident=confident, hesitant_min_duration_s=0.5,
                    refractory_s=4.0)
    rules = {"fibrillation": ClassRule(enter=0.6, exit=0.4, min_duration_s=0.5, refractory_s=4.0),
             "positive_sharp_wave": psw}
    seq = [(None, 1.0)] * 4 + [("fibrillation", 1.0)] * 8 + [("positive_sharp_wave", p)] * lead + [(None, 1.0)] * 8
    det = make(rules, exclusive=True, relabel_windows=n, relabel_confident=relabel_confident)
    got = [d.label for _, d in feed_p(det, seq)]
    # the challenger's own rule then needs its lead to span min_duration_s = 0.5 s (2 windows)
    expect = lead >= max(n, 2) and (not relabel_confident or p >= confident)
    assert got == ["fibrillation"] + ["positive_sharp_wave"] * expect


# Exclusive mode differs from per-class mode only when two alerting classes compete for one
# episode. When one alerting class A alone ever reaches an ``exit`` (the others stay below the
# smallest exit of any rule), the shared episode opens, stays and ends exactly when A's does,
# A always leads the evidence, and both modes confirm through the same ``_confirm``: the
# detections must be identical, whatever A's rule, the argmax rule and the raw runs.
_rule = st.builds(
    lambda enter, exit_frac, dur, refr, ew, pots: ClassRule(
        enter=enter, exit=max(0.05, enter * exit_frac), min_duration_s=dur, refractory_s=refr,
        exit_windows=ew, min_potentials=pots),
    st.floats(0.3, 0.95), st.floats(0.3, 1.0), st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    st.sampled_from([0.0, 1.0, 4.0, 10.0]), st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(PATH)), _rule, st.lists(_rule, min_size=2, max_size=2), st.booleans(),
       st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), max_size=150),
       st.integers(0, 150))
def test_modes_agree_when_one_alerting_class_alone_reaches_exit(lead, lead_rule, other_rules, require_argmax,
                                                               rows, reset_at):
    others = sorted(PATH - {lead})
    rules = {lead: lead_rule, **dict(zip(others, other_rules))}
    floor = min(r.exit for r in rules.values())  # the others stay strictly below every exit
    dets = {ex: EventDetector(LABELS, PATH, rules, RATE, WIN, HOP, require_argmax=require_argmax, exclusive=ex)
            for ex in (False, True)}
    got = {False: [], True: []}
    for i, (a, b, raw) in enumerate(rows):
        p = np.zeros(len(LABELS))
        p[LABELS.index(lead)] = a
        p[LABELS.index(others[0])] = b * floor * 0.999
        p[LABELS.index(others[1])] = (1 - b) * floor * 0.999
        p[0] = 1.0 - a  # rest: the argmax competitor that is not an alerting class
        r = p.copy()
        r[LABELS.index(lead)] = raw  # the raw posterior drives the potential runs
        end = WIN + i * HOP
        for ex, det in dets.items():
            if i == reset_at:
                det.reset()
            got[ex] += det.update(p, r, end - WIN, end)
    assert got[True] == got[False]
