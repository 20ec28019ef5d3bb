"""emg-convert check-data: summary of a data directory, one-line errors."""

import argparse

import numpy as np
import pytest

from convert import check_data
from convert.labels import write_labels_csv
from convert.recording import Segment
from convert.recordings import write_wav


def _parse(argv):
    parser = argparse.ArgumentParser()
    check_data.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_reports_recordings_and_window_counts(tmp_path, capsys):
    pcm = np.random.default_rng(0).integers(-500, 500, 16000 * 3).astype(np.int16)
    write_wav(tmp_path / "a.wav", pcm, 16000, uv_per_lsb=0.5)
    write_labels_csv(tmp_path / "a.csv", [Segment(1.0, 3.0, "fibrillation")], [(0.5, "fasciculation")])
    assert check_data.run(_parse(["check-data", str(tmp_path), "--sample-rate", "16000", "--hop-s", "0.5"])) == 0
    out = capsys.readouterr().out
    assert "a: 16000 Hz, 3.0 s, 0.5 µV/LSB (wav-comment)" in out and "1 point labels; fibrillation 2.0s" in out
    # windows 0-1 (fasciculation event at 0.5 s), 0.5-1.5 (fib 50 %), 1-2, 1.5-2.5, (2-3 incomplete)
    assert "fasciculation                       1 windows" in out
    assert "fibrillation                        3 windows" in out


def test_problems_raise_value_errors_for_the_cli(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(800, np.int16), 8000)
    with pytest.raises(ValueError, match="a.wav: no label file"):
        check_data.run(_parse(["check-data", str(tmp_path)]))
