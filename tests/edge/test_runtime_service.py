"""The service loop on WAV sources with stand-in front-end/classifier: alerts, JSONL, exits,
rate policy, short files, CLI refusals."""

import json
import logging
import subprocess
import sys
import threading

import pytest

from clikit import UserError

from edge.runtime.service import RuntimeOptions, run
from edge.runtime.sources import parse_source

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle, write_wav


def opts(tmp_path, wav, rate=8000, **kw):
    b = standin_bundle(rate)
    base = dict(bundle=b, source=f"wav:{wav}", speed=None, classifier=ThresholdClassifier(),
                frontend=EnergyFrontend(b.frontend_config), alerts_jsonl=str(tmp_path / "alerts.jsonl"),
                install_signal_handlers=False, stats_every_s=0)
    base.update(kw)
    return RuntimeOptions(**base)


def test_wav_replay_writes_alerts_and_ends_with_exit_0(tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(30.0, 8000, [5.0, 20.0]), 8000)
    seen = []
    summary = run(opts(tmp_path, wav, on_alert=seen.append, outbox=str(tmp_path / "o.sqlite")))
    assert summary.exit_code == 0 and summary.reason == "end of stream"
    assert summary.audio_s == pytest.approx(30.0)
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [x["label"] for x in lines] == ["fibrillation", "fibrillation"]
    assert [x["id"] for x in lines] == [1, 2]
    for x, t in zip(lines, (5.0, 20.0)):
        assert abs(x["onset_s"] - t) < 0.3 and x["pathological"] is True
        assert x["model_id"] == "standin-energy-v0" and x["sample_rate"] == 8000
        assert 0 < x["confidence"] <= 1 and x["offset_s"] >= x["onset_s"]
    assert [a.id for a in seen] == [1, 2]
    assert summary.pending_alerts == 0  # no amplifier link: the sinks are the delivery
    # a second run on the same outbox continues the id counter
    summary2 = run(opts(tmp_path, wav, outbox=str(tmp_path / "o.sqlite")))
    assert [a.id for a in summary2.alerts] == [3, 4]


def test_rate_mismatch_is_resampled_with_a_warning(tmp_path, caplog):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(12.0, 16000, [6.0]), 16000)
    with caplog.at_level(logging.WARNING, logger="emg-edge"):
        summary = run(opts(tmp_path, wav))
    assert "resampling" in caplog.text and "16000 Hz" in caplog.text
    assert summary.source_rate == 16000 and summary.model_rate == 8000
    assert len(summary.alerts) == 1
    assert abs(summary.alerts[0].onset_s - 6.0) < 0.3
    assert summary.alerts[0].sample_rate == 16000


def test_rate_below_bundle_minimum_is_refused(tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(3.0, 4000, []), 4000)
    with pytest.raises(UserError, match="4000 Hz but this bundle needs at least 6000 Hz"):
        run(opts(tmp_path, wav))


def test_wav_shorter_than_one_window_gets_a_clear_message(tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(0.5, 8000, []), 8000)
    with pytest.raises(UserError, match="shorter than one analysis window"):
        run(opts(tmp_path, wav))


def test_stop_event_ends_a_paced_replay(tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(60.0, 8000, []), 8000)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    summary = run(opts(tmp_path, wav, speed=1.0, stop_event=stop))
    assert summary.exit_code == 0 and summary.reason.startswith("stopped")
    assert summary.audio_s < 5.0


@pytest.mark.parametrize("text, kind, target, params", [
    ("serial:/dev/ttyACM0?baud=3000000", "serial", "/dev/ttyACM0", {"baud": "3000000"}),
    ("serial:/dev/pts/7", "serial", "/dev/pts/7", {}),
    ("serial:socket://localhost:7000?logging=debug&baud=921600", "serial", "socket://localhost:7000?logging=debug",
     {"baud": "921600"}),
    ("alsa:hw:1,0?rate=48000", "alsa", "hw:1,0", {"rate": "48000"}),
    ("wav:/tmp/a b.wav", "wav", "/tmp/a b.wav", {}),
])
def test_parse_source(text, kind, target, params):
    spec = parse_source(text)
    assert (spec.kind, spec.target, spec.params) == (kind, target, params)


@pytest.mark.parametrize("text, msg", [
    ("tcp:host", "not understood"), ("serial:", "not understood"), ("serial:/dev/x?baud=fast", "baud='fast'"),
    ("alsa:hw:0?gain=3", "unknown parameter"), ("wav:x.wav?uv_per_lsb=-1", "uv_per_lsb"),
])
def test_parse_source_errors(text, msg):
    with pytest.raises(UserError, match=msg):
        parse_source(text)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edge.cli", "run", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_refuses_bad_inputs_in_one_line(tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, bursts(2.0, 8000, []), 8000)
    bad = tmp_path / "bad.toml"
    bad.write_text("[detector.default]\nenter = 3\n")
    cases = [
        (["--config", str(bad), "--source", f"wav:{wav}"], "bad.toml: detector.default: enter=3"),
        (["--bundle", str(tmp_path / "nope"), "--source", f"wav:{wav}"], "not found"),
        (["--bundle", "default", "--source", "tcp:1"], "not understood"),
        (["--bundle", "default", "--source", f"wav:{tmp_path / 'missing.wav'}"], None),
    ]
    for args, msg in cases:
        out = _cli(*args)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        # Start-up information (INFO lines: bundle provenance, guard) may precede; the error is one line.
        problems = [ln for ln in out.stderr.strip().splitlines() if " INFO " not in ln]
        assert len(problems) <= 1 or "WARNING" in out.stderr, out.stderr
        assert problems[-1].startswith("emg-edge: error: "), out.stderr
        if msg:
            assert msg in out.stderr


def test_stats_line_reports_rate_cpu_queue_gaps_crc_pending():
    from edge.runtime.stats import StatsMeter

    clock = iter([0.0, 5.0, 10.0, 10.0]).__next__
    cpu = iter([0.0, 0.2]).__next__
    meter = StatsMeter(every_s=5.0, clock=clock, cpu_clock=cpu)
    meter.add_audio(100.0)
    meter.windows, meter.alerts = 397, 2
    assert meter.due()
    snap = meter.snapshot(queue_depth=3, queue_capacity=512, gap_samples=441, crc_errors=7, pending_alerts=1)
    assert snap.rtf == 10.0 and snap.cpu_per_audio_s == pytest.approx(0.002)
    line = snap.line()
    for part in ("rtf 10.00x", "cpu 0.002 s/s", "queue 3/512", "gaps 441 samples", "crc errors 7",
                 "pending alerts 1", "alerts 2"):
        assert part in line


def test_replayed_file_alert_wall_clocks_never_follow_their_emission(tmp_path):
    """At --speed max a file is read far faster than real time: an alert's onset/offset wall
    clock is when the runtime had those samples, never after the alert was emitted."""
    import json as _json

    import numpy as np

    from convert.recordings import read_wav as _read_wav
    from convert.recordings import write_wav as _write_wav
    from edge.demo.recording import DEMO_WAV
    from edge.runtime.service import RuntimeOptions, run as _run

    x, rate, _ = _read_wav(DEMO_WAV)
    short = tmp_path / "short.wav"
    _write_wav(short, np.round(x[: rate * 30] * 32767).astype(np.int16), rate, uv_per_lsb=0.5)
    out = tmp_path / "alerts.jsonl"
    summary = _run(RuntimeOptions(bundle="default", source=f"wav:{short}", speed=None, alerts_jsonl=out,
                                  install_signal_handlers=False))
    lines = [_json.loads(line) for line in out.read_text().splitlines()]
    alerts = [x for x in lines if "type" not in x]  # QEMG summaries ("type": "qemg_summary") share the file
    assert summary.exit_code == 0 and alerts
    for a in alerts:
        assert a["onset_wall"] <= a["offset_wall"] <= a["emitted_wall"], a
