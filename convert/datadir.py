"""Data directories: any folder of recordings, each with a label file of the same stem.

The one convention for training, evaluation and fine-tuning on a clinic's own data::

    mydata/
      patient01_TA.wav          recording (WAV, WFDB .hea+.dat, EDF/BDF)
      patient01_TA.csv          labels: CSV  start_s,end_s,label
      patient02_FDI.wav
      patient02_FDI.txt         or an Audacity label track (File → Export → Labels)
      aliases.csv               optional: the clinic's own label names, header name,label

Sub-folders are searched too (sorted, so the order is reproducible). The label file is the
first of ``STEM.csv``, ``STEM.labels.csv``, ``STEM.txt``, ``STEM.labels.txt`` that exists (the
corpus builder writes both a CSV and an Audacity file; the CSV wins). An ``aliases.csv`` in the
folder (or any parent up to the data directory) extends the built-in alias table. Point labels
become ``rec.meta["events"]``.

Without such a file, annotations that travel with the recording are used
(:mod:`convert.annotations`): a WFDB record's ``STEM.atr``, an annotation-only EDF+
``STEM.annotations.edf`` beside it, or an EDF+ recording's own annotations.

One channel of each recording is read: ``channel`` (``--channel N`` of ``check-data``,
``train`` and ``evaluate``), default 0, the same index in every file; a file without it is
refused in one line naming the file and its channel count (never a silent fallback).
``rec.meta["channels"]`` is how many the file has.
"""

from __future__ import annotations

import os
import argparse
from pathlib import Path

from convert.labels import LabelError, read_aliases, read_labels
from convert.recording import Recording, Segment
from convert.recordings import RECORDING_EXTENSIONS, RecordingError, read_recording

LABEL_SUFFIXES = (".csv", ".labels.csv", ".txt", ".labels.txt")
#: Annotation files that label a recording when no label file above exists.
ANNOTATION_EDF = ".annotations.edf"  # an annotation-only EDF+ beside a recording: not a recording
ANNOTATION_SUFFIXES = (".atr", ANNOTATION_EDF)
ALIAS_FILE = "aliases.csv"
#: Labels may end this far (s) past the end of the recording (rounding in editors); clipped.
END_TOLERANCE_S = 0.5


class DataDirError(ValueError):
    """A data directory that cannot be used as given; the message names the file."""


def _channel_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a channel index (0, 1, ...)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: a channel index is >= 0")
    return value


def add_channel_option(parser: argparse.ArgumentParser) -> None:
    """``--channel N`` (default 0): the channel read from every multi-channel recording."""
    parser.add_argument("--channel", type=_channel_index, default=0, metavar="N",
                        help="channel of multi-channel WAV/EDF/WFDB recordings to read (default 0)")


def find_recordings(root: str | os.PathLike) -> list[Path]:
    """Recording files under ``root`` (sorted; WFDB records by their ``.hea``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data directory")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RECORDING_EXTENSIONS
                  and not p.name.lower().endswith(ANNOTATION_EDF))


def label_file_for(recording: Path) -> Path | None:
    """The label file paired with ``recording`` (same folder, same stem), or None: a label
    file first, then annotation files, then an EDF+ recording's own annotations."""
    for suffix in LABEL_SUFFIXES + ANNOTATION_SUFFIXES:
        candidate = recording.with_name(recording.stem + suffix)
        if candidate.is_file():
            return candidate
    if recording.suffix.lower() == ".edf":
        from convert.annotations import edf_annotation_count

        if edf_annotation_count(recording) > 0:
            return recording
    return None


def read_label_file(path: Path, extra_aliases: dict[str, str] | None = None):
    """Labels from a label file or an annotation file (chosen by suffix)."""
    from convert import annotations

    if path.suffix.lower() == ".atr":
        return annotations.read_wfdb_annotations(path, "atr", extra_aliases)
    if path.suffix.lower() == ".edf":
        return annotations.read_edf_annotations(path, extra_aliases)
    return read_labels(path, extra_aliases)


def _aliases_for(folder: Path, root: Path, cache: dict) -> dict[str, str]:
    if folder in cache:
        return cache[folder]
    parent = {} if folder == root or root not in folder.parents else _aliases_for(folder.parent, root, cache)
    table = dict(parent)
    if (folder / ALIAS_FILE).is_file():
        table.update(read_aliases(folder / ALIAS_FILE))
    cache[folder] = table
    return table


def _fit(segments: list[Segment], duration_s: float, label_path: Path) -> list[Segment]:
    out = []
    for s in segments:
        if s.start_s >= duration_s or s.end_s > duration_s + END_TOLERANCE_S:
            raise DataDirError(
                f"{label_path}: segment {s.label} {s.start_s}-{s.end_s} s runs past the end of its "
                f"recording ({duration_s:.3f} s); wrong label file for this recording?"
            )
        out.append(s if s.end_s <= duration_s else Segment(s.start_s, duration_s, s.label))
    return out


def load_recording_with_labels(path: str | os.PathLike, target_rate: int | None = None,
                               min_rate: int | None = None, uv_per_lsb: float | None = None,
                               extra_aliases: dict[str, str] | None = None,
                               require_labels: bool = True, channel: int = 0) -> Recording:
    """Read one recording (its channel ``channel``) and its label file into a labelled :class:`Recording`."""
    path = Path(path)
    rec = read_recording(path, target_rate=target_rate, min_rate=min_rate, uv_per_lsb=uv_per_lsb, channel=channel)
    label_path = label_file_for(path)
    if label_path is None:
        if require_labels:
            raise DataDirError(
                f"{path}: no label file; expected {path.stem}.csv (start_s,end_s,label) or "
                f"{path.stem}.txt (Audacity labels) beside it, or annotations ({path.stem}.atr, "
                f"{path.stem}.annotations.edf, or an EDF+ recording's own)"
            )
        rec.meta["labelled"] = False
        return rec
    labels = read_label_file(label_path, extra_aliases)
    rec.segments = _fit(labels.segments, rec.duration_s, label_path)
    late = [t for t, _ in labels.events if t > rec.duration_s + END_TOLERANCE_S]
    if late:
        raise DataDirError(f"{label_path}: point label at {late[0]} s is past the end of the recording "
                           f"({rec.duration_s:.3f} s)")
    rec.meta["events"] = [(t, label) for t, label in labels.events if t <= rec.duration_s]
    rec.meta["label_file"] = str(label_path)
    rec.meta["labelled"] = True
    return rec


def load_datadir(root: str | os.PathLike, target_rate: int | None = None, min_rate: int | None = None,
                 uv_per_lsb: float | None = None, extra_aliases: dict[str, str] | None = None,
                 require_labels: bool = True, channel: int = 0) -> list[Recording]:
    """Every recording under ``root`` with its segments (and point-label events).

    ``target_rate`` (Hz): resample everything to it. ``min_rate`` (Hz): refuse recordings sampled
    below it. ``uv_per_lsb`` (µV): scale for WAV files that do not record one. Without
    ``require_labels`` a recording lacking a label file is loaded with no segments and
    ``meta["labelled"] = False`` (for running a model over it, never for training).
    ``channel``: the channel read from each recording (see the module docstring).
    Errors (:class:`DataDirError`, ``LabelError``, ``RecordingError``; all ``ValueError``) name
    the file; every problem in the folder is collected into one message.
    """
    root = Path(root)
    paths = find_recordings(root)
    if not paths:
        raise DataDirError(f"{root}: no recordings ({', '.join(RECORDING_EXTENSIONS)}) found")
    alias_cache: dict = {}
    recs, problems = [], []
    for path in paths:
        try:
            aliases = dict(_aliases_for(path.parent, root, alias_cache))
            aliases.update(extra_aliases or {})
            rec = load_recording_with_labels(path, target_rate, min_rate, uv_per_lsb, aliases, require_labels,
                                             channel)
            rec.name = str(path.relative_to(root).with_suffix(""))
            recs.append(rec)
        except (DataDirError, LabelError, RecordingError) as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 1} more problem(s): {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise DataDirError(f"{problems[0]}{more}")
    return recs
