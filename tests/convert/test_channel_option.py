"""--channel N of check-data, train and evaluate: the channel of multi-channel recordings (issue 15 item 1)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from convert import check_data, evaluate, train
from convert.datadir import load_datadir
from convert.labels import write_labels_csv
from convert.recording import Segment

ROOT = Path(__file__).resolve().parents[2]


def _stereo_dir(tmp_path: Path) -> Path:
    """One 2-channel 16 kHz recording: channel 0 quiet, channel 1 loud (peak 4000 LSB)."""
    rng = np.random.default_rng(0)
    left = rng.integers(-100, 100, 16000 * 2)
    right = np.full(16000 * 2, 4000)
    scipy.io.wavfile.write(tmp_path / "a.wav", 16000, np.stack([left, right], axis=1).astype(np.int16))
    write_labels_csv(tmp_path / "a.csv", [Segment(0.0, 2.0, "fibrillation")], [])
    return tmp_path


def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_check_data_reads_the_chosen_channel_and_says_which(tmp_path, capsys):
    d = _stereo_dir(tmp_path)
    assert check_data.run(_parse(check_data, ["check-data", str(d)])) == 0
    out = capsys.readouterr().out
    assert "a: channel 0 of 2, 16000 Hz" in out and "peak 50 µV" in out  # the default: channel 0
    assert check_data.run(_parse(check_data, ["check-data", str(d), "--channel", "1"])) == 0
    out = capsys.readouterr().out
    assert "a: channel 1 of 2, 16000 Hz" in out and "peak 2000 µV" in out  # 4000 LSB at the default 0.5 µV


def test_channel_out_of_range_is_one_line_naming_file_and_count(tmp_path):
    d = _stereo_dir(tmp_path)
    out = subprocess.run([sys.executable, "-m", "convert.cli", "check-data", str(d), "--channel", "2"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"{d / 'a.wav'}: channel 2 requested; the file has 2 channel(s)" in out.stderr


def test_every_command_has_the_option_and_refuses_negative(capsys):
    for module, argv in ((check_data, ["check-data", "d"]), (train, ["train", "--data", "d", "--out", "o"]),
                         (evaluate, ["evaluate", "--data", "d", "--json", "j"])):
        assert _parse(module, argv).channel == 0 and _parse(module, argv + ["--channel", "3"]).channel == 3
        with pytest.raises(SystemExit):
            _parse(module, argv + ["--channel", "-1"])
        assert "a channel index is >= 0" in capsys.readouterr().err


def test_load_datadir_channel_of_edf(tmp_path):
    highlevel = pytest.importorskip("pyedflib.highlevel")
    hdr = highlevel.make_signal_header("A", dimension="uV", sample_frequency=8000, physical_min=-1000,
                                       physical_max=1000, digital_min=-32768, digital_max=32767)
    highlevel.write_edf(str(tmp_path / "r.edf"), np.stack([np.zeros(16000), np.full(16000, 500.0)]),
                        [hdr, dict(hdr, label="B")])
    write_labels_csv(tmp_path / "r.csv", [Segment(0.0, 2.0, "fibrillation")], [])
    rec, = load_datadir(tmp_path, channel=1)
    assert rec.meta["channel"] == "B" and rec.meta["channels"] == 2
    assert abs(float(np.median(rec.pcm)) * rec.uv_per_lsb - 500.0) < 0.1
