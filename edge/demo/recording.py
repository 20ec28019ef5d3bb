"""The demo recording: a WAV, its ground-truth labels and a JSON description.

``demo.wav`` (16-bit mono, 17 MB), ``demo.labels.csv`` (``start_s,end_s,label``) and
``demo.json`` (sample rate, µV per LSB, generator, seed, sha256 of the WAV), all made by
``python -m convert.demo_recording`` (simulated needle EMG, deterministic from a seed).

A git checkout has all three in ``edge/demo/data``. The wheel ships only the labels and the
JSON: the WAV would be 90 % of it and does not compress (simulated noise: deflate 8.3 MB,
bz2 5.6 MB). On first use :func:`demo_wav` makes it once, in a child process running the
generator (numpy and scipy only, no TensorFlow, both in the device install), into the user's
cache (``$EMG_EDGE_CACHE``, else ``$XDG_CACHE_HOME/emg-edge-kit``, else
``~/.cache/emg-edge-kit``), and checks its sha256 against the shipped ``demo.json``. A child
process, not an import, because ``edge`` never imports ``convert`` (tests/test_layering.py).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from clikit import UserError
from firmware_bridge.host.source import read_wav_int16

from edge.scorecard import Episode

DATA_DIR = Path(__file__).with_name("data")
#: The recording in a git checkout (absent from an installed wheel: see :func:`demo_wav`).
DEMO_WAV = DATA_DIR / "demo.wav"
#: The generator, run as ``python -m`` in a child process (edge does not import convert).
GENERATOR = "convert.demo_recording"
#: A generous guard on the generator (about 10 s on a 2-core x86_64, a few times that on a Pi 4).
GENERATE_TIMEOUT_S = 600.0


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


def cache_dir() -> Path:
    """Where a generated demo recording is kept (see the module docstring)."""
    if os.environ.get("EMG_EDGE_CACHE"):
        return Path(os.environ["EMG_EDGE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emg-edge-kit"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def demo_wav(echo: Callable[[str], None] = print) -> Path:
    """Path of the demo WAV: the checkout's, else the cached one, else made now (once, ~10 s).

    The cache folder is named after the shipped ``demo.json``'s sha256, so a kit whose
    recording changed makes its own. A generated WAV whose sha256 differs from the shipped one
    (another numpy or scipy may round differently) is used, with its own ``demo.json``, after
    a note: the scores may then differ slightly from the README's.
    """
    if DEMO_WAV.is_file():
        return DEMO_WAV
    meta = DATA_DIR / "demo.json"
    if not meta.is_file():
        raise UserError(f"demo recording description missing: {meta} (a damaged install?)")
    want = json.loads(meta.read_text()).get("sha256", "")
    target = cache_dir() / f"demo-{want[:12] or 'unversioned'}"
    if (target / "demo.wav").is_file():
        return target / "demo.wav"
    echo(f"demo: making the demo recording once (python -m {GENERATOR}, about 10 s) in {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
    try:
        proc = subprocess.run([sys.executable, "-m", GENERATOR, "--out", str(work)], capture_output=True,
                              text=True, timeout=GENERATE_TIMEOUT_S)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise UserError(f"could not make the demo recording (python -m {GENERATOR}): {last}")
        got = _sha256(work / "demo.wav")
        if want and got != want:
            echo(f"demo: note: this machine's recording (sha256 {got[:12]}…) differs from the reference "
                 f"({want[:12]}…), probably another numpy/scipy; scores may differ slightly")
        try:
            work.rename(target)  # atomic: a concurrent first use either wins or finds it made
        except OSError:
            if not (target / "demo.wav").is_file():
                raise
    except subprocess.TimeoutExpired:
        raise UserError(f"python -m {GENERATOR} took more than {GENERATE_TIMEOUT_S:.0f} s") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / "demo.wav"


def load_demo_recording(wav: str | Path | None = None, echo: Callable[[str], None] = print) -> DemoRecording:
    """Load the demo recording (made on first use, :func:`demo_wav`), or ``wav`` with its
    same-stem ``.labels.csv``/``.json``."""
    wav = Path(wav) if wav is not None else demo_wav(echo)
    stem = wav.with_suffix("")
    labels, meta = stem.with_suffix(".labels.csv"), stem.with_suffix(".json")
    for p in (wav, labels, meta):
        if not p.is_file():
            raise UserError(f"demo recording file missing: {p} (make it with: python -m convert.demo_recording)")
    info = json.loads(meta.read_text())
    digest = _sha256(wav)
    if info.get("sha256") and info["sha256"] != digest:
        raise UserError(f"{wav}: sha256 {digest[:12]}… does not match {meta.name} ({info['sha256'][:12]}…)")
    pcm, rate = read_wav_int16(wav)
    return DemoRecording(pcm, int(rate), float(info["uv_per_lsb"]), read_label_csv(labels), info)
