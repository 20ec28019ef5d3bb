"""``emg-convert gallery``: one simulated example per class, for a clinician to judge at a glance.

Each row shows a class: 1 s of trace, 50 ms around one of its potentials, and the log-Mel
features the device computes (:mod:`edge.frontend`, in dB via ``to_db``). Traces are in µV
with physical polarity (positive up; EMG displays usually plot negative up).
matplotlib is imported lazily (``train`` extra).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from convert.simulator import simulate_clip
from convert.taxonomy import LABELS, PATHOLOGICAL
from edge.frontend import Frontend, FrontendConfig, to_db

#: Seconds of trace shown per class, and of the zoomed view.
TRACE_S = 1.0
ZOOM_S = 0.05


def _frontend_config(sample_rate: int) -> FrontendConfig:
    """The default front-end, with the top band and band count cut to what the rate allows."""
    fmax = min(10_000.0, sample_rate / 2)
    for n_mels in (64, 48, 40, 32, 24):
        try:
            return FrontendConfig(sample_rate=sample_rate, fmax_hz=fmax, n_mels=n_mels)
        except ValueError:
            continue
    return FrontendConfig(sample_rate=sample_rate, fmax_hz=fmax, n_mels=16)


def _example(label: str, seed: int, sample_rate: int):
    """A 1 s example of ``label`` (plus 0.5 s lead-in so the front-end and filters settle)."""
    rec = simulate_clip(label, TRACE_S + 0.5, sample_rate, seed=seed, background="none")
    lead = int(0.5 * sample_rate)
    x = rec.pcm.astype(np.float64) * rec.uv_per_lsb
    fe = Frontend(_frontend_config(sample_rate))
    db = to_db(fe.process(rec.pcm))
    frames_per_s = sample_rate / fe.cfg.hop_length
    f0 = int(round(0.5 * frames_per_s))
    events = [t - 0.5 for t, lab in rec.meta["events"] if lab == label and 0.5 + ZOOM_S / 2 <= t <= 1.5 - ZOOM_S / 2]
    centre = events[len(events) // 2] if events else TRACE_S / 2
    return x[lead:], db[f0:f0 + int(round(TRACE_S * frames_per_s))], centre, fe.cfg


def _envelope(t: np.ndarray, x: np.ndarray, columns: int = 1600):
    """Min/max per pixel column: what a dense trace looks like, at a fraction of the PNG size."""
    k = max(len(x) // columns, 1)
    m = len(x) // k * k
    xs = x[:m].reshape(-1, k)
    return t[:m:k], xs.min(axis=1), xs.max(axis=1)


def render_gallery(out: str | Path, seed: int = 2026, sample_rate: int = 44100, dpi: int = 60) -> Path:
    """Draw the gallery PNG to ``out``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    n = len(LABELS)
    examples = [_example(label, seed + row, sample_rate) for row, label in enumerate(LABELS)]
    # One colour scale for all rows, so that levels compare across classes.
    vmax = max(float(np.percentile(ex[1], 99.5)) for ex in examples)
    vmin = min(float(np.percentile(ex[1], 1)) for ex in examples)
    fig, axes = plt.subplots(n, 3, figsize=(13, 1.35 * n), gridspec_kw={"width_ratios": [3, 1.2, 2]})
    for row, (label, (x, db, centre, cfg)) in enumerate(zip(LABELS, examples)):
        t = np.arange(len(x)) / sample_rate
        colour = "#b2182b" if label in PATHOLOGICAL else "#2166ac"
        ax = axes[row, 0]
        ax.fill_between(*_envelope(t, x), lw=0.4, color=colour, edgecolor=colour)
        ax.set_xlim(0, TRACE_S)
        ax.set_ylabel("µV", fontsize=7)
        ax.text(0.005, 0.97, label.replace("_", " "), transform=ax.transAxes, va="top", fontsize=9,
                fontweight="bold", color=colour)
        ax.axvspan(centre - ZOOM_S / 2, centre + ZOOM_S / 2, color="0.85", zorder=0)
        ax = axes[row, 1]
        a, b = int((centre - ZOOM_S / 2) * sample_rate), int((centre + ZOOM_S / 2) * sample_rate)
        ax.plot((t[a:b] - t[a]) * 1000, x[a:b], lw=0.7, color=colour)
        ax.set_xlim(0, ZOOM_S * 1000)
        ax = axes[row, 2]
        ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", extent=(0, TRACE_S, 0, cfg.n_mels),
                  vmin=vmin, vmax=vmax)
        ax.set_ylabel("mel", fontsize=7)
        for a_ in axes[row]:
            a_.tick_params(labelsize=6)
    axes[0, 0].set_title(f"trace, {TRACE_S:g} s (positive up)", fontsize=9)
    axes[0, 1].set_title(f"{ZOOM_S * 1000:g} ms", fontsize=9)
    axes[0, 2].set_title(f"log-Mel (edge.frontend, dB), {cfg.n_mels} bands {cfg.fmin_hz:g}–{cfg.fmax_hz:g} Hz",
                         fontsize=9)
    axes[-1, 0].set_xlabel("s", fontsize=7)
    axes[-1, 1].set_xlabel("ms", fontsize=7)
    axes[-1, 2].set_xlabel("s", fontsize=7)
    fig.suptitle(f"Simulated needle EMG, one example per class (seed {seed}, {sample_rate} Hz; red = pathological)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    plt.close(fig)
    # A 128-colour palette PNG is a third of the size of the RGBA one, with no visible loss.
    from PIL import Image  # a matplotlib dependency

    Image.open(buf).convert("RGB").quantize(colors=128).save(out, format="PNG", optimize=True)
    return out


def _run(args: argparse.Namespace) -> int:
    path = render_gallery(args.out, seed=args.seed, sample_rate=args.sample_rate, dpi=args.dpi)
    print(f"wrote {path}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("gallery", help="draw one simulated example per class (trace, zoom, log-Mel) to a PNG",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--seed", type=int, default=2026, help="seed of the first class's example (default 2026)")
    p.add_argument("--sample-rate", type=int, default=44100, help="Hz, 8000–48000 (default 44100)")
    p.add_argument("--dpi", type=int, default=60, help="resolution (default 60: a small PNG for the README)")
    p.set_defaults(func=_run)
