"""QEMG during ``emg-edge run`` (edge.runtime.qemg_stretches, qemg_summaries): stretches from window calls, the
worker's bounded queue, the summary's frame, and a simulated voluntary contraction through the
service with a stub classifier that calls every window voluntary."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clikit import UserError

from edge.runtime import qemg_summaries as qs
from edge.runtime.delivery import Wire
from edge.runtime.qemg_stretches import QemgConfig, Stretch, StretchTracker
from edge.runtime.qemg_summaries import QemgWorker, StretchSummary
from edge.runtime.service import RuntimeOptions, run
from firmware_bridge.codec import QemgPattern, QemgSummary

from tests.edge.runtime_standins import LABELS, EnergyFrontend, ThresholdClassifier, standin_bundle, write_wav
from tests.firmware_bridge.link_helpers import wait_for

VOL = np.array([0.05, 0.85, 0.05, 0.05])  # LABELS order: voluntary_muap most probable
REST = np.array([0.85, 0.05, 0.05, 0.05])


def tracker(min_s=1.0, max_s=3.0, rate=1000):
    got: list[Stretch] = []
    t = StretchTracker(QemgConfig(min_s=min_s, max_s=max_s), LABELS, rate, 0.5, lookback=3 * rate,
                       on_stretch=got.append)
    return t, got


def feed(t: StretchTracker, calls, rate=1000, window=1000, hop=250):
    """Samples numbered by their index (mod 2**15), one window per hop; ``calls``: probs per window."""
    for k, probs in enumerate(calls):
        a = k * hop
        t.samples(a + window - hop if k else 0, (np.arange(a + window - hop if k else 0, a + window) % 32768)
                  .astype(np.int16))
        t.window(probs, a, a + window)


def test_a_stretch_spans_its_voluntary_windows_and_carries_their_samples():
    t, got = tracker()
    feed(t, [REST] * 4 + [VOL] * 8 + [REST] * 2)   # windows 4..11 voluntary: [4 * 250, 11 * 250 + 1000)
    assert [(s.start, s.end) for s in got] == [(1000, 3750)]
    s = got[0]
    assert np.array_equal(s.samples, np.arange(1000, 3750).astype(np.int16)) and s.uv_per_lsb == 0.5


def test_short_stretches_are_not_quantified_and_long_ones_report_every_max_s():
    t, got = tracker(min_s=2.0, max_s=3.0)
    feed(t, [VOL] * 3 + [REST] + [VOL] * 30)       # 1.5 s: too short; then 8.25 s of contraction
    t.reset()                                       # end of stream closes the open one
    spans = [(s.start, s.end) for s in got]
    assert spans == [(1000, 4000), (4000, 7000), (7000, 9250)]
    assert all(np.array_equal(s.samples, np.arange(s.start, s.end).astype(np.int16)) for s in got)


def test_a_new_segment_closes_the_stretch_and_forgets_the_samples():
    t, got = tracker(min_s=1.0)
    feed(t, [VOL] * 6)
    t.reset()
    assert [(s.start, s.end) for s in got] == [(0, 2250)]
    assert t._cut(0, 2250).size == 0


def test_memory_is_bounded_without_a_stretch():
    t, got = tracker()
    feed(t, [REST] * 400)                            # 100 s of rest
    assert sum(x.size for _, x in t._chunks) <= 3000 + 1000 and got == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=120), st.floats(1.0, 4.0), st.floats(0.0, 6.0))
def test_stretches_are_ordered_disjoint_bounded_and_voluntary(calls, min_s, extra_s):
    """Any sequence of window calls: stretches come in order, never share a sample (windows
    overlap), last min_s..max_s, carry exactly their samples and lie within voluntary windows."""
    t, got = tracker(min_s=min_s, max_s=min_s + extra_s)
    feed(t, [VOL if v else REST for v in calls])
    t.reset()
    spans = [(s.start, s.end) for s in got]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    covered = np.zeros(len(calls) * 250 + 1000, bool)
    for k, v in enumerate(calls):
        covered[k * 250:k * 250 + 1000] |= v
    for s in got:
        assert round(min_s * 1000) <= s.end - s.start <= round((min_s + extra_s) * 1000)
        assert np.array_equal(s.samples, (np.arange(s.start, s.end) % 32768).astype(np.int16))
        assert covered[s.start:s.end].all()


@pytest.mark.parametrize("kw", [dict(min_s=0.5), dict(max_s=2.0), dict(min_s=10, max_s=5), dict(queue=0),
                                dict(queue=1.5), dict(drain_s=-1), dict(label=""), dict(max_s=float("nan"))])
def test_config_ranges(kw):
    with pytest.raises(ValueError, match="QemgConfig"):
        QemgConfig(**kw)


def test_a_full_queue_skips_the_stretch_and_never_blocks(monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(qs, "summarise", lambda stretch, sid, cfg, model=None: (gate.wait(10), sid)[1])
    w = QemgWorker(QemgConfig(queue=1, pattern_bundle=None))
    s = Stretch(0, 10, np.zeros(10, np.int16), 1000, 0.5)
    accepted = [w.submit(s) for _ in range(4)]       # one being worked on (maybe), one queued, rest skipped
    assert accepted[0] and not accepted[-1] and w.skipped >= 2
    gate.set()
    w.close(5.0)
    assert w.results() == list(range(1, 1 + w.submitted))


def summary(**kw) -> StretchSummary:
    base = dict(stretch_id=3, start_sample=1000, end_sample=51000, start_s=0.1, end_s=5.1, sample_rate=10000,
                n_units=4, median_amplitude_uv=812.4, median_duration_ms=9.96, polyphasic_pct=25.0,
                mean_firing_rate_hz=11.235, pattern="within limits", model_pattern="normal", model_confidence=0.91)
    base.update(kw)
    return StretchSummary(**base)


def test_the_frame_rounds_and_saturates_each_measure():
    f = summary().to_frame()
    assert (f.stretch_id, f.start, f.end, f.n_units) == (3, 1000, 51000, 4)
    assert (f.amplitude_uv, f.duration_tenth_ms, f.polyphasic_hundredth_pct, f.rate_hundredth_hz) == (812, 100, 2500,
                                                                                                       1124)
    assert f.rule_pattern == QemgPattern.WITHIN_LIMITS and f.model_pattern == QemgPattern.WITHIN_LIMITS
    assert f.model_confidence == 0.91
    big = summary(n_units=300, median_amplitude_uv=1e6, median_duration_ms=1e4, polyphasic_pct=100.0,
                  mean_firing_rate_hz=1e3, pattern="neurogenic-looking", model_pattern=None).to_frame()
    assert (big.n_units, big.amplitude_uv, big.duration_tenth_ms, big.rate_hundredth_hz) == (255, 65535, 65535, 65535)
    assert big.polyphasic_hundredth_pct == 10000 and big.model_pattern == QemgPattern.NONE
    empty = summary(n_units=0, median_amplitude_uv=None, median_duration_ms=None, polyphasic_pct=None,
                    mean_firing_rate_hz=None, pattern="indeterminate", model_pattern=None,
                    model_confidence=None).to_frame()
    assert (empty.amplitude_uv, empty.rule_pattern, empty.model_confidence) == (0, QemgPattern.INDETERMINATE, 0.0)
    assert json.loads(summary().to_json())["type"] == "qemg_summary"


class SummaryChannel:
    def __init__(self):
        self.frames = []

    def send_alert(self, alert):
        pass

    def acked_alerts(self):
        return []

    def send_summary(self, frame):
        self.frames.append(frame)


class AlertOnlyChannel(SummaryChannel):
    send_summary = None  # an older link: it cannot carry the frame


def test_the_wire_sends_a_summary_frame_when_its_channel_can():
    ch = SummaryChannel()
    Wire(ch).on_summary(summary())
    assert [type(f) for f in ch.frames] == [QemgSummary] and ch.frames[0].amplitude_uv == 812
    Wire(AlertOnlyChannel()).on_summary(summary())   # nothing sent, nothing raised


# ---------------------------------------------------------------- through the service


class VoluntaryClassifier(ThresholdClassifier):
    """Every window is voluntary activity (the stub the test needs)."""

    def predict(self, window):
        return VOL.astype(np.float32)


@pytest.fixture(scope="module")
def contraction(tmp_path_factory):
    from convert.simulator.voluntary_truth import render_voluntary_truth

    truth = render_voluntary_truth(3, effort=0.15, duration_s=12.0, sample_rate=10_000)
    wav = tmp_path_factory.mktemp("qemg") / "contraction.wav"
    write_wav(wav, truth.pcm, 10_000)
    return truth, wav


def run_opts(tmp_path, wav, uv, classifier, **kw):
    b = standin_bundle(10_000)
    base = dict(bundle=b, source=f"wav:{wav}?uv_per_lsb={uv}", speed=None, classifier=classifier,
                frontend=EnergyFrontend(b.frontend_config), alerts_jsonl=str(tmp_path / "out.jsonl"),
                install_signal_handlers=False, stats_every_s=0, qemg_config=QemgConfig(pattern_bundle=None))
    base.update(kw)
    return RuntimeOptions(**base)


def test_a_simulated_contraction_comes_out_as_one_plausible_summary(tmp_path, contraction):
    truth, wav = contraction
    got = []

    class Listener:
        def on_summary(self, s):
            got.append(s)

        def close(self):
            pass

    res = run(run_opts(tmp_path, wav, truth.uv_per_lsb, VoluntaryClassifier(), summary_listeners=[Listener()]))
    assert res.exit_code == 0 and res.qemg_summaries == 1 and res.qemg_skipped == 0 == res.qemg_failed
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines] == ["qemg_summary"]
    s = lines[0]
    assert s == got[0].to_dict() and s["stretch_id"] == 1
    assert s["start_sample"] == 0 and 11.0 <= s["end_s"] <= 12.0 and s["sample_rate"] == 10_000
    # the truth: 9 active units of 330-600 µV in the simulator's pool at 15 % effort
    true_amp = np.median([u.amplitude_uv for u in truth.units if u.n_discharges >= 20])
    assert s["n_units"] >= 3
    assert 0.75 * true_amp <= s["median_amplitude_uv"] <= 1.33 * true_amp
    assert 3.0 <= s["median_duration_ms"] <= 20.0 and 0.0 <= s["polyphasic_pct"] <= 100.0
    assert 5.0 <= s["mean_firing_rate_hz"] <= 30.0
    assert s["pattern"] in ("within limits", "neurogenic-looking", "myopathic-looking", "indeterminate")
    assert s["model_pattern"] is None and "not a diagnosis" in s["note"]


def test_with_the_pattern_model_the_summary_carries_its_call(tmp_path, contraction):
    truth, wav = contraction
    res = run(run_opts(tmp_path, wav, truth.uv_per_lsb, VoluntaryClassifier(),
                       qemg_config=QemgConfig(max_s=6.0)))   # the shipped muap_pattern model; two stretches
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert res.qemg_summaries == len(lines) == 2 and [x["stretch_id"] for x in lines] == [1, 2]
    assert lines[0]["end_sample"] == lines[1]["start_sample"] == 60_000
    for x in lines:
        assert x["model_pattern"] in ("normal", "neurogenic", "myopathic") and 0.33 < x["model_confidence"] <= 1


def test_no_voluntary_window_no_summary_and_no_qemg_switch(tmp_path, contraction):
    truth, wav = contraction
    res = run(run_opts(tmp_path, wav, truth.uv_per_lsb, ThresholdClassifier(level=10**9)))  # all rest
    assert res.qemg_summaries == 0 and (tmp_path / "out.jsonl").read_text() == ""
    res = run(run_opts(tmp_path, wav, truth.uv_per_lsb, VoluntaryClassifier(), qemg=False))
    assert res.qemg_summaries == 0 and (tmp_path / "out.jsonl").read_text() == ""


def test_qemg_required_of_a_bundle_without_the_class_is_a_user_error(tmp_path, contraction):
    truth, wav = contraction
    with pytest.raises(UserError, match="no class 'fasciculation_x'"):
        run(run_opts(tmp_path, wav, truth.uv_per_lsb, VoluntaryClassifier(), qemg=True,
                     qemg_config=QemgConfig(label="fasciculation_x")))
    with pytest.raises(UserError, match="qemg-muscle"):
        run(run_opts(tmp_path, wav, truth.uv_per_lsb, VoluntaryClassifier(),
                     qemg_config=QemgConfig(muscle="no_such_muscle")))


@pytest.mark.parametrize("n", [441_001, 441_002, 441_004, 200_003])
def test_quantify_takes_any_length_at_44k1(n):
    """A stretch has any length: at 44.1 kHz (detection grid q = 4) a length that is not a
    multiple of 4 made edge.quant.chunks.windows fail after its last buffer (fixed)."""
    from edge.quant.bands import BandConfig
    from edge.quant.chunks import windows

    x = (np.random.default_rng(0).standard_normal(n) * 300).astype(np.int16)
    cores = [(w.start + w.lo, w.start + w.hi) for w in windows(x, 44_100, BandConfig(), 176_400, 1000, 0.5)]
    assert cores[0][0] == 0 and cores[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))  # the cores partition the signal


@pytest.mark.pty
@pytest.mark.skipif(__import__("os").name != "posix", reason="needs a POSIX pty")
def test_the_unit_receives_the_summary_frame_over_the_wire(tmp_path, contraction):
    """End to end over a pty: the virtual amplifier streams the contraction, the runtime's stub
    calls it voluntary, and the unit receives the QEMG_SUMMARY frame of the JSON line's summary."""
    from firmware_bridge.sim.virtual_amp import VirtualAmplifier

    truth, _ = contraction
    amp = VirtualAmplifier(truth.pcm, 10_000, truth.uv_per_lsb, speed=None)
    path = amp.start()
    try:
        res = run(run_opts(tmp_path, None, None, VoluntaryClassifier(), source=f"serial:{path}"))
        # The frame is written before run() returns; the amplifier's thread reads it on its
        # own time (slow on a loaded machine): wait for it rather than stop the unit first.
        wait_for(lambda: amp.stats.qemg_summaries >= 1)
    finally:
        amp.stop()
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert res.exit_code == 0 and res.reason == "end of stream" and res.qemg_summaries == 1
    assert [x["type"] for x in lines] == ["qemg_summary"] and lines[0]["n_units"] >= 3
    assert amp.stats.qemg_summaries == 1 and amp.stats.acks_sent >= 1  # START ACKed; the summary is not
    (frame,) = amp.qemg_summaries
    expected = StretchSummary(**lines[0]).to_frame()
    expected.seq = frame.seq  # the link's sequence number
    assert frame == expected and frame.n_units == lines[0]["n_units"]
