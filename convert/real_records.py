"""Run a bundle over real needle-EMG records exactly as the device would, window by window.

The three PhysioNet *Examples of Electromyograms* records (``tests/data/physionet-emgdb``,
ODC-By 1.0, attribution in the README there) are real concentric-needle recordings of
tibialis anterior at 4 kHz and 0.1 µV per LSB: a healthy subject, a myopathy and a
neuropathy, each during gentle voluntary dorsiflexion, then rest. Nobody has labelled them,
so they measure one thing well: a healthy muscle contracting must raise no pathological alert.

Each record goes through :class:`edge.runtime.pipeline.Pipeline` — calibration from the
record's own µV per LSB (WFDB header), resampling to the bundle's rate, the integer
front-end, the int8 model, the open-set guard, smoothing and the event detector — in 10 ms
blocks, as ``emg-edge run --source wav:FILE?uv_per_lsb=0.1`` runs it. ``python -m
convert.real_records --bundle default`` prints the table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

#: The copy shipped with the tests (``README.md`` beside the files keeps the attribution).
PHYSIONET_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "physionet-emgdb"
RECORDS = ("emg_healthy", "emg_myopathy", "emg_neuropathy")

#: One letter per class for the window-by-window strings (lower case normal, upper case pathological).
ABBREV = {
    "rest": "r", "insertional": "i", "endplate_noise": "n", "endplate_spike": "s", "voluntary_muap": "v",
    "fibrillation": "F", "positive_sharp_wave": "P", "fasciculation": "A", "complex_repetitive_discharge": "C",
    "myotonic_discharge": "M", "myokymic_discharge": "K", "neuromyotonic_discharge": "N",
}


class _Recorder:
    """Wraps a classifier and keeps every window's posterior."""

    def __init__(self, clf) -> None:
        self.clf = clf
        self.probs: list[np.ndarray] = []

    def predict(self, window: np.ndarray) -> np.ndarray:
        p = np.asarray(self.clf.predict(window))
        self.probs.append(p)
        return p


def run_record(bundle, pcm: np.ndarray, rate: int, uv_per_lsb: float, invert: bool = False,
               open_set: bool = True, block_s: float = 0.01, config=None) -> dict:
    """One record (int16 ``pcm`` at ``rate`` Hz and ``uv_per_lsb`` µV) through the device chain
    (``config``: a RuntimeConfig, default the service's defaults)."""
    from edge.inference import Int8Classifier
    from edge.runtime.config import RuntimeConfig
    from edge.runtime.openset import load_guard
    from edge.runtime.pipeline import Pipeline

    rec = _Recorder(Int8Classifier(bundle))
    guard = load_guard(bundle) if open_set else None
    pipe = Pipeline(bundle, rec, config or RuntimeConfig(), int(rate), source_uv_per_lsb=float(uv_per_lsb),
                    invert=invert, guard=guard)
    step = max(1, int(round(block_s * rate)))
    dets = []
    for i in range(0, len(pcm), step):
        dets += pipe.feed(SimpleNamespace(first_index=i, samples=np.asarray(pcm[i:i + step], np.int16)))
    labels = list(bundle.labels)
    probs = np.array(rec.probs) if rec.probs else np.zeros((0, len(labels)))
    if pipe.prior is not None:  # each window's call as the device makes it (edge.runtime.prior)
        probs = pipe.prior.apply(probs)
    pred = [labels[k] for k in np.argmax(probs, axis=1)]
    path = set(bundle.pathological)
    counts = {lab: pred.count(lab) for lab in labels if pred.count(lab)}
    n = len(pred)
    return {
        "seconds": round(len(pcm) / rate, 3),
        "windows": n,
        "window_labels": "".join(ABBREV.get(p, "?") for p in pred),
        "label_counts": counts,
        "pathological_windows": int(sum(p in path for p in pred)),
        "pathological_share": round(sum(p in path for p in pred) / max(n, 1), 4),
        "withheld_windows": int(pipe.counters.unknown_windows),
        "irregular_windows": int(pipe.counters.irregular_windows),
        "prior_windows": int(pipe.counters.prior_windows),
        "saturated_samples": int(pipe.counters.saturated_samples),
        "alerts": [{"label": d.label, "pathological": bool(d.pathological), "confidence": round(d.confidence, 3),
                    "onset_s": round(d.onset / rate, 3)} for d in dets],
        "pathological_alerts": int(sum(d.pathological for d in dets)),
    }


def evaluate_records(bundle, directory: str | Path = PHYSIONET_DIR, records=RECORDS, invert: bool = False,
                     open_set: bool = True) -> dict:
    """:func:`run_record` for each WFDB record in ``directory``, scale from its header."""
    from convert.recordings import read_recording

    out = {}
    for name in records:
        r = read_recording(Path(directory) / f"{name}.hea")
        out[name] = {"sample_rate": r.sample_rate, "uv_per_lsb": r.uv_per_lsb,
                     **run_record(bundle, r.pcm, r.sample_rate, r.uv_per_lsb, invert=invert, open_set=open_set)}
    return out


#: Real-record evaluation sets, by name (a sweep's ``[eval] sets``, ``emg-convert sweep-evaluate``):
#: the records each one runs. Only the healthy record has a truth for every window (no
#: pathological activity anywhere in it), so it is scored, by specificity; the myopathy and
#: neuropathy records are not labelled window by window and are not a set.
REAL_SETS = {"physionet_healthy": ("emg_healthy",)}


def real_set_figures(bundle, name: str, directory: str | Path = PHYSIONET_DIR) -> dict:
    """Real set ``name`` (:data:`REAL_SETS`) through the device chain, as recorded: the keys of
    :func:`convert.conditions.figures` that a record without per-window labels can give.

    ``specificity`` is the share of windows not called pathological (every window of a healthy
    record is non-pathological); the alerts are the device's (smoothing and event detector), so
    a healthy record must raise none."""
    res = evaluate_records(bundle, directory, records=REAL_SETS[name])
    n = sum(r["windows"] for r in res.values())
    k = sum(r["pathological_windows"] for r in res.values())
    return {
        "specificity": round(1.0 - k / n, 6) if n else None,
        "pathological_windows": int(k),
        "pathological_alerts": int(sum(r["pathological_alerts"] for r in res.values())),
        "withheld_windows": int(sum(r["withheld_windows"] for r in res.values())),
        "window_labels": {rec: r["window_labels"] for rec, r in res.items()},
        "windows": int(n),
    }


def format_table(results: dict) -> str:
    rows = ["record            windows  pathological  withheld  pathological alerts",
            "----------------  -------  ------------  --------  -------------------"]
    for name, r in results.items():
        alerts = ", ".join(f"{a['label']} @{a['onset_s']:.2f} s" for a in r["alerts"] if a["pathological"]) or "none"
        rows.append(f"{name:<16}  {r['windows']:7d}  {r['pathological_share']:11.1%}  {r['withheld_windows']:8d}  "
                    f"{r['pathological_alerts']} ({alerts})")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.real_records", description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default="default")
    p.add_argument("--dir", default=str(PHYSIONET_DIR), help="folder of WFDB records")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--no-open-set", action="store_true", help="run without the open-set guard")
    args = p.parse_args(argv)
    from edge.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    res = {"model_id": bundle.model_id,
           "as_recorded": evaluate_records(bundle, args.dir, open_set=not args.no_open_set),
           "inverted": evaluate_records(bundle, args.dir, invert=True, open_set=not args.no_open_set)}
    for k in ("as_recorded", "inverted"):
        print(f"{bundle.model_id}, {k.replace('_', ' ')}:")
        print(format_table(res[k]))
        for name, r in res[k].items():
            print(f"  {name}: {r['window_labels']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
