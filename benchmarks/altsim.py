"""Out-of-generator check: the shipped bundle on the independent generator ``convert.altsim``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/altsim.py [--clips-per-class 10] [--seeds 1 2 3]
        [--bundle default] [--work DIR] [--out benchmarks/results/altsim.json] [--sample-rate 44100] [--per-clip]

For each corpus seed: writes an altsim data directory (8 s clips, one class each, voluntary 3×;
under ``--work`` or a temporary folder), evaluates the bundle on it with the kit's own
``emg-convert evaluate`` (``convert.cli``, no latency), and collects int8 macro-F1,
pathological sensitivity/specificity, the share of voluntary windows called pathological,
per-class recall and the top confusions, with and without the open-set guard. Writes JSON and
prints a short table. The default recipe trains on altsim's corpus seed 100000: for its bundles these
corpora (other seeds) are a seen generator; the held-out check is benchmarks/holdoutsim.py.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from convert import cli  # noqa: E402
from convert.altsim import ALTSIM_VERSION  # noqa: E402
from convert.altsim.corpus import CorpusConfig, write_corpus  # noqa: E402
from convert.altsim.recording_chain import ChainConfig  # noqa: E402


def top_confusions(confusion: list[list[int]], labels: list[str], k: int = 8) -> list[dict]:
    """The ``k`` largest off-diagonal cells: true → predicted, windows and share of the true class."""
    cm = np.asarray(confusion)
    rows = cm.sum(axis=1)
    cells = [(int(cm[i, j]), i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j and cm[i, j]]
    cells.sort(reverse=True)
    return [{"true": labels[i], "predicted": labels[j], "windows": n, "share_of_true": round(n / rows[i], 4)}
            for n, i, j in cells[:k]]


def summarise(res: dict, labels: list[str]) -> dict:
    """The figures this benchmark reports from an ``emg-convert evaluate`` result."""
    s8 = res["int8"]
    out = {
        "windows": res["windows"],
        "int8": {
            "macro_f1": s8["macro_f1"],
            "pathological_sensitivity": s8["pathological"]["sensitivity"],
            "pathological_specificity": s8["pathological"]["specificity"],
            "voluntary_called_pathological": s8["voluntary_called_pathological"]["share"],
            "normal_called_pathological": s8["normal_called_pathological"]["share"],
            "recall": {name: m["recall"] for name, m in s8["per_class"].items()},
            "support": {name: m["support"] for name, m in s8["per_class"].items()},
            "precision": {name: m["precision"] for name, m in s8["per_class"].items()},
            "top_confusions": top_confusions(s8["confusion"], labels),
        },
        "float_macro_f1": res["float"]["macro_f1"],
    }
    if "open_set" in res:
        g = res["open_set"]["int8_guarded"]
        out["int8_guarded"] = {
            "macro_f1": g["macro_f1"],
            "pathological_sensitivity": g["pathological"]["sensitivity"],
            "pathological_specificity": g["pathological"]["specificity"],
            "voluntary_called_pathological": g["voluntary_called_pathological"]["share"],
            "normal_called_pathological": g["normal_called_pathological"]["share"],
            "withheld": res["open_set"]["withheld"],
        }
    return out


def per_clip(bundle_name: str, data: Path) -> list[dict]:
    """Per clip: its windows (ambiguous ones left out, as ``evaluate`` does), the share the int8
    model labels correctly, its most common prediction and what the manifest says was drawn.
    The same windowing and classifier as ``emg-convert evaluate``."""
    from convert.datadir import load_datadir
    from convert.evaluate import window_config_for
    from convert.windowing import windows_of
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier
    from edge.runtime.prior import ClassPrior

    bundle = load_bundle(bundle_name)
    clf, wcfg = Int8Classifier(bundle), window_config_for(bundle)
    prior = ClassPrior.for_bundle(bundle)  # the bundle's call, as emg-convert evaluate makes it
    manifest = {c["stem"]: c for c in json.loads((data / "manifest.json").read_text())["clips"]}
    rows = []
    for rec in load_datadir(data, min_rate=bundle.min_sample_rate):
        w = windows_of(rec, bundle.frontend_config, wcfg, uv_per_lsb=bundle.uv_per_lsb)
        keep = ~w.ambiguous
        y, pred = w.y[keep], prior.apply(clf.predict_many(w.X[keep])).argmax(axis=1)
        m = manifest[rec.name]
        names, counts = np.unique(pred, return_counts=True)
        rows.append({"stem": rec.name, "label": m["label"], "windows": int(len(y)),
                     "correct": round(float(np.mean(pred == y)), 3) if len(y) else None,
                     "most_predicted": bundle.labels[int(names[np.argmax(counts)])] if len(y) else None,
                     "info": m["info"], "chain": {k: m["chain"][k] for k in ("noise_uv_rms", "hum_uv")}})
    return rows


def run_seed(seed: int, clips: int, bundle: str, work: Path, with_clips: bool = False,
             chain: ChainConfig | None = None) -> dict:
    chain = chain or ChainConfig()
    data = work / f"altsim_seed{seed}_{chain.sample_rate_hz}hz"
    t0 = time.perf_counter()
    write_corpus(data, CorpusConfig(clips_per_class=clips, seed=seed, chain=chain))
    t_gen = time.perf_counter() - t0
    out_json = work / f"evaluate_seed{seed}_{chain.sample_rate_hz}hz.json"
    argv = ["evaluate", "--bundle", bundle, "--data", str(data), "--json", str(out_json), "--no-latency"]
    t1 = time.perf_counter()
    rc = cli.main(argv)
    t_eval = time.perf_counter() - t1
    if rc:
        raise SystemExit(f"emg-convert {' '.join(argv)} exited {rc}")
    res = json.loads(out_json.read_text())
    from edge.bundle import load_bundle

    labels = list(load_bundle(bundle).labels)
    out = {"seed": seed, "data": str(data), "evaluate_command": "emg-convert " + shlex.join(argv),
           "seconds_generate": round(t_gen, 1), "seconds_evaluate": round(t_eval, 1),
           **summarise(res, labels)}
    if with_clips:
        out["per_clip"] = per_clip(bundle, data)
    return out


def _model_id(bundle: str) -> str:
    from edge.bundle import load_bundle

    return load_bundle(bundle).model_id


def _f(v) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def print_table(runs: list[dict]) -> None:
    labels = list(runs[0]["int8"]["recall"])
    head = f"{'':32}" + "".join(f"{'seed ' + str(r['seed']):>10}" for r in runs)
    print(head)
    rows = [("int8 macro-F1", lambda r: r["int8"]["macro_f1"]),
            ("pathological sensitivity", lambda r: r["int8"]["pathological_sensitivity"]),
            ("pathological specificity", lambda r: r["int8"]["pathological_specificity"]),
            ("voluntary called pathological", lambda r: r["int8"]["voluntary_called_pathological"])]
    if "int8_guarded" in runs[0]:
        rows += [("guarded macro-F1", lambda r: r["int8_guarded"]["macro_f1"]),
                 ("guarded sensitivity", lambda r: r["int8_guarded"]["pathological_sensitivity"]),
                 ("guarded specificity", lambda r: r["int8_guarded"]["pathological_specificity"]),
                 ("guarded voluntary→pathological", lambda r: r["int8_guarded"]["voluntary_called_pathological"])]
    for name, get in rows:
        print(f"{name:32}" + "".join(f"{_f(get(r)):>10}" for r in runs))
    print("recall per class")
    for name in labels:
        print(f"  {name:30}" + "".join(f"{_f(r['int8']['recall'][name]):>10}" for r in runs))
    top = runs[0]["int8"]["top_confusions"][:6]
    print("top confusions (first seed): " + "; ".join(
        f"{c['true']}→{c['predicted']} {c['windows']} ({c['share_of_true']:.0%})" for c in top))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips-per-class", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--work", help="folder for the corpora and evaluation JSONs (default: a temporary folder)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/altsim.json"))
    ap.add_argument("--sample-rate", type=int, default=ChainConfig.sample_rate_hz,
                    help="corpus sample rate, Hz (default 44100; the band's high edge is at most 45 %% of it)")
    ap.add_argument("--per-clip", action="store_true",
                    help="also record each clip's share of correct windows and its most common prediction")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="altsim-") as tmp:
        work = Path(a.work) if a.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        chain = ChainConfig(sample_rate_hz=a.sample_rate)
        runs = [run_seed(s, a.clips_per_class, a.bundle, work, a.per_clip, chain) for s in a.seeds]
    keys = ("macro_f1", "pathological_sensitivity", "pathological_specificity", "voluntary_called_pathological")
    summary = {}
    for part in ("int8", "int8_guarded"):
        if part in runs[0]:
            summary[part] = {k: {"mean": round(float(np.mean([r[part][k] for r in runs])), 4),
                                 "sd": round(float(np.std([r[part][k] for r in runs])), 4)} for k in keys}
    result = {
        "benchmark": "altsim out-of-generator check",
        "generator": f"convert.altsim {ALTSIM_VERSION}",
        "bundle": a.bundle,
        "model_id": _model_id(a.bundle),
        "clips_per_class": a.clips_per_class,
        "sample_rate_hz": a.sample_rate,
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/altsim.py " + shlex.join(argv or sys.argv[1:]),
        "seconds": round(time.perf_counter() - t0, 1),
        "summary": summary,
        "runs": runs,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print()
    print_table(runs)
    print(f"wrote {a.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
