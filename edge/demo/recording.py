"""The shipped demo recording: a WAV, its ground-truth labels and a JSON description.

``edge/demo/data/demo.wav`` (16-bit mono), ``demo.labels.csv`` (``start_s,end_s,label``) and
``demo.json`` (sample rate, µV per LSB, generator, seed, sha256 of the WAV). They are made by
``python -m convert.demo_recording`` (simulated needle EMG, deterministic from a seed); the
demo itself only reads them, so the device install needs no training code.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clikit import UserError
from firmware_bridge.host.source import read_wav_int16

from edge.scorecard import Episode

DATA_DIR = Path(__file__).with_name("data")
DEMO_WAV = DATA_DIR / "demo.wav"


@dataclass
class DemoRecording:
    pcm: np.ndarray  # int16
    sample_rate: int  # Hz
    uv_per_lsb: float  # µV per LSB
    segments: list[Episode]  # every labelled span (normal and pathological)
    info: dict

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sample_rate


def read_label_csv(path: Path) -> list[Episode]:
    """``start_s,end_s,label`` rows → episodes (labels are taken as written)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip() for c in rows[0]] != ["start_s", "end_s", "label"]:
        raise UserError(f"{path}: first line must be the header start_s,end_s,label")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            out.append(Episode(float(row[0]), float(row[1]), row[2].strip()))
        except (IndexError, ValueError):
            raise UserError(f"{path}:{n}: expected start_s,end_s,label, got {','.join(row)!r}") from None
    return out


def load_demo_recording(wav: str | Path | None = None) -> DemoRecording:
    """Load the shipped recording (or ``wav`` with its same-stem ``.labels.csv``/``.json``)."""
    wav = Path(wav) if wav is not None else DEMO_WAV
    stem = wav.with_suffix("")
    labels, meta = stem.with_suffix(".labels.csv"), stem.with_suffix(".json")
    for p in (wav, labels, meta):
        if not p.is_file():
            raise UserError(f"demo recording file missing: {p} (make it with: python -m convert.demo_recording)")
    info = json.loads(meta.read_text())
    digest = hashlib.sha256(wav.read_bytes()).hexdigest()
    if info.get("sha256") and info["sha256"] != digest:
        raise UserError(f"{wav}: sha256 {digest[:12]}… does not match {meta.name} ({info['sha256'][:12]}…)")
    pcm, rate = read_wav_int16(wav)
    return DemoRecording(pcm, int(rate), float(info["uv_per_lsb"]), read_label_csv(labels), info)
