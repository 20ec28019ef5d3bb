"""Evaluate a bundle: int8 and float side by side, per-class P/R/F1, macro-F1, normal-versus-
pathological sensitivity/specificity, the share of voluntary (and of all normal) windows called
pathological, confusion matrix, and LiteRT latency on one thread.

``emg-convert evaluate --bundle B --data DIR --json OUT`` runs it on a data directory (WAV +
same-stem labels, the clinic convention), so a clinic validates on its own recordings with the
same command. Recordings are resampled to the bundle's rate; ones below its minimum rate are
refused. Windows and labels follow :mod:`convert.windowing`. ``--chain-seed N`` first passes
recording ``i`` through the recording chain drawn from seed ``N + i`` (:mod:`convert.chain`),
to see the data as other equipment would have recorded it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from clikit.progress import Progress, progress
from convert.metrics import called_pathological, confusion, macro_f1, pathological_detection, per_class
from edge.bundle import Bundle, load_bundle
from edge.inference import Int8Classifier, TFLiteClassifier
from edge.runtime.openset import load_guard
from edge.runtime.prior import ClassPrior


def measure_latency(bundle: Bundle, which: str = "int8", xnnpack: bool = False, n: int = 300,
                    window: np.ndarray | None = None) -> dict:
    """Median and 95th-percentile wall time (ms) of one ``invoke`` on one thread; for an
    ensemble bundle, of one ``predict`` (every member's invoke and the averaging)."""
    clf = TFLiteClassifier(bundle, xnnpack=xnnpack, num_threads=1, which=which)
    if window is None:
        window = np.zeros((bundle.window_frames, bundle.frontend_config.n_mels), np.int16)
    if len(clf.models) > 1:
        def call() -> None:
            clf.predict(window)
    else:
        x = clf.model_input(window)
        interp, idx = clf.interpreter, clf._in["index"]

        def call() -> None:
            interp.set_tensor(idx, x)
            interp.invoke()
    for _ in range(20):  # warm-up
        call()
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        call()
        times[i] = time.perf_counter() - t0
    out = {"median_ms": round(float(np.median(times)) * 1e3, 4),
           "p95_ms": round(float(np.percentile(times, 95)) * 1e3, 4), "runs": n}
    if len(clf.models) > 1:
        out["members"] = len(clf.models)
    return out


def _pathological_mask(bundle: Bundle) -> np.ndarray:
    """``mask[k]``: class ``k`` of the bundle is pathological."""
    return np.array([bundle.is_pathological(i) for i in range(bundle.n_classes)])


def _summary(y: np.ndarray, pred: np.ndarray, bundle: Bundle) -> dict:
    mask = _pathological_mask(bundle)
    vol = [i for i, name in enumerate(bundle.labels) if name == "voluntary_muap"]
    return {
        "macro_f1": round(macro_f1(y, pred, bundle.n_classes), 6),
        "accuracy": round(float(np.mean(pred == y)), 6) if len(y) else None,
        "per_class": per_class(y, pred, bundle.labels),
        "pathological": pathological_detection(y, pred, mask),
        "voluntary_called_pathological": called_pathological(y, pred, mask, vol),
        "normal_called_pathological": called_pathological(y, pred, mask),
        "confusion": confusion(y, pred, bundle.n_classes).tolist(),
    }


#: Windows per inference call between progress updates (predict_many runs them one by one).
_PROGRESS_CHUNK = 256


def _predict(clf: TFLiteClassifier, X: np.ndarray, bar: Progress) -> np.ndarray:
    """``clf.predict_many(X)`` in chunks, counting them on ``bar``."""
    if not len(X):
        return clf.predict_many(X)
    parts = []
    for i in range(0, len(X), _PROGRESS_CHUNK):
        parts.append(clf.predict_many(X[i:i + _PROGRESS_CHUNK]))
        bar.update(len(parts[-1]))
    return np.concatenate(parts)


#: A pathological window at least this covered by its class lies inside the episode; below, at
#: its edge (labelled from ``WindowConfig.min_cover``, 25 %).
INSIDE_COVER = 0.99


def sensitivity_by_cover(y: np.ndarray, pred: np.ndarray, cover: np.ndarray, bundle: Bundle) -> dict:
    """Pathological sensitivity of windows inside an episode (own-class cover >= INSIDE_COVER)
    and at its edge (below), with their counts: misses at an episode's edges are where one
    second of context holds little of the pathology."""
    y, pred, cover = np.asarray(y, np.int64), np.asarray(pred, np.int64), np.asarray(cover, float)
    mask, out = _pathological_mask(bundle), {}
    for name, sel in (("inside", cover >= INSIDE_COVER), ("edge", cover < INSIDE_COVER)):
        d = pathological_detection(y[sel], pred[sel], mask)
        out[name] = {"windows": d["tp"] + d["fn"], "missed": d["fn"], "sensitivity": d["sensitivity"]}
    return out


def evaluate_windows(bundle: Bundle, X: np.ndarray, y: np.ndarray, latency: bool = True,
                     cover: np.ndarray | None = None) -> dict:
    """Metrics of the bundle's int8 and float models on windows ``X`` (front-end integers).
    ``cover``: each window's own-class cover (:func:`convert.windowing.label_coverage`), to
    split the int8 sensitivity into windows inside an episode and at its edge."""
    y = np.asarray(y, np.int64)
    with Progress("inference", 2 * len(X), "windows (int8 + float)") as bar:
        p8 = _predict(Int8Classifier(bundle), X, bar)
        pf = _predict(TFLiteClassifier(bundle, which="float"), X, bar)
    # The bundle's call: its class prior (edge.runtime.prior) on the model's posteriors, as the
    # runtime decides; the model's own argmax is reported beside it under "class_prior".
    prior = ClassPrior.for_bundle(bundle)
    raw8 = p8
    p8, pf = prior.apply(p8), prior.apply(pf)
    pred8, predf = p8.argmax(axis=1), pf.argmax(axis=1)
    s8, sf = _summary(y, pred8, bundle), _summary(y, predf, bundle)
    out = {
        "bundle": bundle.model_id,
        "windows": int(len(y)),
        "int8": s8,
        "float": sf,
        "agreement": round(float(np.mean(pred8 == predf)), 6) if len(y) else None,
        "macro_f1_drop": round(sf["macro_f1"] - s8["macro_f1"], 6),
        "per_class": s8["per_class"],
        "pathological": s8["pathological"],
        "voluntary_called_pathological": s8["voluntary_called_pathological"],
        "normal_called_pathological": s8["normal_called_pathological"],
        "max_abs_prob_diff": round(float(np.abs(p8 - pf).max()), 6) if len(y) else None,
    }
    if not prior.is_identity:
        s0 = _summary(y, raw8.argmax(axis=1), bundle)
        out["class_prior"] = {"weights": prior.named(),
                              "int8_without": {k: s0[k] for k in ("macro_f1", "pathological",
                                                                   "voluntary_called_pathological",
                                                                   "normal_called_pathological")}}
    if cover is not None:
        out["pathological_by_cover"] = sensitivity_by_cover(y, pred8, cover, bundle)
    guard = load_guard(bundle)
    if guard is not None:
        # What the device decides: pathological calls the open-set guard finds atypical are
        # withheld (edge.runtime.openset). The plain int8 figures above are the bundle's calls
        # (model and class prior) without it.
        from convert.openset import guard_cost

        known = guard.known_mask(X, raw8)  # the guard judges the model's own posteriors (runtime order)
        sg = _summary(y, prior.apply(guard.withhold_many(raw8, known)).argmax(axis=1), bundle)
        cost = guard_cost(guard, X, y, raw8, bundle.labels, sorted(bundle.pathological), known=known)
        out["open_set"] = {
            "withheld": cost["withheld"],
            "pathological_hits_withheld": cost["pathological_hits_withheld"],
            "int8_guarded": {k: sg[k] for k in ("macro_f1", "pathological", "voluntary_called_pathological",
                                                 "normal_called_pathological")},
        }
    if latency:
        out["latency_ms"] = {
            "int8_reference": measure_latency(bundle, "int8", False),
            "int8_xnnpack": measure_latency(bundle, "int8", True),
            "float_reference": measure_latency(bundle, "float", False),
            "float_xnnpack": measure_latency(bundle, "float", True),
        }
    return out


def plot_confusion(cm: np.ndarray | list, labels, path: str | Path, title: str = "int8 confusion") -> Path:
    """Row-normalised confusion matrix (true × predicted) with counts → PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    short = [x.replace("_", " ") for x in labels]
    ax.set_xticks(range(len(labels)), short, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), short, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def format_report(res: dict) -> str:
    """A plain-text table of per-class and summary figures."""
    lines = [f"{'class':<30}{'support':>8}{'P':>8}{'R':>8}{'F1':>8}   (int8)"]
    for name, m in res["per_class"].items():
        f1 = "-" if m["f1"] is None else f"{m['f1']:.3f}"
        lines.append(f"{name:<30}{m['support']:>8}{m['precision']:>8.3f}{m['recall']:>8.3f}{f1:>8}")
    p = res["pathological"]
    lines += [
        f"windows {res['windows']}   macro-F1 int8 {res['int8']['macro_f1']:.4f}   float "
        f"{res['float']['macro_f1']:.4f}   drop {res['macro_f1_drop']:+.4f}   top-1 agreement {res['agreement']:.4f}",
        f"normal vs pathological: sensitivity {p['sensitivity']}   specificity {p['specificity']}",
    ]
    if "pathological_by_cover" in res:
        c = res["pathological_by_cover"]

        def sens(m):
            return "-" if m["sensitivity"] is None else f"{m['sensitivity']:.3f} ({m['missed']} of {m['windows']} missed)"

        lines.append(f"pathological windows inside an episode (>= {INSIDE_COVER:.0%} covered): sensitivity "
                     f"{sens(c['inside'])}; at its edge: {sens(c['edge'])}")
    if "voluntary_called_pathological" in res:
        v, n = res["voluntary_called_pathological"], res["normal_called_pathological"]

        def share(m):
            return "-" if m["share"] is None else f"{m['share']:.3f} ({m['called_pathological']}/{m['windows']})"

        lines.append(f"called pathological (int8): voluntary windows {share(v)}   "
                     f"all normal windows {share(n)} (false alarms per normal window)")
    if "class_prior" in res:  # the figures above are the bundle's calls; the model's own argmax:
        c = res["class_prior"]
        w, wp = c["int8_without"], c["int8_without"]["pathological"]
        lines.append("class prior " + ", ".join(f"{k} x{v:g}" for k, v in c["weights"].items())
                     + f" (figures above); the model's own argmax: macro-F1 {w['macro_f1']:.4f}, sensitivity "
                     f"{wp['sensitivity']}, specificity {wp['specificity']}, voluntary called pathological "
                     f"{w['voluntary_called_pathological']['share']}")
    if "open_set" in res:
        g = res["open_set"]
        gp = g["int8_guarded"]["pathological"]
        lines.append(f"with the open-set guard: {g['withheld']} window(s) withheld ({g['pathological_hits_withheld']} "
                     f"correct pathological calls among them); macro-F1 {g['int8_guarded']['macro_f1']:.4f}, "
                     f"sensitivity {gp['sensitivity']}, specificity {gp['specificity']}, voluntary called "
                     f"pathological {g['int8_guarded']['voluntary_called_pathological']['share']}")
    if "latency_ms" in res:
        lat = res["latency_ms"]
        lines.append("latency (1 thread, median ms): " + "   ".join(f"{k} {v['median_ms']:.3f}" for k, v in lat.items()))
    return "\n".join(lines)


def window_config_for(bundle: Bundle):
    """The windowing that reproduces the bundle's window and hop (checked in frames)."""
    from convert.windowing import WindowConfig

    wcfg = WindowConfig(window_s=bundle.window_s, hop_s=bundle.hop_s)
    frames = wcfg.frames(bundle.frontend_config)
    if frames != (bundle.window_frames, bundle.hop_frames):
        raise ValueError(f"bundle window {bundle.window_frames}/{bundle.hop_frames} frames does not match "
                         f"windowing {frames}")
    return wcfg


# ---------------------------------------------------------------- CLI

def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a bundle (int8 vs float) on a labelled data directory",
                              description="Per-class P/R/F1, macro-F1, sensitivity/specificity, confusion "
                                          "matrix, int8/float agreement and latency.")
    p.add_argument("--bundle", default="default", help="bundle directory or shipped name (default: default)")
    p.add_argument("--data", required=True, help="data directory: recordings + same-stem label files")
    p.add_argument("--json", required=True, help="write the results here (JSON)")
    p.add_argument("--png", help="confusion-matrix PNG (default: next to --json)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--chain-seed", type=int, metavar="N",
                   help="pass recording i through the recording chain drawn from seed N+i (convert.chain: "
                        "filters, rate, gain error, polarity, hum, noise, clipping) before evaluating")
    from convert.datadir import add_channel_option

    add_channel_option(p)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from clikit import UserError

    from convert.datadir import load_datadir
    from convert.windowing import label_coverage, windows_of
    from edge.bundle import BundleError

    try:
        bundle = load_bundle(args.bundle)
    except BundleError as exc:
        raise UserError(str(exc)) from None
    recs = load_datadir(args.data, min_rate=bundle.min_sample_rate, channel=args.channel)
    chains = None
    if args.chain_seed is not None:
        from convert.chain import ChainConfig, apply_chain

        if args.chain_seed < 0:
            raise UserError(f"--chain-seed {args.chain_seed}: must be >= 0")
        cfg = ChainConfig(sample_rates_hz=tuple(r for r in ChainConfig().sample_rates_hz
                                                if r >= bundle.min_sample_rate))
        recs = [apply_chain(r, cfg.draw(args.chain_seed + i)) for i, r in enumerate(recs)]
        chains = [{"recording": r.name, **r.meta["chain"]} for r in recs]
    wcfg = window_config_for(bundle)
    Xs, ys, covers = [], [], []
    # windows_of resamples each to the bundle's rate; ambiguous windows are left out, as training does
    for rec in progress(recs, "features", "recordings"):
        w = windows_of(rec, bundle.frontend_config, wcfg, uv_per_lsb=bundle.uv_per_lsb)
        keep = ~w.ambiguous
        Xs.append(w.X[keep])
        ys.append(w.y[keep])
        covers.append(label_coverage(rec, w.start_s[keep], w.end_s[keep], w.y[keep], wcfg))
    if not sum(len(y) for y in ys):
        raise UserError(f"{args.data}: no recording lasts one window ({bundle.window_s} s)")
    X, y = np.concatenate(Xs), np.concatenate(ys)
    res = evaluate_windows(bundle, X, y, latency=not args.no_latency, cover=np.concatenate(covers))
    res["data"] = {"dir": str(args.data), "recordings": len(recs),
                   "sample_rates": sorted({int(r.sample_rate) for r in recs})}
    if chains is not None:
        res["data"]["chain_seed"] = args.chain_seed
        res["data"]["chains"] = chains
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = Path(args.png) if args.png else out.with_suffix(".confusion.png")
    # The figures first: a missing or broken matplotlib must not lose them.
    out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(format_report(res))
    try:
        plot_confusion(res["int8"]["confusion"], bundle.labels, png, title=f"{bundle.model_id} int8")
    except ImportError as exc:
        print(f"wrote {out}; no confusion plot ({exc}; pip install matplotlib)")
        return 0
    res["confusion_png"] = str(png)
    out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {png}")
    return 0
