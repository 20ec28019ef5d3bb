"""A held-out corpus as a data directory in the kit's format.

Per clip ``LABEL_NNN.wav`` (int16, µV per LSB in the WAV comment, written with the kit's
:func:`convert.recordings.write_wav`) and ``LABEL_NNN.csv`` (``start_s,end_s,label``; one row per
segment, one row with ``start == end`` per event), plus ``holdoutsim.json`` describing what was
drawn. One class per clip; every label of :data:`convert.taxonomy.LABELS`; ``clips_per_class``
clips each, ``voluntary_muap`` ``voluntary_multiplier`` times as many (over pools and efforts).
Clip ``i`` of label ``k`` is drawn from ``np.random.SeedSequence([seed, k, i])``, so a corpus is
fixed by (generator version, config).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from convert.holdoutsim.acquisition import ChainConfig, record
from convert.holdoutsim.classes import DRAWERS, Clip
from convert.recordings import write_wav
from convert.taxonomy import LABEL_INDEX, LABELS


@dataclass(frozen=True)
class CorpusConfig:
    """clips_per_class: 1–1000 (default 10). voluntary_multiplier: 1–10 (default 3).
    duration_s: clip length, 2–60 s (default 8). sample_rate: 4 000–192 000 Hz (default 44 100).
    seed: >= 0. chain: the recording chain's ranges."""

    clips_per_class: int = 10
    voluntary_multiplier: int = 3
    duration_s: float = 8.0
    sample_rate: int = 44100
    seed: int = 1
    chain: ChainConfig = field(default_factory=ChainConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.clips_per_class <= 1000:
            raise ValueError(f"clips_per_class = {self.clips_per_class}: allowed range is 1..1000")
        if not 1 <= self.voluntary_multiplier <= 10:
            raise ValueError(f"voluntary_multiplier = {self.voluntary_multiplier}: allowed range is 1..10")
        if not 2.0 <= self.duration_s <= 60.0:
            raise ValueError(f"duration_s = {self.duration_s}: allowed range is 2..60 s")
        if not 4000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample_rate = {self.sample_rate}: allowed range is 4000..192000 Hz")
        if self.seed < 0:
            raise ValueError(f"seed = {self.seed}: must be >= 0")


def clip_counts(cfg: CorpusConfig) -> dict[str, int]:
    """Clips per label."""
    return {label: cfg.clips_per_class * (cfg.voluntary_multiplier if label == "voluntary_muap" else 1)
            for label in LABELS}


def draw_clip(label: str, index: int, cfg: CorpusConfig) -> tuple[Clip, np.ndarray, dict]:
    """Clip ``index`` of ``label``: ``(clean clip, int16 pcm, chain drawn)``."""
    if label not in LABEL_INDEX:
        raise ValueError(f"label = {label!r}: use one of {', '.join(LABELS)}")
    ss = np.random.SeedSequence([cfg.seed, LABEL_INDEX[label], index])
    r_class, r_chain = (np.random.default_rng(s) for s in ss.spawn(2))
    clip = DRAWERS[label](r_class, cfg.sample_rate, cfg.duration_s, index)
    pcm, info = record(r_chain, clip.signal_uv, cfg.sample_rate, cfg.chain)
    return clip, pcm, info


def label_rows(clip: Clip) -> list[tuple[float, float, str]]:
    """CSV rows of a clip: segments, then events as ``(t, t, label)``, sorted by time."""
    rows = [(float(a), float(b), lab) for a, b, lab in clip.segments]
    rows += [(float(t), float(t), lab) for t, lab in clip.events]
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


def _summary(meta: dict) -> dict:
    """``meta`` without per-discharge arrays (for the manifest)."""
    out = {}
    for k, v in meta.items():
        if isinstance(v, np.ndarray):
            out[k] = f"{len(v)} values"
        elif isinstance(v, dict):
            out[k] = _summary(v)
        elif isinstance(v, list):
            out[k] = [_summary(i) if isinstance(i, dict) else (f"{len(i)} values" if isinstance(i, np.ndarray) else i)
                      for i in v]
        elif isinstance(v, (np.floating, float)):
            out[k] = round(float(v), 4)
        else:
            out[k] = v
    return out


def write_corpus(out_dir, cfg: CorpusConfig | None = None) -> list[Path]:
    """Write the corpus into ``out_dir`` (created); return the WAV paths, in label order."""
    from convert.holdoutsim import VERSION

    cfg = cfg or CorpusConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, manifest = [], []
    for label, n in clip_counts(cfg).items():
        for i in range(n):
            clip, pcm, info = draw_clip(label, i, cfg)
            stem = f"{label}_{i:03d}"
            write_wav(out / f"{stem}.wav", pcm, cfg.sample_rate, cfg.chain.uv_per_lsb)
            lines = ["start_s,end_s,label"] + [f"{a:.6f},{b:.6f},{lab}" for a, b, lab in label_rows(clip)]
            (out / f"{stem}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            manifest.append({"stem": stem, "label": label, "chain": info, "drawn": _summary(clip.meta)})
            paths.append(out / f"{stem}.wav")
    doc = {"generator": "convert.holdoutsim", "version": VERSION, "config": asdict(cfg), "clips": manifest}
    (out / "holdoutsim.json").write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    return paths
