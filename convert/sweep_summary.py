"""``emg-convert sweep-summary RESULTS/``: mean ± sd over seeds per configuration, paired tests.

A *configuration* is a trial's resolved config without its ``seed``; trials that differ only
in the seed are its repeats. Configurations are labelled by the resolved values that vary
among them, so one RESULTS folder may hold the trials of several grids (rows that are not one
cross product: run each grid with the same ``--out``). For every evaluation set and metric (:data:`METRICS`) the summary
gives mean ± sd (ddof 1) over seeds, and for every configuration against the reference
(``--reference KEY=VALUE[,KEY=VALUE]``; default: the first value of every axis but ``seed``) a
**paired** comparison over the seeds both have: the mean difference d̄ (configuration −
reference), its 95 % percentile-bootstrap confidence interval (10,000 resamples of the seed
differences, numpy, generator seed 0) and the two-sided **sign-flip permutation test** p-value
(exact: all 2^n sign patterns of the n differences for n ≤ 16, else 100,000 random ones).
The smallest attainable p is 2/2^n: 0.0625 with 5 seeds, 0.031 with 6 — five seeds cannot
reach p < 0.05, and a bootstrap CI over so few seeds is narrower than it should be.

Writes ``RESULTS/summary.json`` and ``RESULTS/summary.md`` (Markdown tables for
docs/TRAINING.md) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: Figures compared (keys of :func:`convert.conditions.figures`); ``voluntary_called_pathological``:
#: lower is better. ``agreement`` (int8 vs float top-1) is missing ("–") in trials run before it
#: was recorded.
METRICS = ("int8_macro_f1", "sensitivity", "specificity", "voluntary_called_pathological", "agreement")
_HEAD = {"int8_macro_f1": "int8 macro-F1", "sensitivity": "path. sensitivity",
         "specificity": "path. specificity", "voluntary_called_pathological": "voluntary → path.",
         "agreement": "int8/float agreement"}
#: Exact sign-flip enumeration up to this many differences (2^16 patterns).
EXACT_MAX = 16


def sign_flip_p(d: np.ndarray, n_random: int = 100_000, seed: int = 0) -> float:
    """Two-sided p of the paired sign-flip test: the share of sign patterns whose |mean| is at
    least the observed |mean| (the observed pattern included, so p >= 2/2^n for n <= 16)."""
    d = np.asarray(d, np.float64)
    n = len(d)
    if n == 0:
        return float("nan")
    if n <= EXACT_MAX:
        signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    else:
        signs = np.random.default_rng(seed).choice((-1, 1), size=(n_random, n))
        signs[0] = 1
    means = np.abs(signs @ d) / n
    return float(np.mean(means >= abs(d.mean()) - 1e-12))


def bootstrap_ci(d: np.ndarray, level: float = 0.95, n_resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``d`` (resampling its elements)."""
    d = np.asarray(d, np.float64)
    if len(d) < 2:
        return (float("nan"), float("nan"))
    idx = np.random.default_rng(seed).integers(0, len(d), size=(n_resamples, len(d)))
    means = d[idx].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def load_trials(results: Path) -> list[dict]:
    """Every finished trial under ``results``: ``{"id", "settings", "config", "metrics"}``."""
    out = []
    for m in sorted(results.glob("*/metrics.json")):
        c = json.loads((m.parent / "config.json").read_text(encoding="utf-8"))
        out.append({**c, "metrics": json.loads(m.read_text(encoding="utf-8"))})
    return out


def config_key(config: dict) -> str:
    """A resolved config without its seed: trials with the same key are one configuration's repeats."""
    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


def matches(config: dict, selection: dict) -> bool:
    """Whether a resolved config has every KEY → VALUE of ``selection``."""
    return all(config.get(k) == v for k, v in selection.items())


def selected_trials(results: Path, select: list[dict] | None = None) -> list[dict]:
    """:func:`load_trials` of ``results``, kept when their resolved config matches one of the
    ``select`` KEY → VALUE dicts (all of them when ``select`` is empty)."""
    trials = load_trials(results)
    return [t for t in trials if any(matches(t["config"], sel) for sel in select)] if select else trials


def _label(settings: dict, varying: list[str]) -> str:
    return ", ".join(f"{k}={json.dumps(settings.get(k))}" for k in varying) or "(all)"


def parse_reference(text: str) -> dict:
    """``KEY=VALUE[,KEY=VALUE]`` → dict (values read as JSON where they parse: 0.5, true, "cnn")."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValueError(f"--reference {text!r}: give KEY=VALUE pairs separated by commas")
        k, v = (s.strip() for s in part.split("=", 1))
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def summarise(results: Path, reference: dict | None = None, select: list[dict] | None = None,
              label_keys: list[str] | None = None) -> dict:
    """Group the trials of ``results`` by configuration; mean ± sd and paired tests (see module).

    ``select``: keep only the trials whose resolved config matches one of these KEY → VALUE
    dicts (all keys of it); ``label_keys``: name the rows by these keys (default: every key that
    varies among the kept trials); labels must still tell the configurations apart."""
    trials = selected_trials(results, select)
    if not trials:
        raise ValueError(f"{results}: no finished trial (no */metrics.json)" if not select else
                         f"{results}: no finished trial matches {select}")
    sweep = results / "sweep.json"
    axes = json.loads(sweep.read_text(encoding="utf-8"))["grid"]["axes"] if sweep.is_file() else {}
    # what varies is read from the resolved configs (every default filled in), so trials of
    # several grids run into one RESULTS folder, each naming other keys, compare by value
    keys = sorted({k for t in trials for k in t["config"]} - {"seed"})
    varying = [k for k in keys if len({json.dumps(t["config"].get(k)) for t in trials}) > 1]
    names = list(label_keys) if label_keys else varying
    confs: dict[str, dict] = {}
    for t in trials:
        c = confs.setdefault(config_key(t["config"]), {"label": _label(t["config"], names),
                                                     "settings": {k: t["config"].get(k) for k in varying},
                                                     "config": t["config"], "runs": {}})
        c["runs"][t["config"]["seed"]] = t["metrics"]
    labels = [c["label"] for c in confs.values()]
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels {sorted(labels)} do not tell the {len(labels)} configurations apart; "
                         f"label by more keys (varying: {', '.join(varying)})")
    if reference is None and not axes:  # no sweep.json: the first configuration by label
        refs = [min(confs, key=lambda k: confs[k]["label"])]
    else:
        if reference is None:
            reference = {k: v[0] for k, v in axes.items() if k != "seed" and k in varying}
        # matched on the resolved config: a key that does not vary (yet) may still be named
        refs = [k for k, c in confs.items() if matches(c["config"], reference)]
    if len(refs) != 1:
        raise ValueError(f"reference {reference} matches {len(refs)} configurations; give KEY=VALUE pairs that "
                         f"pick one of: {'; '.join(sorted(c['label'] for c in confs.values()))}")
    ref = confs[refs[0]]
    sets = sorted({s for c in confs.values() for m in c["runs"].values() for s in m["sets"]})
    out = {"reference": ref["label"], "varying": varying, "sets": sets, "configurations": []}
    for key, c in confs.items():
        entry = {"label": c["label"], "settings": c["settings"], "seeds": sorted(c["runs"]), "sets": {}}
        for s in sets:
            entry["sets"][s] = {}
            for m in METRICS:
                vals = {seed: r["sets"][s].get(m) for seed, r in c["runs"].items() if s in r["sets"]}
                vals = {k: v for k, v in vals.items() if v is not None}
                row = {"n": len(vals), "mean": float(np.mean(list(vals.values()))) if vals else None,
                       "sd": float(np.std(list(vals.values()), ddof=1)) if len(vals) > 1 else None,
                       "values": {str(k): vals[k] for k in sorted(vals)}}
                if key != refs[0]:
                    rv = {seed: r["sets"].get(s, {}).get(m) for seed, r in ref["runs"].items()}
                    common = sorted(k for k in vals if rv.get(k) is not None)
                    d = np.array([vals[k] - rv[k] for k in common])
                    lo, hi = bootstrap_ci(d)
                    row["paired"] = {"n": len(d), "mean_diff": float(d.mean()) if len(d) else None,
                                     "ci95": [lo, hi], "p_sign_flip": sign_flip_p(d) if len(d) else None}
                entry["sets"][s][m] = row
        out["configurations"].append(entry)
    out["configurations"].sort(key=lambda c: (c["label"] != ref["label"], c["label"]))  # reference first
    return out


def _f(x, nd=3) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def format_markdown(summary: dict) -> str:
    """Per evaluation set: a mean ± sd table and a paired-difference table against the reference.

    A metric no configuration has on a set (macro-F1 of a real record without per-window
    labels, agreement of trials run before it was recorded) gets no column there; "seeds" is
    the most seeds any shown metric has."""
    lines = []
    for s in summary["sets"]:
        shown = [m for m in METRICS if any(c["sets"][s][m]["n"] for c in summary["configurations"])]
        head = " | ".join(_HEAD[m] for m in shown)
        lines += [f"### {s}: mean ± sd over seeds", "",
                  f"| configuration | seeds | {head} |", "|---|---|" + "---|" * len(shown)]
        for c in summary["configurations"]:
            rows = [c["sets"][s][m] for m in shown]
            cells = [f"{_f(r['mean'])} ± {_f(r['sd'])}" for r in rows]
            ref = " (reference)" if c["label"] == summary["reference"] else ""
            n = max((r["n"] for r in rows), default=0)
            lines.append(f"| {c['label']}{ref} | {n} | " + " | ".join(cells) + " |")
        if len(summary["configurations"]) < 2:
            lines.append("")
            continue
        lines += ["", f"### {s}: paired difference to {summary['reference']} (Δ mean [95 % bootstrap CI], "
                      "sign-flip p)", "",
                  f"| configuration | seeds paired | {head} |", "|---|---|" + "---|" * len(shown)]
        for c in summary["configurations"]:
            if c["label"] == summary["reference"]:
                continue
            ps = [c["sets"][s][m]["paired"] for m in shown]
            cells = [f"{_f(p['mean_diff'])} [{_f(p['ci95'][0])}, {_f(p['ci95'][1])}] p {_f(p['p_sign_flip'], 3)}"
                     for p in ps]
            lines.append(f"| {c['label']} | {max((p['n'] for p in ps), default=0)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep-summary", help="mean ± sd over seeds and paired tests of a sweep's results",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("results", help="the sweep's RESULTS directory")
    p.add_argument("--reference", help="KEY=VALUE[,KEY=VALUE] picking the reference configuration "
                                       "(default: the first value of every axis but seed)")
    add_selection_args(p)
    p.set_defaults(func=_cmd_summary)


def add_selection_args(p: argparse.ArgumentParser) -> None:
    """``--select`` and ``--label`` (shared with ``benchmarks/sweep_report.py``)."""
    p.add_argument("--select", nargs="+", metavar="KEY=VALUE[,KEY=VALUE]",
                   help="only the trials matching one of these selections (e.g. dropout=0.0 model=ensemble)")
    p.add_argument("--label", help="comma-separated keys that name the rows (default: every key that varies)")


def selection(args: argparse.Namespace) -> dict:
    """``summarise`` keyword arguments from ``--reference``, ``--select`` and ``--label``."""
    return {"reference": parse_reference(args.reference) if args.reference else None,
            "select": [parse_reference(s) for s in args.select] if args.select else None,
            "label_keys": [k.strip() for k in args.label.split(",") if k.strip()] if args.label else None}


def _cmd_summary(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        raise ValueError(f"{results} is not a directory")
    summary = summarise(results, **selection(args))
    md = format_markdown(summary)
    (results / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (results / "summary.md").write_text(md + "\n", encoding="utf-8")
    print(md)
    print(f"wrote {results / 'summary.json'} and {results / 'summary.md'}")
    return 0
