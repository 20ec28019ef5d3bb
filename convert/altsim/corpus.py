"""Write a data directory in the kit's format (``convert.datadir``): per clip ``STEM.wav``
(mono int16, µV per LSB in the ``LIST/INFO/ICMT`` comment as ``uv_per_lsb=…``, which
``convert.recordings.read_recording`` reads) and ``STEM.csv`` (``start_s,end_s,label``; point
events as rows with ``start_s == end_s``), plus ``manifest.json`` describing each clip.

One class per clip; ``clips_per_class`` clips of every label, ``voluntary_factor`` times as
many voluntary clips, cycling through pools (normal, myopathic, neurogenic) × efforts (low,
moderate, high). Clip ``i`` of label ``L`` is drawn from ``SeedSequence([seed, index(L), i])``,
so the corpus is deterministic and a clip does not change when counts change.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from convert.altsim import classes
from convert.altsim._check import check_range
from convert.altsim.recording_chain import ChainConfig, record
from convert.recordings import write_wav
from convert.taxonomy import LABELS



@dataclass(frozen=True)
class CorpusConfig:
    """What :func:`write_corpus` writes.

    clips_per_class: clips of each label, 1–1000 (default 10).
    voluntary_factor: voluntary clips per ``clips_per_class``, 1–10 (default 3).
    clip_s: clip length in s, 1–120 (default 8).
    seed: corpus seed, 0–2**32-1 (default 1).
    labels: labels to write (default all twelve).
    chain: the recording chain (:class:`ChainConfig`).
    """

    clips_per_class: int = 10
    voluntary_factor: int = 3
    clip_s: float = 8.0
    seed: int = 1
    labels: tuple[str, ...] = LABELS
    chain: ChainConfig = field(default_factory=ChainConfig)

    def __post_init__(self) -> None:
        check_range("clips_per_class", self.clips_per_class, 1, 1000)
        check_range("voluntary_factor", self.voluntary_factor, 1, 10)
        check_range("clip_s", self.clip_s, 1.0, 120.0)
        check_range("seed", self.seed, 0, 2**32 - 1)
        for name, value in (("clips_per_class", self.clips_per_class), ("voluntary_factor", self.voluntary_factor),
                            ("seed", self.seed)):
            if int(value) != value:
                raise ValueError(f"{name} = {value!r}: must be a whole number")
        object.__setattr__(self, "labels", tuple(self.labels))
        for label in self.labels:
            if label not in LABELS:
                raise ValueError(f"labels: {label!r} is not a label; allowed {', '.join(LABELS)}")
        if not isinstance(self.chain, ChainConfig):
            raise ValueError(f"chain = {self.chain!r}: must be a ChainConfig")

    def count(self, label: str) -> int:
        """Clips of ``label``."""
        return self.clips_per_class * (self.voluntary_factor if label == "voluntary_muap" else 1)


def draw_clip(label: str, index: int, cfg: CorpusConfig) -> tuple[classes.Clip, np.ndarray, dict]:
    """Clip ``index`` of ``label``: ``(clip, int16 pcm, chain info)``."""
    ss = np.random.SeedSequence([int(cfg.seed), LABELS.index(label), int(index)])
    clip_ss, chain_ss = ss.spawn(2)
    rng = np.random.default_rng(clip_ss)
    fs = cfg.chain.sample_rate_hz
    if label == "voluntary_muap":
        combos = [(p, e) for p in classes.POOLS for e in classes.EFFORTS]
        pool, effort = combos[index % len(combos)]
        clip = classes.voluntary_muap(rng, cfg.clip_s, fs, pool=pool, effort=effort)
    else:
        clip = classes.DRAW[label](rng, cfg.clip_s, fs)
    pcm, chain_info = record(np.random.default_rng(chain_ss), clip.signal_uv, cfg.chain)
    return clip, pcm, chain_info


def clip_labels(clip: classes.Clip, duration_s: float) -> tuple[list[tuple[float, float, str]],
                                                                list[tuple[float, str]]]:
    """The clip's labels within ``[0, duration_s]`` s: its segments (sorted) clipped to it, and
    its point events inside it (as drawn, in order)."""
    segments = [(max(a, 0.0), min(b, duration_s), label) for a, b, label in sorted(clip.segments)]
    events = [(t, label) for t, label in clip.events if 0.0 <= t <= duration_s]
    return segments, events


def label_csv(clip: classes.Clip, duration_s: float) -> str:
    """The clip's ``start_s,end_s,label`` text: segments, then point events (start == end)."""
    segments, events = clip_labels(clip, duration_s)
    rows = ["start_s,end_s,label"]
    rows += [f"{a:.6f},{b:.6f},{label}" for a, b, label in segments]
    rows += [f"{t:.6f},{t:.6f},{label}" for t, label in events]
    return "\n".join(rows) + "\n"


def _jsonable(d: dict) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()
            if isinstance(v, (int, float, str, bool, list, type(None)))}


def _source_p2p(source: dict) -> float | None:
    """Peak-to-peak (µV) of a source's potential, as drawn (before the chain)."""
    if "waveform" in source:
        return round(float(np.ptp(source["waveform"])), 1)
    return round(float(source["p2p_uv"]), 1) if source.get("p2p_uv") is not None else None


def write_corpus(out_dir: str | os.PathLike, cfg: CorpusConfig | None = None) -> list[dict]:
    """Write the corpus into ``out_dir`` (created; existing clip files are overwritten) and
    return the manifest rows (also written to ``manifest.json``)."""
    cfg = cfg or CorpusConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for label in cfg.labels:
        for i in range(cfg.count(label)):
            clip, pcm, chain_info = draw_clip(label, i, cfg)
            stem = f"{label}_{i:03d}"
            # The kit's own WAV writer: file I/O, not generator logic.
            write_wav(out / f"{stem}.wav", pcm, cfg.chain.sample_rate_hz, cfg.chain.uv_per_lsb)
            (out / f"{stem}.csv").write_text(label_csv(clip, cfg.clip_s), encoding="utf-8")
            manifest.append({"stem": stem, "label": label, "segments": [list(s) for s in clip.segments],
                             "events": len(clip.events), "sources": len(clip.sources),
                             "source_p2p_uv": [_source_p2p(s) for s in clip.sources],
                             "info": _jsonable(clip.info), "chain": chain_info})
    config = asdict(cfg)
    (out / "manifest.json").write_text(json.dumps({"generator": "convert.altsim", "config": config,
                                                   "clips": manifest}, indent=1) + "\n", encoding="utf-8")
    return manifest
