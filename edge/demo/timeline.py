"""Timeline PNG of a demo run: signal envelope, log-Mel, ground truth and alerts.

matplotlib is imported lazily (the ``demo`` extra); the device runtime never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from edge.scorecard import Episode
from edge.frontend import Frontend, FrontendConfig, to_db

#: Pixel columns of the envelope plot; the signal is reduced to min/max per column.
_ENVELOPE_COLUMNS = 4000


def _envelope(pcm: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(pcm) // columns * columns
    if n == 0:
        return pcm.astype(float), pcm.astype(float)
    blocks = pcm[:n].reshape(columns, -1)
    return blocks.min(axis=1).astype(float), blocks.max(axis=1).astype(float)


def render_timeline(
    out_path: str | Path,
    pcm: np.ndarray,
    sample_rate: int,
    uv_per_lsb: float,
    episodes: Sequence[Episode],
    alerts: Iterable[Mapping],
    labels: Sequence[str],
    frontend: FrontendConfig | None = None,
) -> Path:
    """Draw the run to ``out_path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    duration = len(pcm) / sample_rate
    cfg = frontend or FrontendConfig(sample_rate=sample_rate, window_ms=25.0, hop_ms=10.0, n_mels=64,
                                     fmin_hz=20.0, fmax_hz=min(10000.0, sample_rate / 2 - 1))
    mel_db = to_db(Frontend(cfg).process(pcm), cfg)
    lo, hi = _envelope(pcm, min(_ENVELOPE_COLUMNS, max(len(pcm), 1)))
    t = np.linspace(0, duration, len(lo))
    row = {name: i for i, name in enumerate(labels)}
    colors = plt.get_cmap("tab10")

    fig, axes = plt.subplots(4, 1, figsize=(16, 9), sharex=True,
                             gridspec_kw={"height_ratios": [2, 2, 1.3, 1.3]})
    ax = axes[0]
    ax.fill_between(t, lo * uv_per_lsb / 1000.0, hi * uv_per_lsb / 1000.0, lw=0, color="k")
    ax.set_ylabel("signal (mV)")
    ax.set_title("needle EMG demo: signal, log-Mel, ground truth, alerts received by the amplifier")
    ax = axes[1]
    ax.imshow(mel_db.T, origin="lower", aspect="auto", cmap="magma",
              extent=(0, mel_db.shape[0] * cfg.hop_length / sample_rate, 0, cfg.n_mels),
              vmin=float(np.percentile(mel_db, 5)), vmax=float(mel_db.max()) if mel_db.size else 1.0)
    ax.set_ylabel("Mel band")
    for ax, title, spans in (
        (axes[2], "ground truth", [(e.start_s, e.end_s, e.label) for e in episodes]),
        (axes[3], "alerts", [(float(a["onset_s"]), float(a["offset_s"]), str(a["label"])) for a in alerts]),
    ):
        for start, end, label in spans:
            y = row.get(label, len(labels))
            ax.broken_barh([(start, max(end - start, 0.05))], (y - 0.4, 0.8), color=colors(y % 10))
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels([name.replace("_", " ") for name in labels], fontsize=7)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_ylabel(title)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
