"""Label files: CSV (``start_s,end_s,label``) and Audacity label tracks, with clinic aliases.

Clinicians label needle-EMG audio in Audacity (File → Export → Labels gives a tab-separated
text file); scripts and the simulator write CSV. Both read into the same :class:`Labels`:

* a span label (start < end) becomes a :class:`~convert.recording.Segment`;
* a point label (start == end, Audacity's point labels or a CSV row with equal times) becomes
  an event ``(t_s, label)``: one potential, e.g. a single fasciculation the clinician marked.

Times are seconds from the start of the recording. Label names go through
:func:`convert.taxonomy.canonical_label`, so clinics may write ``fibs``, ``PSW``, ``CRD``... or
their own names via ``extra_aliases`` (see :func:`read_aliases`). Every problem is reported as
:class:`LabelError` naming the file and line: unknown labels, malformed lines, negative or
reversed times, and overlapping segments (time not covered by any segment is ``rest``, so an
overlap would make a sample's class ambiguous).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from convert.recording import Segment
from convert.taxonomy import canonical_label

CSV_HEADER = ("start_s", "end_s", "label")


class LabelError(ValueError):
    """A label file that cannot be used; the message names the file and line."""


@dataclass
class Labels:
    """What a label file says: non-overlapping segments (sorted) and point events (sorted)."""

    segments: list[Segment] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)


def _parse_time(text: str, where: str, what: str) -> float:
    s = text.strip()
    if "," in s and "." not in s:  # Audacity under a decimal-comma locale
        s = s.replace(",", ".")
    try:
        value = float(s)
    except ValueError:
        raise LabelError(f"{where}: {what} {text.strip()!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise LabelError(f"{where}: {what} {text.strip()!r} is not a finite number of seconds")
    if value < 0:
        raise LabelError(f"{where}: {what} is negative ({value} s); times count from 0 s")
    return value


def _canonical(name: str, where: str, extra_aliases: dict[str, str] | None) -> str:
    if not name.strip():
        raise LabelError(f"{where}: empty label")
    try:
        return canonical_label(name, extra_aliases)
    except ValueError as exc:
        raise LabelError(f"{where}: {exc}") from None


def _finish(rows: list[tuple[float, float, str, str]]) -> Labels:
    """Turn (start, end, label, where) rows into Labels; reject reversed and overlapping spans."""
    segments: list[tuple[Segment, str]] = []
    events: list[tuple[float, str]] = []
    for start, end, label, where in rows:
        if end < start:
            raise LabelError(f"{where}: end {end} s is before start {start} s")
        if end == start:
            events.append((start, label))
        else:
            segments.append((Segment(start, end, label), where))
    segments.sort(key=lambda sw: (sw[0].start_s, sw[0].end_s))
    for (a, wa), (b, wb) in zip(segments, segments[1:]):
        if b.start_s < a.end_s:
            raise LabelError(
                f"{wb}: segment {b.label} {b.start_s}-{b.end_s} s overlaps {a.label} "
                f"{a.start_s}-{a.end_s} s ({wa}); segments must not overlap"
            )
    events.sort()
    return Labels([s for s, _ in segments], events)


def _csv_fields(line: str, where: str) -> list[str]:
    """One CSV line's fields; the csv module's own errors (e.g. a field over its 131 072-character
    limit) become a LabelError that says where."""
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:
        raise LabelError(f"{where}: not a CSV line ({exc})") from None


def parse_csv_labels(text: str, source: str = "<csv>", extra_aliases: dict[str, str] | None = None) -> Labels:
    """Parse CSV text with header ``start_s,end_s,label`` (extra columns ignored, ``#`` comments)."""
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise LabelError(f"{source}: no header; expected {','.join(CSV_HEADER)}")
    hline, header = lines[0]
    cols = [c.strip().lower() for c in _csv_fields(header, f"{source}:{hline}")]
    if cols[:3] != list(CSV_HEADER):
        raise LabelError(f"{source}:{hline}: header is {header.strip()!r}; expected {','.join(CSV_HEADER)}")
    rows = []
    for lineno, line in lines[1:]:
        where = f"{source}:{lineno}"
        fields = _csv_fields(line, where)
        if len(fields) < 3:
            raise LabelError(f"{where}: expected 3 fields start_s,end_s,label, got {len(fields)}: {line.strip()!r}")
        start = _parse_time(fields[0], where, "start")
        end = _parse_time(fields[1], where, "end")
        rows.append((start, end, _canonical(fields[2], where, extra_aliases), where))
    return _finish(rows)


def parse_audacity_labels(text: str, source: str = "<audacity>",
                          extra_aliases: dict[str, str] | None = None) -> Labels:
    """Parse an Audacity label track export: ``start<TAB>end<TAB>label`` per line.

    Lines starting with ``\\`` carry the spectral selection (low/high frequency) of the label
    above them and are skipped; point labels (start == end) become events.
    """
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        if line.startswith("\\"):
            continue  # frequency line of the previous label
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 3:
            raise LabelError(
                f"{where}: expected tab-separated start, end, label (an Audacity label track), "
                f"got {line.strip()!r}"
            )
        start = _parse_time(fields[0], where, "start")
        end = _parse_time(fields[1], where, "end")
        rows.append((start, end, _canonical("\t".join(fields[2:]), where, extra_aliases), where))
    return _finish(rows)


def read_labels(path: str | os.PathLike, extra_aliases: dict[str, str] | None = None) -> Labels:
    """Read a label file, CSV or Audacity, chosen by content.

    A file whose first non-comment line starts with ``start_s`` is CSV; anything else is an
    Audacity label track. Raises :class:`LabelError` (a ``ValueError``) or ``FileNotFoundError``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LabelError(f"{path}: not a UTF-8 text label file") from None
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first.strip().lower().startswith("start_s"):
        return parse_csv_labels(text, str(path), extra_aliases)
    return parse_audacity_labels(text, str(path), extra_aliases)


def read_aliases(path: str | os.PathLike) -> dict[str, str]:
    """Read a clinic's alias table: CSV with header ``name,label`` (label in the taxonomy)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    out: dict[str, str] = {}
    header_seen = False
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = _csv_fields(line, f"{path}:{lineno}") if line.strip() else []
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if not header_seen:
            if [f.strip().lower() for f in fields[:2]] != ["name", "label"]:
                raise LabelError(f"{path}:{lineno}: header must be name,label, got {','.join(fields)!r}")
            header_seen = True
            continue
        if len(fields) < 2 or not fields[0].strip():
            raise LabelError(f"{path}:{lineno}: expected name,label")
        out[fields[0].strip()] = _canonical(fields[1], f"{path}:{lineno}", None)
    return out


def _fmt(t: float) -> str:
    return f"{t:.6f}"


def write_labels_csv(path: str | os.PathLike, segments, events=()) -> None:
    """Write ``start_s,end_s,label`` CSV: segments, then events as rows with start == end."""
    lines = [",".join(CSV_HEADER)]
    lines += [f"{_fmt(s.start_s)},{_fmt(s.end_s)},{s.label}" for s in segments]
    lines += [f"{_fmt(t)},{_fmt(t)},{label}" for t, label in events]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_audacity_labels(path: str | os.PathLike, segments, events=()) -> None:
    """Write an Audacity label track (import in Audacity with File → Import → Labels)."""
    lines = [f"{_fmt(s.start_s)}\t{_fmt(s.end_s)}\t{s.label}" for s in segments]
    lines += [f"{_fmt(t)}\t{_fmt(t)}\t{label}" for t, label in events]
    Path(path).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
