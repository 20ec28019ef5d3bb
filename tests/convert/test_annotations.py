"""EDF+ and WFDB annotations as label files; alerts out as Audacity, CSV and EDF+ labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convert.annotations import read_alerts, read_edf_annotations, read_wfdb_annotations, write_labels
from convert.cli import main as convert_main
from convert.datadir import label_file_for, load_recording_with_labels
from convert.labels import LabelError, read_labels

pyedflib = pytest.importorskip("pyedflib")
wfdb = pytest.importorskip("wfdb")

ALERTS = [
    {"id": 1, "label": "fibrillation", "onset_s": 1.25, "offset_s": 2.5},
    {"id": 2, "label": "fasciculation", "onset_s": 4.0, "offset_s": 4.0},
    {"id": 3, "label": "positive_sharp_wave", "onset_s": 6.0, "offset_s": 7.75},
]


def _edf_with_annotations(path, annotations, seconds=10):
    w = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeader(0, {"label": "EMG", "dimension": "uV", "sample_frequency": 4000, "physical_min": -2000,
                          "physical_max": 2000, "digital_min": -32768, "digital_max": 32767})
    w.writeSamples([np.zeros(4000 * seconds)])
    for onset, duration, text in annotations:
        w.writeAnnotation(onset, duration, text)
    w.close()


def test_edf_plus_annotations_label_the_recording(tmp_path):
    _edf_with_annotations(tmp_path / "r.edf", [(1.0, 2.0, "fibs"), (5.0, -1, "FASC")])
    assert label_file_for(tmp_path / "r.edf") == tmp_path / "r.edf"
    rec = load_recording_with_labels(tmp_path / "r.edf")
    assert [(s.start_s, s.end_s, s.label) for s in rec.segments] == [(1.0, 3.0, "fibrillation")]
    assert rec.meta["events"] == [(5.0, "fasciculation")]


def test_edf_annotation_with_an_unknown_name_is_a_located_error(tmp_path):
    _edf_with_annotations(tmp_path / "r.edf", [(1.0, 2.0, "artefact??")])
    with pytest.raises(LabelError, match=r"r.edf: annotation 1"):
        read_edf_annotations(tmp_path / "r.edf")


def test_wfdb_atr_spans_and_points(tmp_path):
    x = np.zeros((40000, 1))
    wfdb.wrsamp("rec", fs=4000, units=["uV"], sig_name=["EMG"], p_signal=x, fmt=["16"], write_dir=str(tmp_path))
    wfdb.wrann("rec", "atr", np.array([4000, 12000, 20000]), symbol=["+", "+", '"'],
               aux_note=["(CRD", ")", "fasciculation"], fs=4000, write_dir=str(tmp_path))
    labels = read_wfdb_annotations(tmp_path / "rec.hea")
    assert [(s.start_s, s.end_s, s.label) for s in labels.segments] == [(1.0, 3.0, "complex_repetitive_discharge")]
    assert labels.events == [(5.0, "fasciculation")]
    assert label_file_for(tmp_path / "rec.hea") == tmp_path / "rec.atr"
    rec = load_recording_with_labels(tmp_path / "rec.hea")
    assert rec.segments[0].label == "complex_repetitive_discharge"


def test_wfdb_unclosed_span_is_refused(tmp_path):
    wfdb.wrsamp("rec", fs=4000, units=["uV"], sig_name=["EMG"], p_signal=np.zeros((8000, 1)), fmt=["16"],
                write_dir=str(tmp_path))
    wfdb.wrann("rec", "atr", np.array([100]), symbol=["+"], aux_note=["(fibs"], fs=4000, write_dir=str(tmp_path))
    with pytest.raises(LabelError, match="never closed"):
        read_wfdb_annotations(tmp_path / "rec")


@pytest.mark.parametrize("suffix,reader", [(".csv", read_labels), (".txt", read_labels),
                                           (".edf", read_edf_annotations)])
def test_alerts_round_trip_through_every_label_format(tmp_path, suffix, reader):
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(a) + "\n" for a in ALERTS))
    out = tmp_path / f"labels{suffix}"
    assert convert_main(["alerts-to-labels", str(tmp_path / "a.jsonl"), "--out", str(out)]) == 0
    got = reader(out)
    assert [(s.start_s, s.end_s, s.label) for s in got.segments] == [
        (1.25, 2.5, "fibrillation"), (6.0, 7.75, "positive_sharp_wave")]
    assert got.events == [(4.0, "fasciculation")]


def test_alerts_to_labels_user_errors(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_text('{"label": "x"}\n')
    assert convert_main(["alerts-to-labels", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "a.jsonl:1: not an alert record" in capsys.readouterr().err
    (tmp_path / "b.jsonl").write_text(json.dumps(ALERTS[0]) + "\n")
    assert convert_main(["alerts-to-labels", str(tmp_path / "b.jsonl"), "--out", str(tmp_path / "o.xyz")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert read_alerts(tmp_path / "b.jsonl") == [{"start_s": 1.25, "end_s": 2.5, "label": "fibrillation"}]
    write_labels([], tmp_path / "empty.csv", "csv")
    assert (tmp_path / "empty.csv").read_text() == "start_s,end_s,label\n"


def test_alerts_to_labels_skips_qemg_summaries_in_the_same_stream(tmp_path):
    # emg-edge run writes its QEMG stretch summaries to the same JSON lines, with a "type".
    summary = {"type": "qemg_summary", "stretch_id": 0, "start_s": 0.0, "end_s": 30.0, "n_units": 4}
    (tmp_path / "a.jsonl").write_text(json.dumps(ALERTS[0]) + "\n" + json.dumps(summary) + "\n")
    assert read_alerts(tmp_path / "a.jsonl") == [{"start_s": 1.25, "end_s": 2.5, "label": "fibrillation"}]
