"""File sources of the runtime: wav: of every encoding convert reads, edf: and wfdb: streamed (issue 15 item 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from clikit import UserError
from convert.recordings import read_recording, write_wav
from edge.runtime.sources import open_source, parse_source

ROOT = Path(__file__).resolve().parents[2]
RATE = 44100


def _pcm(seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.clip(rng.normal(0, 2000, int(RATE * seconds)), -32768, 32767).astype(np.int16)


def _drain(opened) -> np.ndarray:
    parts = []
    try:
        while True:
            blk = opened.source.read_block()
            if blk is not None:
                parts.append(blk.samples)
    except EOFError:
        pass
    finally:
        opened.source.close()
    return np.concatenate(parts)


def _edf(path: Path, pcm: np.ndarray, uv_per_lsb: float = 0.5) -> Path:
    highlevel = pytest.importorskip("pyedflib.highlevel")
    fs = 32768 * uv_per_lsb
    hdr = highlevel.make_signal_header("EMG", dimension="uV", sample_frequency=RATE, physical_min=-fs,
                                       physical_max=fs, digital_min=-32768, digital_max=32767)
    x = pcm.astype(np.float64) * uv_per_lsb
    highlevel.write_edf(str(path), np.stack([np.zeros_like(x), x]), [dict(hdr, label="REF"), hdr])
    return path


def _wfdb(folder: Path, pcm: np.ndarray) -> Path:
    wfdb = pytest.importorskip("wfdb")
    wfdb.wrsamp("emg", fs=RATE, units=["uV", "uV"], sig_name=["ref", "needle"], d_signal=np.stack(
        [np.zeros_like(pcm), pcm], axis=1).astype(np.int64), fmt=["16", "16"], adc_gain=[2.0, 2.0],
        baseline=[0, 0], write_dir=str(folder))
    return folder / "emg.hea"


def test_parse_edf_and_wfdb_sources():
    spec = parse_source("edf:/data/a.edf?channel=EMG&invert=1&uv_per_lsb=0.5")
    assert (spec.kind, spec.target, spec.params["channel"], spec.invert, spec.live) == ("edf", "/data/a.edf", "EMG",
                                                                                         True, False)
    spec = parse_source("wfdb:records/emg01?channel=2")
    assert (spec.kind, spec.target, spec.params, spec.live) == ("wfdb", "records/emg01", {"channel": "2"}, False)
    with pytest.raises(UserError, match="unknown parameter.*baud.*allowed for edf: channel, invert, uv_per_lsb"):
        parse_source("edf:a.edf?baud=9600")
    with pytest.raises(UserError, match="channel=-1 must be positive"):
        parse_source("wfdb:a?channel=-1")


@pytest.mark.parametrize("encoding", ["pcm24", "float32", "int32"])
def test_wav_source_reads_what_convert_reads(tmp_path, encoding):
    pcm = _pcm(1.0)
    path = tmp_path / "x.wav"
    if encoding == "pcm24":
        write_wav(path, pcm, RATE, uv_per_lsb=0.5, bits=24)
        src = f"wav:{path}"
    elif encoding == "float32":
        scipy.io.wavfile.write(path, RATE, (pcm / 32768).astype(np.float32))
        src = f"wav:{path}?uv_per_lsb=0.5"
    else:
        scipy.io.wavfile.write(path, RATE, pcm.astype(np.int32) << 16)
        src = f"wav:{path}?uv_per_lsb=0.5"
    opened = open_source(parse_source(src), speed=None)
    assert opened.source.uv_per_lsb == 0.5 and opened.n_samples == pcm.size and opened.file == str(path)
    got = _drain(opened)
    assert np.array_equal(got, pcm)
    assert np.array_equal(got, read_recording(path, uv_per_lsb=0.5).pcm)  # device and training agree


@pytest.mark.parametrize("kind", ["edf", "wfdb"])
def test_edf_and_wfdb_sources_pick_a_channel_and_agree_with_convert(tmp_path, kind):
    pcm = _pcm(2.0)
    path = _edf(tmp_path / "x.edf", pcm) if kind == "edf" else _wfdb(tmp_path, pcm)
    opened = open_source(parse_source(f"{kind}:{path}?channel=1&invert=1"), speed=None)
    assert opened.invert and opened.scale_origin == f"{kind.upper()} header" and opened.n_samples == pcm.size
    assert opened.source.uv_per_lsb == pytest.approx(0.5, rel=1e-4)
    got = _drain(opened)
    assert np.abs(got.astype(int) - pcm).max() <= (1 if kind == "edf" else 0)
    assert np.array_equal(got, read_recording(path, channel=1).pcm)  # one reader, one scale rule
    named = open_source(parse_source(f"{kind}:{path}?channel={'EMG' if kind == 'edf' else 'needle'}"), speed=None)
    assert np.array_equal(_drain(named), got)
    with pytest.raises(ValueError, match=r"channel 2 requested; the file has 2 channel\(s\)"):
        open_source(parse_source(f"{kind}:{path}?channel=2"), speed=None)


def test_missing_io_extra_is_a_user_error(tmp_path, monkeypatch):
    path = _edf(tmp_path / "x.edf", _pcm(1.0))
    monkeypatch.setitem(sys.modules, "pyedflib", None)
    with pytest.raises(UserError, match=r"pip install 'emg-edge-kit\[io\]'"):
        open_source(parse_source(f"edf:{path}"), speed=None)


def test_emg_edge_run_replays_24_bit_and_edf_files(tmp_path):
    pcm = _pcm(3.0)
    write_wav(tmp_path / "x24.wav", pcm, RATE, uv_per_lsb=0.5, bits=24)
    _edf(tmp_path / "x.edf", pcm)
    for source in (f"wav:{tmp_path / 'x24.wav'}", f"edf:{tmp_path / 'x.edf'}?channel=EMG"):
        out = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--speed", "max", "--source", source],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert "end of stream: 3.0 s of audio" in out.stderr, out.stderr
