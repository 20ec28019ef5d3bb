"""``emg-convert check-data DIR``: validate a data directory and show what training would see.

Reads every recording and label file exactly as training and evaluation do
(:func:`convert.datadir.load_datadir`), then reports per recording its rate, length, scale
and labelled seconds per class, and the window counts per class under the documented label
rule (:mod:`convert.windowing`). Problems end in one line naming the file, exit status 2.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from convert.taxonomy import LABELS


def _window_counts(rec, sample_rate: int, wcfg) -> tuple[Counter, int]:
    """Window labels from the geometry alone (no features needed): (counts, ambiguous)."""
    from edge.frontend import FrontendConfig

    from convert.windowing import label_windows, window_spans

    # Only the frame geometry (25 ms frames, 10 ms hop) matters here, not the Mel bands.
    fcfg = FrontendConfig(sample_rate=sample_rate, window_ms=25.0, hop_ms=10.0, n_mels=8, fmin_hz=20.0,
                          fmax_hz=min(10000.0, sample_rate / 2.0))
    n = int(round(rec.duration_s * sample_rate))
    n_frames = 0 if n < fcfg.frame_length else (n - fcfg.frame_length) // fcfg.hop_length + 1
    start, end = window_spans(n_frames, fcfg, wcfg)
    y, amb = label_windows(rec, start, end, wcfg)
    return Counter(LABELS[i] for i in y[~amb]), int(amb.sum())


def run(args: argparse.Namespace) -> int:
    from convert.datadir import load_datadir
    from convert.windowing import WindowConfig

    wcfg = WindowConfig(window_s=args.window_s, hop_s=args.hop_s)
    recs = load_datadir(args.dir, min_rate=args.min_rate, uv_per_lsb=args.uv_per_lsb, channel=args.channel)
    total_s: Counter = Counter()
    total_w: Counter = Counter()
    total_amb = 0
    for rec in recs:
        secs: Counter = Counter()
        for s in rec.segments:
            secs[s.label] += s.end_s - s.start_s
        counts, amb = _window_counts(rec, args.sample_rate, wcfg)
        total_s.update(secs)
        total_w.update(counts)
        total_amb += amb
        peak_uv = float(np.abs(rec.pcm.astype(np.int32)).max(initial=0)) * rec.uv_per_lsb
        labels = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(secs.items())) or "no segments"
        n_ch = int(rec.meta.get("channels", 1))
        which = f"channel {args.channel} of {n_ch}, " if n_ch > 1 else ""
        print(f"{rec.name}: {which}{rec.sample_rate} Hz, {rec.duration_s:.1f} s, {rec.uv_per_lsb:g} µV/LSB "
              f"({rec.meta.get('uv_per_lsb_source')}), peak {peak_uv:.0f} µV, "
              f"{len(rec.meta.get('events', []))} point labels; {labels}")
    print(f"\n{len(recs)} recordings, {sum(r.duration_s for r in recs):.1f} s")
    print(f"windows ({wcfg.window_s:g} s, hop {wcfg.hop_s:g} s) per class, {total_amb} ambiguous left out:")
    for label in LABELS:
        if total_w[label] or total_s[label]:
            print(f"  {label:30s} {total_w[label]:6d} windows  {total_s[label]:8.1f} s labelled")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("check-data", help="validate a data directory (recordings + label files)",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("dir", help="data directory: recordings with same-stem .csv or Audacity .txt labels")
    p.add_argument("--min-rate", type=int, default=None, help="refuse recordings below this rate (Hz)")
    p.add_argument("--uv-per-lsb", type=float, default=None, help="µV per LSB of WAV files (overrides their scale comment; without either, 0.5); "
                   "EDF/WFDB keep their header's physical values, re-expressed at this scale")
    p.add_argument("--sample-rate", type=int, default=44100, help="model rate for window counts (Hz)")
    p.add_argument("--window-s", type=float, default=1.0, help="window length (s)")
    p.add_argument("--hop-s", type=float, default=0.25, help="hop between windows (s)")
    from convert.datadir import add_channel_option

    add_channel_option(p)
    p.set_defaults(func=run)
