"""convert.datadir: the folder convention, label pairing, aliases, and errors naming the file."""

import numpy as np
import pytest

from convert.datadir import DataDirError, label_file_for, load_datadir
from convert.labels import write_audacity_labels, write_labels_csv
from convert.recording import Segment
from convert.recordings import write_wav


def _wav(path, seconds=2.0, rate=16000, seed=0):
    pcm = np.random.default_rng(seed).integers(-2000, 2000, int(seconds * rate)).astype(np.int16)
    write_wav(path, pcm, rate, uv_per_lsb=0.5)
    return pcm


def test_folder_of_wavs_with_csv_and_audacity_labels(tmp_path):
    _wav(tmp_path / "p1.wav")
    write_labels_csv(tmp_path / "p1.csv", [Segment(0.5, 1.0, "fibrillation")], [(1.5, "fasciculation")])
    write_audacity_labels(tmp_path / "p1.txt", [Segment(0.0, 2.0, "rest")])  # the CSV wins
    (tmp_path / "sub").mkdir()
    _wav(tmp_path / "sub" / "p2.wav", rate=8000)
    (tmp_path / "sub" / "p2.txt").write_text("0.1\t0.9\tPSW\n")
    (tmp_path / "README.txt").write_text("not a label file: no recording named README\n")
    recs = load_datadir(tmp_path, target_rate=16000)
    assert [r.name for r in recs] == ["p1", "sub/p2"]
    p1, p2 = recs
    assert p1.segments == [Segment(0.5, 1.0, "fibrillation")]
    assert p1.meta["events"] == [(1.5, "fasciculation")]
    assert p2.segments == [Segment(0.1, 0.9, "positive_sharp_wave")]
    assert p2.sample_rate == 16000 and p2.meta["native_rate"] == 8000
    assert label_file_for(tmp_path / "p1.wav").name == "p1.csv"


def test_alias_file_applies_to_its_folder_and_below(tmp_path):
    (tmp_path / "aliases.csv").write_text("name,label\nspont,fibrillation\n")
    (tmp_path / "a").mkdir()
    _wav(tmp_path / "a" / "r.wav")
    (tmp_path / "a" / "r.csv").write_text("start_s,end_s,label\n0,1,Spont\n")
    recs = load_datadir(tmp_path)
    assert recs[0].segments == [Segment(0.0, 1.0, "fibrillation")]


def test_missing_label_file_is_an_error_unless_allowed(tmp_path):
    _wav(tmp_path / "x.wav")
    with pytest.raises(DataDirError, match=r"x\.wav: no label file; expected x\.csv"):
        load_datadir(tmp_path)
    recs = load_datadir(tmp_path, require_labels=False)
    assert recs[0].segments == [] and recs[0].meta["labelled"] is False


def test_problems_are_collected_and_name_files(tmp_path):
    _wav(tmp_path / "a.wav")
    (tmp_path / "a.csv").write_text("start_s,end_s,label\n0,1,fib\n0.5,1.5,psw\n")
    _wav(tmp_path / "b.wav")
    (tmp_path / "b.csv").write_text("start_s,end_s,label\n0,1,wobble\n")
    with pytest.raises(DataDirError, match=r"a\.csv:3: .*overlaps.*1 more problem.*b\.csv:2: unknown label 'wobble'"):
        load_datadir(tmp_path)


def test_truncated_wav_and_low_rate_name_the_file(tmp_path):
    _wav(tmp_path / "a.wav")
    write_labels_csv(tmp_path / "a.csv", [])
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "a.wav").write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"a\.wav: truncated"):
        load_datadir(tmp_path)
    _wav(tmp_path / "a.wav", rate=8000)
    with pytest.raises(ValueError, match=r"a\.wav: sampled at 8000 Hz, below the minimum 16000 Hz"):
        load_datadir(tmp_path, min_rate=16000)


def test_labels_past_the_end_are_clipped_within_tolerance_else_refused(tmp_path):
    _wav(tmp_path / "a.wav", seconds=2.0)
    write_labels_csv(tmp_path / "a.csv", [Segment(1.0, 2.2, "fibrillation")])
    assert load_datadir(tmp_path)[0].segments == [Segment(1.0, 2.0, "fibrillation")]
    write_labels_csv(tmp_path / "a.csv", [Segment(1.0, 9.0, "fibrillation")])
    with pytest.raises(DataDirError, match="runs past the end of its recording"):
        load_datadir(tmp_path)


def test_empty_or_missing_directory(tmp_path):
    with pytest.raises(DataDirError, match="no recordings"):
        load_datadir(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_datadir(tmp_path / "nope")
