"""QEMG figure: per unit its superimposed discharges and median template with its duration
markers (onset and end, dashed) and duration range in the title, a firing raster and the
instantaneous rate over time (matplotlib, an optional dependency)."""

from __future__ import annotations

import numpy as np

from clikit import UserError


def check_matplotlib() -> None:
    """UserError (one line) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install matplotlib") from None


def plot_result(result, path: str, title: str = "") -> None:
    """Draw ``result`` (:class:`edge.quant.QuantResult`) to the PNG ``path``."""
    check_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = result.units
    n = max(len(units), 1)
    cols = min(n, 5)
    rows = (n + cols - 1) // cols
    fig = plt.figure(figsize=(3.0 * cols, 2.4 * rows + 4.2))
    gs = fig.add_gridspec(rows + 2, cols, height_ratios=[2.4] * rows + [2.0, 2.2])
    fs = result.measures.sample_rate_hz
    colors = plt.cm.tab10(np.arange(max(n, 1)) % 10)
    for i, u in enumerate(units):
        ax = fig.add_subplot(gs[i // cols, i % cols])
        t = result.template_t0_ms + np.arange(len(result.templates[i])) * 1000.0 / fs
        for s in result.discharges[i][:40]:  # the most isolated discharges
            ax.plot(t, s, color="0.7", lw=0.4, alpha=0.6)
        ax.plot(t, result.templates[i], color=colors[i], lw=1.6)
        ax.set_xlim(-10, 15)
        ax.invert_yaxis()  # clinical convention: negative up
        if i < len(result.markers_ms):
            for m in result.markers_ms[i]:
                ax.axvline(m, color="k", ls="--", lw=0.6)
        rng = u.duration_range_ms
        dur = f"{u.duration_ms:.1f} ms" + (f" ({rng[0]:.1f}–{rng[1]:.1f})" if rng else "")
        ax.set_title(f"MU {u.id}: {u.amplitude_uv:.0f} µV, {dur}, {u.phases} ph", fontsize=8)
        ax.set_xlabel("ms", fontsize=7)
        ax.tick_params(labelsize=6)
    if not units:
        ax = fig.add_subplot(gs[0, :])
        ax.text(0.5, 0.5, f"no motor units: {result.measures.reason}", ha="center", va="center")
        ax.set_axis_off()
    ax_r = fig.add_subplot(gs[rows, :])
    ax_f = fig.add_subplot(gs[rows + 1, :], sharex=ax_r)
    for i, u in enumerate(units):
        ts = np.asarray(u.discharge_times_s)
        ax_r.vlines(ts, i + 0.6, i + 1.4, color=colors[i], lw=0.8)
        if len(ts) > 1:
            ax_f.plot(ts[1:], 1.0 / np.diff(ts), ".", ms=2, color=colors[i], label=f"MU {u.id}")
    ax_r.set_ylabel("unit", fontsize=8)
    ax_r.set_yticks(range(1, len(units) + 1))
    ax_r.set_yticklabels([str(u.id) for u in units], fontsize=6)
    ax_f.set_ylabel("rate (Hz)", fontsize=8)
    ax_f.set_xlabel("time (s)", fontsize=8)
    ax_f.set_ylim(0, 40)
    dur = result.measures.duration_s
    ax_r.set_xlim(0, dur if dur > 0 else 1)
    fig.suptitle(title or "QEMG", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
