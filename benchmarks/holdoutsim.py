"""Held-out outside check: score a bundle on corpora from convert.holdoutsim, a generator no model
in the kit was trained on (never train on it or tune against it; see its package docstring).

    .venv/bin/python benchmarks/holdoutsim.py [--seeds 1 2 3] [--clips 10] [--sample-rate 44100]
                                              [--bundle default] [--work DIR] [--out FILE]

Per seed: writes a corpus (``--clips`` 8-s clips per class, voluntary 3x) into ``--work``/seed_N
(default a temporary directory), runs ``emg-convert evaluate --bundle B --data DIR --no-latency``
on it and keeps: windows, int8 macro-F1, pathological sensitivity/specificity, share of voluntary
windows called pathological, per-class recall, the largest confusions, and the same figures with
the bundle's open-set guard when the evaluation reports one. Writes ``--out`` (default
benchmarks/results/holdoutsim.json) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from convert.holdoutsim import VERSION, CorpusConfig, write_corpus  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "holdoutsim.json"
TOP_CONFUSIONS = 8


def _rounded(x):
    return None if x is None else round(float(x), 4)


def summarise(res: dict, labels: list[str]) -> dict:
    """The figures kept per seed from an ``evaluate`` JSON."""
    s8 = res["int8"]
    cm = np.asarray(s8["confusion"])
    off = [(int(cm[i, j]), labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels))
           if i != j and cm[i, j] > 0]
    off.sort(key=lambda c: (-c[0], c[1], c[2]))
    out = {
        "windows": res["windows"],
        "macro_f1": _rounded(s8["macro_f1"]),
        "accuracy": _rounded(s8["accuracy"]),
        "sensitivity": _rounded(s8["pathological"]["sensitivity"]),
        "specificity": _rounded(s8["pathological"]["specificity"]),
        "voluntary_called_pathological": _rounded(s8["voluntary_called_pathological"]["share"]),
        "normal_called_pathological": _rounded(s8["normal_called_pathological"]["share"]),
        "per_class_recall": {k: {"recall": _rounded(v["recall"]), "support": v["support"]}
                             for k, v in s8["per_class"].items()},
        "top_confusions": [{"true": t, "predicted": p, "windows": n} for n, t, p in off[:TOP_CONFUSIONS]],
        "float_macro_f1": _rounded(res["float"]["macro_f1"]),
    }
    guard = res.get("open_set")
    if guard:
        g = guard["int8_guarded"]
        out["open_set"] = {
            "withheld": guard.get("withheld"),
            "pathological_hits_withheld": guard.get("pathological_hits_withheld"),
            "macro_f1": _rounded(g["macro_f1"]),
            "sensitivity": _rounded(g["pathological"]["sensitivity"]),
            "specificity": _rounded(g["pathological"]["specificity"]),
            "voluntary_called_pathological": _rounded(g["voluntary_called_pathological"]["share"]),
        }
    return out


def _fmt(x, pct=False):
    if x is None:
        return "  -  "
    return f"{100 * x:5.1f}%" if pct else f"{x:.3f}"


def table(doc: dict) -> str:
    rows = [f"holdoutsim {doc['generator_version']} on {doc['model_id']} ({doc['clips_per_class']} clips/class, "
            f"{doc['sample_rate']} Hz)",
            f"{'seed':>4} {'windows':>7} {'macroF1':>7} {'sens':>6} {'spec':>6} {'vol->path':>9}   "
            f"guarded: {'macroF1':>7} {'sens':>6} {'spec':>6} {'vol->path':>9}"]
    for seed, r in doc["seeds"].items():
        g = r.get("open_set", {})
        rows.append(f"{seed:>4} {r['windows']:>7} {_fmt(r['macro_f1']):>7} {_fmt(r['sensitivity']):>6} "
                    f"{_fmt(r['specificity']):>6} {_fmt(r['voluntary_called_pathological'], True):>9}   "
                    f"         {_fmt(g.get('macro_f1')):>7} {_fmt(g.get('sensitivity')):>6} "
                    f"{_fmt(g.get('specificity')):>6} {_fmt(g.get('voluntary_called_pathological'), True):>9}")
    labels = list(next(iter(doc["seeds"].values()))["per_class_recall"])
    rows.append("")
    rows.append(f"{'recall':<30}" + "".join(f"{'seed ' + s:>9}" for s in doc["seeds"]))
    for lab in labels:
        rows.append(f"{lab:<30}" + "".join(f"{_fmt(r['per_class_recall'][lab]['recall']):>9}"
                                           for r in doc["seeds"].values()))
    for seed, r in doc["seeds"].items():
        conf = ", ".join(f"{c['true']}->{c['predicted']} {c['windows']}" for c in r["top_confusions"][:5])
        rows.append(f"seed {seed} top confusions: {conf}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/holdoutsim.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--clips", type=int, default=10, help="clips per class (voluntary 3x; default 10)")
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--work", help="directory for the corpora and evaluation JSONs (default: a temporary one)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)

    from convert.cli import main as cli_main
    from edge.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    t0 = time.time()
    tmp = None
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="holdoutsim_")
        work = Path(tmp.name)
    seeds = {}
    try:
        for seed in args.seeds:
            data, out = work / f"seed_{seed}", work / f"seed_{seed}.evaluate.json"
            write_corpus(data, CorpusConfig(clips_per_class=args.clips, sample_rate=args.sample_rate, seed=seed))
            rc = cli_main(["evaluate", "--bundle", args.bundle, "--data", str(data), "--json", str(out),
                           "--no-latency"])
            if rc:
                raise SystemExit(f"evaluate failed on seed {seed} (exit {rc})")
            seeds[str(seed)] = summarise(json.loads(out.read_text(encoding="utf-8")), list(bundle.labels))
    finally:
        if tmp is not None:
            tmp.cleanup()
    argv_used = sys.argv[1:] if argv is None else argv
    doc = {
        "benchmark": "holdoutsim",
        "model_id": bundle.model_id,
        "bundle": args.bundle,
        "generator": "convert.holdoutsim",
        "generator_version": VERSION,
        "clips_per_class": args.clips,
        "sample_rate": args.sample_rate,
        "command": "python benchmarks/holdoutsim.py " + " ".join(shlex.quote(a) for a in argv_used),
        "seconds": round(time.time() - t0, 1),
        "seeds": seeds,
    }
    vals = {k: [r[k] for r in seeds.values() if r[k] is not None]
            for k in ("macro_f1", "sensitivity", "specificity", "voluntary_called_pathological")}
    doc["mean"] = {k: round(float(np.mean(v)), 4) if v else None for k, v in vals.items()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(table(doc))
    print(f"wrote {out} ({doc['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
