"""Compact tables and one figure of a sweep's results (issue 16 comparisons, docs/TRAINING.md).

    .venv/bin/python benchmarks/sweep_report.py RESULTS/ --reference dropout=0.3,init=he_normal,spatial_dropout=0.0
        [--figure docs/sweep_comparison.png] [--out benchmarks/results/sweep16.json]

Reads the trials with :func:`convert.sweep_summary.summarise` (the same mean ± sd over seeds and
paired comparison against the reference: mean difference, 95 % percentile-bootstrap interval
over seeds, two-sided sign-flip p), and prints Markdown tables with one column per evaluation
set: int8 macro-F1, pathological sensitivity, share of voluntary windows called pathological
(mean ± sd), and the paired macro-F1 and voluntary → pathological differences against the
reference. The figure shows int8 macro-F1 per evaluation set per configuration: one dot per
seed, a bar at the mean. The JSON holds the summary, every trial's figures and the protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: Evaluation sets in display order (the training condition first).
ORDER = ("test", "in_condition", "monopolar", "low_rate", "unseen_filters")
FIGS = (("int8_macro_f1", "int8 macro-F1"), ("sensitivity", "pathological sensitivity"),
        ("voluntary_called_pathological", "voluntary windows called pathological"),
        ("specificity", "pathological specificity"))


def _sets(summary: dict, key: str) -> list[str]:
    """The evaluation sets, in display order, on which some configuration has figure ``key`` (a
    real record has no macro-F1)."""
    sets = [s for s in summary["sets"] if any(c["sets"][s][key]["n"] for c in summary["configurations"])]
    return sorted(sets, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))


def _head(sets: list[str], seeds: str) -> str:
    return f"| configuration | {seeds} | " + " | ".join(sets) + " |\n|---|---|" + "---|" * len(sets)


def _f(x, nd=3) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def tables(summary: dict) -> str:
    """Markdown: one mean ± sd table per figure and one paired-difference table per figure."""
    out = []
    for key, title in FIGS:
        sets = _sets(summary, key)
        if not sets:
            continue
        out += [f"**{title}**, mean ± sd over seeds", "", _head(sets, "seeds")]
        for c in summary["configurations"]:
            ref = " (reference)" if c["label"] == summary["reference"] else ""
            cells = [f"{_f(c['sets'][s][key]['mean'])} ± {_f(c['sets'][s][key]['sd'])}" for s in sets]
            out.append(f"| {c['label']}{ref} | {c['sets'][sets[0]][key]['n']} | " + " | ".join(cells) + " |")
        out.append("")
    for key, title in FIGS[:3:2]:
        sets = _sets(summary, key)
        if not sets:
            continue
        out += [f"**{title}**: paired difference to {summary['reference']} (Δ mean [95 % bootstrap CI "
                "over seeds], sign-flip p)", "", _head(sets, "seeds paired")]
        for c in summary["configurations"]:
            if c["label"] == summary["reference"]:
                continue
            ps = [c["sets"][s][key]["paired"] for s in sets]
            cells = []
            for p in ps:
                lo, hi = p["ci95"]
                mark = "**" if lo is not None and hi is not None and (lo > 0 or hi < 0) else ""
                cells.append(f"{mark}{_f(p['mean_diff'], 3)} [{_f(lo)}, {_f(hi)}]{mark} p {_f(p['p_sign_flip'], 3)}")
            out.append(f"| {c['label']} | {ps[0]['n']} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("Bold: the bootstrap interval excludes 0.")
    return "\n".join(out)


def per_seed(summary: dict) -> dict:
    """{label: {set: {figure: {seed: value}}}} of the summary's configurations (figure and JSON)."""
    return {c["label"]: {s: {key: {int(k): v for k, v in c["sets"][s][key]["values"].items()} for key, _ in FIGS}
                         for s in c["sets"]}
            for c in summary["configurations"]}


TITLE = ("int8 macro-F1 per evaluation set: dots = seeds, bars = mean (training condition: "
         "concentric, 22-48 kHz, HP 5-10 Hz)")


def figure(summary: dict, seeds: dict, path: Path, title: str = TITLE) -> Path:
    """int8 macro-F1 per evaluation set (groups) per configuration (colours): seed dots, mean bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = _sets(summary, "int8_macro_f1")
    confs = [c["label"] for c in summary["configurations"]]
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    width = 0.8 / len(confs)
    colors = plt.get_cmap("tab10").colors
    for j, label in enumerate(confs):
        for i, s in enumerate(sets):
            vals = [v for v in seeds[label][s]["int8_macro_f1"].values() if v is not None]
            x = i - 0.4 + width * (j + 0.5)
            ax.bar(x, np.mean(vals), width * 0.9, color=colors[j % 10], alpha=0.35,
                   label=label.replace('"', "") if i == 0 else None)
            jitter = np.linspace(-0.25, 0.25, len(vals)) * width
            ax.plot(x + jitter, vals, "o", ms=3, color=colors[j % 10])
    ax.set_xticks(range(len(sets)), sets)
    lo = min(v for lab in confs for s in sets for v in seeds[lab][s]["int8_macro_f1"].values() if v is not None)
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_ylabel("int8 macro-F1")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="the sweep's RESULTS directory")
    p.add_argument("--reference", help="KEY=VALUE[,KEY=VALUE] (as emg-convert sweep-summary)")
    p.add_argument("--title", default=TITLE, help="figure title (default: the issue-16 training condition)")
    p.add_argument("--figure", help="PNG to write (int8 macro-F1 per set per configuration)")
    p.add_argument("--out", help="JSON to write (summary, per-seed figures, protocol)")
    from convert.sweep_summary import add_selection_args

    add_selection_args(p)
    args = p.parse_args(argv)
    from convert.simulator import GENERATOR_VERSION
    from convert.sweep_summary import selected_trials, selection, summarise

    results = Path(args.results)
    chosen = selection(args)
    summary = summarise(results, **chosen)
    seeds = per_seed(summary)
    print(tables(summary))
    if args.figure:
        print(f"wrote {figure(summary, seeds, Path(args.figure), args.title)}")
    if args.out:
        sweep = json.loads((results / "sweep.json").read_text(encoding="utf-8"))
        # the summarised trials that trained (an ensemble trial of sweep-ensemble trains nothing)
        trials = [t["metrics"] for t in selected_trials(results, chosen["select"]) if "seconds" in t["metrics"]]
        out = {"command": "python benchmarks/sweep_report.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "simulator_version": str(GENERATOR_VERSION), "last_grid": sweep["grid"], "data": sweep["data"],
               "trial_seconds": {"mean": round(float(np.mean([t["seconds"] for t in trials])), 1),
                                 "total": round(float(np.sum([t["seconds"] for t in trials])), 1)},
               "summary": summary, "per_seed": seeds}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
