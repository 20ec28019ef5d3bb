"""The shipped default bundle through the runtime: refusals at start-up, a real WAV run,
rate policy on the real bundle."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import SHIPPED_DIR

from tests.edge.runtime_standins import write_wav

DEFAULT = SHIPPED_DIR / "default"
pytestmark = pytest.mark.skipif(not (DEFAULT / "manifest.json").is_file(), reason="default bundle not built yet")


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "edge.cli", "run", *args], capture_output=True, text=True,
                          timeout=timeout)


def _copy(tmp_path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(DEFAULT, dst)
    return dst


def _edit_manifest(bundle: Path, fn) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    fn(m)
    (bundle / "manifest.json").write_text(json.dumps(m))


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory):
    p = tmp_path_factory.mktemp("wav") / "noise.wav"
    rate = json.loads((DEFAULT / "manifest.json").read_text())["sample_rate"]
    write_wav(p, np.random.default_rng(0).normal(0, 30, int(rate * 3)).astype(np.int16), rate)
    return p


def _corrupt_model(b: Path) -> None:
    data = bytearray((b / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (b / "model.tflite").write_bytes(bytes(data))


def _bad_schema(b: Path) -> None:
    _edit_manifest(b, lambda m: m.update(schema_version=99))


def _bad_spec(b: Path) -> None:
    _edit_manifest(b, lambda m: m["frontend"].update(spec_version="0.0-other"))


def _no_manifest(b: Path) -> None:
    (b / "manifest.json").unlink()


@pytest.mark.parametrize("damage, words", [
    (_corrupt_model, "sha256"),
    (_bad_schema, "schema_version"),
    (_bad_spec, "spec version"),
    (_no_manifest, "manifest.json is missing"),
])
def test_damaged_bundle_is_refused_at_start_up(tmp_path, short_wav, damage, words):
    b = _copy(tmp_path)
    damage(b)
    out = _cli("--bundle", str(b), "--source", f"wav:{short_wav}", "--speed", "max")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "bundle refused" in out.stderr and words in out.stderr
    assert out.stdout == ""


def test_default_bundle_runs_a_wav_and_exits_0(tmp_path, short_wav):
    jsonl = tmp_path / "a.jsonl"
    out = _cli("--bundle", "default", "--source", f"wav:{short_wav}", "--speed", "max", "--alerts-jsonl", str(jsonl))
    assert out.returncode == 0, out.stderr
    assert "end of stream" in out.stderr and "windows" in out.stderr


def test_wav_shorter_than_a_window_and_rate_too_low_with_the_real_bundle(tmp_path):
    m = json.loads((DEFAULT / "manifest.json").read_text())
    short = tmp_path / "short.wav"
    write_wav(short, np.zeros(int(m["sample_rate"] * 0.3), np.int16), m["sample_rate"])
    out = _cli("--source", f"wav:{short}", "--speed", "max")
    assert out.returncode == 2 and "shorter than one analysis window" in out.stderr
    assert "Traceback" not in out.stderr
    low = tmp_path / "low.wav"
    low_rate = int(m["min_sample_rate"]) // 2
    write_wav(low, np.zeros(low_rate * 2, np.int16), low_rate)
    out = _cli("--source", f"wav:{low}", "--speed", "max")
    assert out.returncode == 2 and f"at least {m['min_sample_rate']} Hz" in out.stderr
    assert "Traceback" not in out.stderr
