"""Annotations in and out: EDF+ and WFDB annotations as label files; alerts as label files.

In (read into :class:`convert.labels.Labels`, names through the taxonomy and the clinic's
alias table like every label file):

* **EDF+ annotations** (``pyedflib``): an annotation with a positive duration is a segment
  ``[onset, onset + duration)``; one without (duration 0 or unspecified) is a point event.
  Read from a recording's own EDF+ file or from an annotation-only EDF+ beside it.
* **WFDB annotations** (``wfdb``; ``<record>.atr`` by default): times are ``sample / fs``. A
  span follows the WFDB rhythm convention: an annotation whose ``aux_note`` is ``(label``
  opens it and the next ``)`` closes it; any other annotation is a point event named by its
  ``aux_note`` (or, without one, its symbol).

Out (``emg-convert alerts-to-labels``): the runtime's alert JSON lines become a label track a
reviewer opens beside the signal — Audacity labels (``.txt``), CSV (``start_s,end_s,label``,
what :func:`convert.labels.read_labels` reads back), EDF+ annotations (``.edf``, no signals;
EDFbrowser opens it over the recording). Each alert's span is
``onset_s``..``offset_s`` (s of stream time, sample indices / source rate).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from clikit import UserError
from convert.labels import LabelError, Labels, _canonical, _finish

FORMATS = ("audacity", "csv", "edf")


# -- in ----------------------------------------------------------------------------------

def _edf_annotations(path: Path) -> tuple:
    """(onsets s, durations s, texts) of an EDF+ file; OSError when pyedflib cannot read it."""
    import pyedflib

    f = pyedflib.EdfReader(str(path))
    try:
        return f.readAnnotations()
    finally:
        f.close()


def edf_annotation_count(path: str | os.PathLike) -> int:
    """How many EDF+ annotations ``path`` holds (0 for plain EDF or an unreadable file)."""
    try:
        return len(_edf_annotations(Path(path))[0])
    except OSError:
        return 0


def read_edf_annotations(path: str | os.PathLike, extra_aliases: dict[str, str] | None = None) -> Labels:
    """EDF+ annotations of ``path`` as Labels (spans and point events, s)."""
    path = Path(path)
    try:
        onsets, durations, texts = _edf_annotations(path)
    except OSError as exc:
        raise LabelError(f"{path}: cannot read EDF+ annotations ({exc})") from None
    rows = []
    for i, (t, d, text) in enumerate(zip(onsets, durations, texts), 1):
        where = f"{path}: annotation {i}"
        t, d = float(t), float(d)
        if not math.isfinite(t) or t < 0:
            raise LabelError(f"{where}: onset {t} s is not a time from the start of the recording")
        end = t + d if math.isfinite(d) and d > 0 else t
        rows.append((t, end, _canonical(str(text), where, extra_aliases), where))
    if not rows:
        raise LabelError(f"{path}: the EDF+ file holds no annotations")
    return _finish(rows)


def read_wfdb_annotations(record: str | os.PathLike, extension: str = "atr",
                          extra_aliases: dict[str, str] | None = None) -> Labels:
    """WFDB annotations ``<record>.<extension>`` as Labels (see module docstring)."""
    import wfdb

    record = Path(record)
    stem = record.with_suffix("") if record.suffix in (".hea", f".{extension}") else record
    source = f"{stem}.{extension}"
    try:
        ann = wfdb.rdann(str(stem), extension)
        fs = float(ann.fs) if ann.fs else float(wfdb.rdheader(str(stem)).fs)
    except (OSError, ValueError) as exc:
        raise LabelError(f"{source}: cannot read WFDB annotations ({exc})") from None
    if not fs > 0:
        raise LabelError(f"{source}: no sampling frequency in the annotation file or header")
    notes = ann.aux_note or [""] * len(ann.sample)
    rows, open_at, open_label = [], None, None
    for i, (s, sym, note) in enumerate(zip(ann.sample, ann.symbol, notes), 1):
        where, t, note = f"{source}: annotation {i}", float(s) / fs, (note or "").strip("\x00 ")
        if note.startswith("(") and len(note) > 1:
            if open_at is not None:
                rows.append((open_at, t, open_label, where))
            open_at, open_label = t, _canonical(note[1:], where, extra_aliases)
        elif note == ")" or sym == ")":
            if open_at is None:
                raise LabelError(f"{where}: ')' closes no open span")
            rows.append((open_at, t, open_label, where))
            open_at = None
        else:
            rows.append((t, t, _canonical(note or sym, where, extra_aliases), where))
    if open_at is not None:
        raise LabelError(f"{source}: span {open_label} opened at {open_at:.3f} s is never closed")
    return _finish(rows)


# -- out ---------------------------------------------------------------------------------

def read_alerts(path: str | os.PathLike) -> list[dict]:
    """Alert JSON lines (the runtime's ``--alerts-jsonl``); blank lines and other records of the
    same stream (those with a ``type``, e.g. ``qemg_summary``; alerts carry none) skipped."""
    path = Path(path)
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            a = json.loads(line)
            if isinstance(a, dict) and a.get("type", "alert") != "alert":
                continue
            onset, offset, label = float(a["onset_s"]), float(a["offset_s"]), str(a["label"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}:{lineno}: not an alert record ({exc})") from None
        if not (math.isfinite(onset) and math.isfinite(offset) and 0 <= onset <= offset):
            raise UserError(f"{path}:{lineno}: onset_s {onset} / offset_s {offset} are not a span in seconds")
        out.append({"start_s": onset, "end_s": offset, "label": label})
    return out


def write_labels(alerts: list[dict], out: Path, fmt: str) -> None:
    """Write alert spans as a label track in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "csv":
        lines = ["start_s,end_s,label"] + [f"{a['start_s']:.6f},{a['end_s']:.6f},{a['label']}" for a in alerts]
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "audacity":
        out.write_text("".join(f"{a['start_s']:.6f}\t{a['end_s']:.6f}\t{a['label']}\n" for a in alerts),
                       encoding="utf-8")
    elif fmt == "edf":
        import pyedflib

        w = pyedflib.EdfWriter(str(out), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            for a in alerts:
                w.writeAnnotation(a["start_s"], a["end_s"] - a["start_s"] if a["end_s"] > a["start_s"] else -1,
                                  a["label"])
        finally:
            w.close()
    else:
        raise UserError(f"format {fmt!r}: allowed {', '.join(FORMATS)}")


def _format_for(out: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    return {".csv": "csv", ".txt": "audacity", ".edf": "edf"}.get(out.suffix.lower(), "")


def _run(args) -> int:
    out = Path(args.out)
    fmt = _format_for(out, args.format)
    if fmt not in FORMATS:
        raise UserError(f"cannot tell the format of {out}: give --format (audacity, csv or edf) "
                        "or end the name in .txt, .csv or .edf")
    alerts = read_alerts(args.alerts)
    write_labels(alerts, out, fmt)
    print(f"{len(alerts)} alerts → {out} ({fmt})")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("alerts-to-labels", help="turn alert JSON lines into Audacity, CSV or EDF+ labels",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("alerts", help="alert JSON lines (emg-edge run --alerts-jsonl)")
    p.add_argument("--out", required=True, help="label file: .txt (Audacity), .csv or .edf (EDF+ annotations)")
    p.add_argument("--format", choices=FORMATS, default=None, help="override the format the suffix implies")
    p.set_defaults(func=_run)
