"""The demo recording is not in the wheel: ``edge.demo.recording.demo_wav`` makes it once, in a
child process running ``python -m convert.demo_recording``, into the user's cache; the demo's
header counts episodes as the scorecard does."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from clikit import UserError
from edge.demo import recording
from edge.demo.recording import DATA_DIR, demo_wav, load_demo_recording
from edge.demo.run import header
from edge.demo.run import main as demo_main

FAKE_WAV = b"RIFF fake demo recording"

#: A stand-in generator (``--out DIR``), so the cache logic is tested without the 10 s simulation.
FAKE_GENERATOR = f"""
import sys
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
if out.parent.joinpath("fail").exists():
    sys.exit("simulator exploded")
(out / "demo.wav").write_bytes({FAKE_WAV!r})
(out / "demo.labels.csv").write_text("start_s,end_s,label\\n")
(out / "demo.json").write_text("{{}}")
with open(out.parent / "runs", "a") as fh:
    fh.write("run\\n")
"""


@pytest.fixture
def wheel_install(tmp_path, monkeypatch):
    """An installed wheel's demo/data: the shipped JSON, no WAV; a fake generator; a fresh cache."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo.json").write_text(json.dumps({"sha256": hashlib.sha256(FAKE_WAV).hexdigest()}))
    (tmp_path / "fake_demo_generator.py").write_text(FAKE_GENERATOR)
    monkeypatch.setattr(recording, "DATA_DIR", data)
    monkeypatch.setattr(recording, "DEMO_WAV", data / "demo.wav")
    monkeypatch.setattr(recording, "GENERATOR", "fake_demo_generator")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("EMG_EDGE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_made_once_into_the_cache_then_reused(wheel_install):
    said: list[str] = []
    first = demo_wav(echo=said.append)
    want = hashlib.sha256(FAKE_WAV).hexdigest()
    assert first == wheel_install / "cache" / f"demo-{want[:12]}" / "demo.wav"
    assert first.read_bytes() == FAKE_WAV
    assert len(said) == 1 and "making the demo recording once" in said[0]
    assert demo_wav(echo=said.append) == first
    assert (wheel_install / "cache" / "runs").read_text() == "run\n"  # the generator ran once
    assert len(said) == 1
    assert [p.name for p in (wheel_install / "cache").iterdir() if p.name.startswith(".demo-")] == []


def test_a_different_recording_is_used_with_a_note(wheel_install):
    (wheel_install / "data" / "demo.json").write_text(json.dumps({"sha256": "ab" * 32}))
    said: list[str] = []
    path = demo_wav(echo=said.append)
    assert path.read_bytes() == FAKE_WAV and path.parent.name == "demo-abababababab"
    assert any("differs from the reference" in line for line in said)


def test_a_failing_generator_is_a_one_line_user_error(wheel_install):
    (wheel_install / "cache").mkdir()
    (wheel_install / "cache" / "fail").touch()
    with pytest.raises(UserError, match="could not make the demo recording.*simulator exploded"):
        demo_wav(echo=lambda line: None)
    assert sorted(p.name for p in (wheel_install / "cache").iterdir()) == ["fail"]  # no half-made folder


def test_recording_path_prints_only_the_path(wheel_install, capsys):
    assert demo_main(["--recording-path"]) == 0
    out, err = capsys.readouterr()
    assert Path(out.strip()).read_bytes() == FAKE_WAV and "making the demo recording" in err


def test_the_checkout_recording_is_used_as_it_is():
    if not (DATA_DIR / "demo.wav").is_file():
        pytest.skip("not a git checkout: edge/demo/data/demo.wav is made on first use")
    assert demo_wav(echo=pytest.fail) == DATA_DIR / "demo.wav"


def test_the_generator_needs_no_tensorflow():
    """The device install has no TensorFlow: the child process must not import it."""
    code = ("import sys, convert.demo_recording; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tf_keras'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_header_counts_episodes_as_the_scorecard_does():
    # 15 labelled pathological spans: one neuromyotonic discharge is two spans 0.6 s apart
    rec = load_demo_recording(echo=lambda line: None)
    assert "14 pathological episodes" in header(rec, realtime=False)


def test_no_matplotlib_means_no_timeline_not_a_traceback(tmp_path, monkeypatch):
    """The device install has no matplotlib: the demo still scores, and says why there is no PNG."""
    import wave

    from edge.demo import run as demo_run

    rec = load_demo_recording(echo=lambda line: None)
    wav = tmp_path / "short.wav"
    with wave.open(str(wav), "wb") as fh:  # the first 10 s: rest, insertional, rest, fibrillation
        fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(rec.sample_rate)
        fh.writeframes(rec.pcm[: rec.sample_rate * 10].tobytes())
    (tmp_path / "short.labels.csv").write_text("start_s,end_s,label\n8.0,10.0,fibrillation\n")
    (tmp_path / "short.json").write_text(json.dumps({"uv_per_lsb": rec.uv_per_lsb}))
    real_find_spec = demo_run.importlib.util.find_spec
    monkeypatch.setattr(demo_run.importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a))
    said: list[str] = []
    result = demo_run.run_demo(tmp_path / "out", wav=wav, echo=said.append)
    assert result.runtime_exit == 0 and result.scorecard.episodes == 1
    assert not result.timeline and not (tmp_path / "out" / "timeline.png").exists()
    assert any("matplotlib is not installed" in line for line in said)
    assert (tmp_path / "out" / "scorecard.json").is_file()


def test_demo_is_a_subcommand_module(wheel_install, capsys):
    """``emg-edge demo`` once edge/cli.py lists ``edge.demo.run`` in COMMANDS."""
    from clikit import run

    assert run("emg-edge", "", ["edge.demo.run"], ["demo", "--recording-path"]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes() == FAKE_WAV
