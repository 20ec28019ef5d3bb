"""convert.labels: CSV and Audacity round trips, aliases, and clear errors with line numbers."""

import pytest
from hypothesis import given, settings, strategies as st

from convert.labels import (LabelError, Labels, parse_audacity_labels, parse_csv_labels, read_aliases,
                            read_labels, write_audacity_labels, write_labels_csv)
from convert.recording import Segment
from convert.taxonomy import LABELS, canonical_label


def _segments_strategy():
    # Non-overlapping spans on a millisecond grid (written with 6 decimals: exact round trip).
    return st.lists(st.tuples(st.integers(1, 3000), st.integers(0, 2000), st.sampled_from(LABELS)),
                    max_size=12).map(_layout)


def _layout(items):
    t, segs = 0, []
    for length, gap, label in items:
        t += gap
        segs.append(Segment(t / 1000, (t + length) / 1000, label))
        t += length
    return segs


@settings(max_examples=30, deadline=None)
@given(segs=_segments_strategy(),
       events=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(LABELS)), max_size=5))
def test_csv_and_audacity_round_trip(tmp_path_factory, segs, events):
    events = sorted((t / 1000, label) for t, label in events)
    d = tmp_path_factory.mktemp("labels")
    write_labels_csv(d / "a.csv", segs, events)
    write_audacity_labels(d / "a.txt", segs, events)
    for path in (d / "a.csv", d / "a.txt"):
        got = read_labels(path)
        assert got.segments == segs
        assert got.events == events


def test_audacity_export_with_frequency_lines_point_labels_and_aliases(tmp_path):
    text = ("0.500000\t2.250000\tfibs\n"
            "\\\t120.000000\t9000.000000\n"
            "3.000000\t3.000000\tFasc\n"
            "4,5\t6,0\tPSW\n"  # decimal-comma locale
            "7.0\t9.0\tEnd-plate noise\n")
    p = tmp_path / "x.txt"
    p.write_text(text)
    got = read_labels(p)
    assert got.segments == [Segment(0.5, 2.25, "fibrillation"), Segment(4.5, 6.0, "positive_sharp_wave"),
                            Segment(7.0, 9.0, "endplate_noise")]
    assert got.events == [(3.0, "fasciculation")]


def test_csv_with_comments_quotes_and_extra_columns():
    text = "# exported by clinic X\nstart_s,end_s,label,note\n0,1.5,CRD,\"long, regular\"\n\n2,3,rest,\n"
    got = parse_csv_labels(text)
    assert got.segments == [Segment(0, 1.5, "complex_repetitive_discharge"), Segment(2, 3, "rest")]


def test_unknown_label_names_file_line_and_choices():
    with pytest.raises(LabelError, match=r"f\.csv:3: unknown label 'wobble'.*fibrillation"):
        parse_csv_labels("start_s,end_s,label\n0,1,fib\n1,2,wobble\n", "f.csv")


def test_overlapping_segments_are_rejected_naming_both_lines():
    with pytest.raises(LabelError, match=r"t\.txt:2: .*overlaps .*\(t\.txt:1\)"):
        parse_audacity_labels("0\t2\tfib\n1.5\t3\tpsw\n", "t.txt")
    # Touching spans are fine.
    assert len(parse_audacity_labels("0\t2\tfib\n2\t3\tpsw\n").segments) == 2


@pytest.mark.parametrize("row,msg", [
    ("-1,2,fib", r"f\.csv:2: start is negative"),
    ("3,2,fib", r"f\.csv:2: end 2.0 s is before start 3.0 s"),
    ("a,2,fib", r"f\.csv:2: start 'a' is not a number"),
    ("1,nan,fib", r"f\.csv:2: end 'nan' is not a finite"),
    ("1,2", r"f\.csv:2: expected 3 fields"),
    ("1,2,  ", r"f\.csv:2: empty label"),
])
def test_bad_csv_rows(row, msg):
    with pytest.raises(LabelError, match=msg):
        parse_csv_labels(f"start_s,end_s,label\n{row}\n", "f.csv")


def test_bad_header_and_malformed_audacity_line():
    with pytest.raises(LabelError, match=r"f\.csv:1: header is 'begin,end,label'"):
        parse_csv_labels("begin,end,label\n0,1,fib\n", "f.csv")
    with pytest.raises(LabelError, match=r"a\.txt:2: expected tab-separated"):
        parse_audacity_labels("0\t1\tfib\n1 2 psw\n", "a.txt")


def test_label_errors_are_value_errors_for_the_cli(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("0\t1\tnonsense\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_labels(p)


def test_clinic_alias_table(tmp_path):
    p = tmp_path / "aliases.csv"
    p.write_text("name,label\nSpont fib,fibrillation\nzuck,fasc\n")
    aliases = read_aliases(p)
    assert aliases == {"Spont fib": "fibrillation", "zuck": "fasciculation"}
    got = parse_csv_labels("start_s,end_s,label\n0,1,spont_FIB\n1,1,Zuck\n", extra_aliases=aliases)
    assert got == Labels([Segment(0, 1, "fibrillation")], [(1.0, "fasciculation")])
    p.write_text("name,label\nfoo,notaclass\n")
    with pytest.raises(LabelError, match=r"aliases\.csv:2: unknown label 'notaclass'"):
        read_aliases(p)


def test_canonical_label_ignores_case_separators_and_spacing():
    assert canonical_label("Positive_Sharp-Wave ") == "positive_sharp_wave"
    assert canonical_label("EPS") == "endplate_spike"
    assert canonical_label("x", {"X": "psw"}) == "positive_sharp_wave"
    for label in LABELS:
        assert canonical_label(label) == label


def test_csv_field_over_the_csv_module_limit_is_a_label_error():
    """csv refuses fields over 131 072 characters with _csv.Error: that must be a located LabelError."""
    text = 'start_s,end_s,label\n0,1,"' + "x" * 140_000 + '"\n'
    with pytest.raises(LabelError, match=r"<csv>:2: not a CSV line"):
        parse_csv_labels(text)


def test_alias_table_with_a_huge_field_is_a_label_error(tmp_path):
    (tmp_path / "a.csv").write_text('name,label\n"' + "y" * 140_000 + '",fibrillation\n')
    with pytest.raises(LabelError, match=r"a.csv:2: not a CSV line"):
        read_aliases(tmp_path / "a.csv")
