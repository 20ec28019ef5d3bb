"""Regression on real needle EMG: the shipped bundle on the PhysioNet emgdb records.

``tests/data/physionet-emgdb`` holds three real concentric-needle recordings of tibialis
anterior (4 kHz, 0.1 µV per LSB; ODC-By 1.0, attribution in its README). The healthy one is
gentle voluntary contraction then rest: a detector that alarms on it is worse than none
(issue 11). The target is no pathological alert through ``emg-edge run`` at its true scale and
at most 2 % of windows called pathological. The shipped bundle does not meet it yet (see the
model card): the target is an expected failure (strict, so meeting it fails the test until
the mark is removed), and what it does meet is held as a regression bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

DATA = Path(__file__).resolve().parents[1] / "data" / "physionet-emgdb"
UV_PER_LSB = 0.1  # the WFDB header: gain 10000 per mV
RATE = 4000


@pytest.fixture(scope="module")
def healthy():
    """The healthy record through the device chain, as recorded and inverted."""
    from convert.real_records import evaluate_records
    from edge.bundle import load_bundle

    bundle = load_bundle("default")
    return {inv: evaluate_records(bundle, DATA, records=("emg_healthy",), invert=inv)["emg_healthy"]
            for inv in (False, True)}


def test_emg_edge_run_gives_the_device_chain_alerts_at_the_true_scale(tmp_path, healthy):
    pcm = np.fromfile(DATA / "emg_healthy.dat", dtype="<i2")
    wav = tmp_path / "emg_healthy.wav"
    wavfile.write(wav, RATE, pcm)  # no scale in the file: the source string gives it
    alerts = tmp_path / "alerts.jsonl"
    r = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--bundle", "default", "--strict",
                        "--source", f"wav:{wav}?uv_per_lsb={UV_PER_LSB}", "--speed", "max",
                        "--alerts-jsonl", str(alerts)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "0.1 µV/LSB" in r.stderr  # the calibration line: the true scale was applied
    rows = [json.loads(line) for line in alerts.read_text().splitlines()] if alerts.exists() else []
    got = [(a["label"], round(a["onset_s"], 2)) for a in rows if "type" not in a and a["pathological"]]
    want = [(a["label"], round(a["onset_s"], 2)) for a in healthy[False]["alerts"] if a["pathological"]]
    assert got == want


def test_polarity_does_not_change_any_window(healthy):
    assert healthy[True]["window_labels"] == healthy[False]["window_labels"]
    assert healthy[True]["alerts"] == healthy[False]["alerts"]


def test_healthy_record_regression_bound(healthy):
    # Measured with emg-cnn-d882fa9ca92d (simulator 1.7.0 plus convert.altsim) and with its
    # predecessor emg-cnn-e7f24422d4ba (1.5.0): 0 of 47 windows, no alert. Before that, the
    # 1.4.0 bundle called 21.3 % positive sharp waves and raised one alert; the one before that
    # called 100 % complex repetitive discharge.
    res = healthy[False]
    assert res["uv_per_lsb"] == pytest.approx(UV_PER_LSB)
    assert res["windows"] >= 45
    assert "C" not in res["window_labels"]  # never a complex repetitive discharge


def test_healthy_record_meets_the_target(healthy):
    res = healthy[False]
    assert res["pathological_alerts"] == 0
    assert res["pathological_share"] <= 0.02
