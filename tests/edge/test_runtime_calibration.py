"""The runtime calibrates every source to the bundle's µV per LSB (edge.calibration)."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from clikit import UserError
from firmware_bridge.host.source import SampleBlock

from edge.runtime.config import RuntimeConfig
from edge.runtime.pipeline import Pipeline
from edge.runtime.service import RuntimeOptions, run
from edge.runtime.sources import parse_source
from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, bursts, standin_bundle, write_wav


class Capture:
    """Wraps a front-end and keeps what it was given and what it returned."""

    def __init__(self, inner) -> None:
        self.inner, self.seen, self.out = inner, [], []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def process(self, pcm):
        self.seen.append(np.array(pcm))
        f = self.inner.process(pcm)
        self.out.append(np.array(f))
        return f

    def reset(self):
        self.inner.reset()


def _standin_pipe(**kw):
    b = standin_bundle()
    fe = Capture(EnergyFrontend(b.frontend_config))
    return Pipeline(b, ThresholdClassifier(), RuntimeConfig(), 8000, frontend=fe, **kw), fe


def test_parse_source_invert_and_serial_strip():
    spec = parse_source("serial:socket://h:7000?invert=1&logging=debug")
    assert spec.target == "socket://h:7000?logging=debug" and spec.invert
    assert parse_source("wav:a.wav?invert=true&uv_per_lsb=0.1").uv_per_lsb == 0.1
    assert not parse_source("alsa:default").invert and parse_source("alsa:default").uv_per_lsb is None
    with pytest.raises(UserError, match="invert='maybe' must be 1 or 0"):
        parse_source("wav:a.wav?invert=maybe")
    with pytest.raises(UserError, match=r"uv_per_lsb='5000' must be a number of µV/LSB in 0\.001\.\.1000"):
        parse_source("wav:a.wav?uv_per_lsb=5000")


def test_pipeline_calibrates_before_the_frontend():
    x = np.array([-32768, -7, -1, 0, 1, 7, 30000], np.int16)
    pipe, fe = _standin_pipe(invert=True)
    pipe.feed(SampleBlock(0, x))
    assert fe.seen[0].tolist() == [32767, 7, 1, 0, -1, -7, -30000]  # -(-32768) saturates
    assert pipe.counters.saturated_samples == 1
    pipe, fe = _standin_pipe(source_uv_per_lsb=2.0)  # 4x louder at the bundle's 0.5 µV/LSB
    pipe.feed(SampleBlock(0, x))
    assert fe.seen[0].tolist() == [-32768, -28, -4, 0, 4, 28, 32767] and pipe.counters.saturated_samples == 2


def _run(src, caplog, **kw):
    b = standin_bundle()
    fe = Capture(EnergyFrontend(b.frontend_config))
    with caplog.at_level(logging.INFO, logger="emg-edge"):
        summary = run(RuntimeOptions(bundle=b, source=src, speed=None, classifier=ThresholdClassifier(), frontend=fe,
                                     install_signal_handlers=False, stats_every_s=0, **kw))
    return summary, np.concatenate(fe.seen)


def test_wav_comment_scale_is_applied_and_logged(tmp_path, caplog):
    from convert.recordings import write_wav as write_commented

    pcm = bursts(3.0, 8000, [1.0])
    write_commented(tmp_path / "a.wav", pcm, 8000, uv_per_lsb=0.1)
    summary, seen = _run(f"wav:{tmp_path / 'a.wav'}", caplog)
    assert "calibration: source 0.1 µV/LSB (WAV comment) → bundle 0.5 µV/LSB (-14.0 dB, Q16 gain 13107)" in caplog.text
    ref = (pcm.astype(np.int64) * 13107 + 32768) >> 16
    assert np.array_equal(seen, ref) and summary.source_uv_per_lsb == 0.1 and summary.saturated_samples == 0
    summary, _ = _run(f"wav:{tmp_path / 'a.wav'}?uv_per_lsb=4", caplog)  # the parameter wins; 8x saturates
    assert summary.saturated_samples > 0 and "(?uv_per_lsb=)" in caplog.text


def test_unknown_scale_warns_or_is_refused(tmp_path, caplog):
    write_wav(tmp_path / "p.wav", bursts(2.0, 8000, []), 8000)
    summary, _ = _run(f"wav:{tmp_path / 'p.wav'}", caplog)
    assert "does not say its µV per LSB" in caplog.text and summary.source_uv_per_lsb is None
    with pytest.raises(UserError, match=r"does not say its µV per LSB and --strict is set: add \?uv_per_lsb="):
        _run(f"wav:{tmp_path / 'p.wav'}", caplog, strict=True)


def test_cli_strict_refuses_unknown_scale_in_one_line(tmp_path):
    write_wav(tmp_path / "p.wav", bursts(2.0, 44100, []), 44100)
    out = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--strict", "--speed", "max", "--source",
                          f"wav:{tmp_path / 'p.wav'}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    err = [line for line in out.stderr.splitlines() if "INFO" not in line]
    assert len(err) == 1 and "does not say its µV per LSB and --strict is set" in err[0], out.stderr


class _Unit:
    """A serial-unit-shaped source whose HELLO (scale) changes after ``switch`` blocks."""

    sample_rate = 8000
    hello = object()

    def __init__(self, pcm, switch):
        self.pcm, self.switch, self.i, self.uv_per_lsb = pcm, switch, 0, 0.5

    def read_block(self, timeout=None):
        if self.i * 800 >= self.pcm.size:
            raise EOFError
        if self.i == self.switch:
            self.uv_per_lsb = 0.25  # a new HELLO arrived before this block
        blk = SampleBlock(self.i * 800, self.pcm[self.i * 800:(self.i + 1) * 800])
        self.i += 1
        return blk

    def close(self):
        pass


def test_new_hello_scale_applies_from_the_next_block(caplog):
    pcm = bursts(3.0, 8000, [1.0])
    summary, seen = _run(_Unit(pcm, switch=15), caplog)
    ref = np.concatenate([pcm[:12000], ((pcm[12000:].astype(np.int64) * 32768 + 32768) >> 16).astype(np.int16)])
    assert np.array_equal(seen, ref) and summary.source_uv_per_lsb == 0.25
    assert "source 0.25 µV/LSB (the unit's HELLO changed it)" in caplog.text


def test_same_signal_at_three_scales_gives_the_same_features_and_alerts(tmp_path):
    """One simulated physical signal written at 0.1, 0.5 and 2 µV/LSB (and inverted), run with
    the shipped bundle: after calibration the features agree (exactly at 0.1, since 5 · 13107 =
    65535 undoes the ×5; at 2 µV/LSB the file's own quantization is left: measured mean |Δ|
    0.14-0.15 dB over seeds 1-3) and the alert is the same."""
    from convert.recordings import write_wav as write_commented
    from convert.simulator import simulate_clip
    from edge.bundle import load_bundle
    from edge.frontend import Frontend

    bundle = load_bundle("default")
    rec = simulate_clip("complex_repetitive_discharge", 6.0, 44100, seed=1)
    uv_uv = rec.pcm.astype(np.float64) * rec.uv_per_lsb  # the physical signal, µV

    def go(uv, suffix="", sign=1):
        path = tmp_path / f"s{uv}{'i' if sign < 0 else ''}.wav"
        write_commented(path, np.clip(np.round(sign * uv_uv / uv), -32768, 32767).astype(np.int16), 44100, uv)
        fe = Capture(Frontend(bundle.frontend_config))
        s = run(RuntimeOptions(bundle=bundle, source=f"wav:{path}{suffix}", speed=None, frontend=fe,
                               install_signal_handlers=False, stats_every_s=0))
        return np.concatenate(fe.out).astype(np.float64) / 64.0, [(a.label, a.onset_sample) for a in s.alerts], s

    ref, ref_alerts, _ = go(0.5)
    assert [lab for lab, _ in ref_alerts] == ["complex_repetitive_discharge"]
    hop = bundle.hop_frames * bundle.frontend_config.hop_length
    for uv, tol_db in ((0.1, 0.0), (2.0, 0.25)):
        feats, alerts, s = go(uv)
        assert feats.shape == ref.shape and np.mean(np.abs(feats - ref)) <= tol_db, uv
        assert s.saturated_samples == 0
        assert [lab for lab, _ in alerts] == [lab for lab, _ in ref_alerts]
        assert all(abs(a - b) <= hop for (_, a), (_, b) in zip(alerts, ref_alerts))
    uncal, _, _ = go(0.1, "?uv_per_lsb=0.5")  # the old behaviour: read as if 0.5 µV/LSB
    assert np.mean(np.abs(uncal - ref)) > 10.0
    inv, inv_alerts, _ = go(0.5, "?invert=1", sign=-1)  # an inverted copy, inverted back
    assert np.array_equal(inv, ref) and inv_alerts == ref_alerts
