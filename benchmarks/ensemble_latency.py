"""Device-path latency of a CNN + CRNN ensemble bundle against its members.

    .venv/bin/python benchmarks/ensemble_latency.py [--steps 300] [--out benchmarks/results/ensemble_latency.json]

Trains the kit's CNN and default CRNN (full size: 100×64 windows, 12 classes) for ``--steps``
Adam steps of batch 16 on simulated windows (the windows of
``benchmarks/recurrent_quantization.py``), exports each as a verified int8 bundle, writes the
ensemble bundle of both (``convert.ensemble``, equal weights) and times what the device calls
per window, :meth:`edge.inference.Int8Classifier.predict` (feature → int8 rule, invoke,
dequantise; the ensemble runs both members and averages), on one thread with reference
kernels and with XNNPACK. Bundles are timed in interleaved rounds, fastest round kept (the
machine is shared). The peer is the CNN bundle: the ensemble's ratio to the sum of its
members' times shows the averaging's own cost. The brief training makes the accuracy figures
a smoke check, not a model comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from recurrent_quantization import simulated_windows, write_json  # same directory (run as a script)


def _bundle(out: Path, arch: str, Xtr, ytr, Xva, yva, steps: int) -> Path:
    from convert import trainset
    from convert.models import ModelConfig, build_model
    from convert.taxonomy import LABELS, PATHOLOGICAL
    from convert.train import TrainConfig, fit, to_model_input, wcfg_dict
    from convert.export import export_bundle

    fe_cfg = trainset.default_frontend_config(44100)
    quant = trainset.fit_quantizer(Xtr)
    q, qv = quant(Xtr), quant(Xva)
    cfg = ModelConfig.default(arch)
    model = build_model(q.shape[1:], len(LABELS), cfg)
    epochs = max(1, int(round(steps / np.ceil(len(q) / 16))))
    fit(model, q, ytr, qv, yva, TrainConfig(epochs=epochs, batch_size=16, patience=epochs, verbose=0))
    export_bundle(out, model=model, model_cfg=cfg, representative=to_model_input(q), quantizer=quant,
                  frontend_cfg=fe_cfg, window=wcfg_dict(trainset.window_config(1.0, 0.25), q.shape[1], fe_cfg),
                  labels=LABELS, pathological=PATHOLOGICAL, min_sample_rate=4000, isolate=arch == "crnn")
    return out


def _ms_per_window(clf, windows: np.ndarray, n: int) -> float:
    for w in windows[:5]:
        clf.predict(w)
    t = time.perf_counter()
    for i in range(n):
        clf.predict(windows[i % len(windows)])
    return (time.perf_counter() - t) / n * 1e3


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default="benchmarks/results/ensemble_latency.json")
    args = p.parse_args()
    from convert.ensemble import write_ensemble
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier

    with tempfile.TemporaryDirectory(prefix="emg-ens-") as tmp:
        root = Path(tmp)
        simulated_windows(root / "w.npz")
        with np.load(root / "w.npz") as d:
            Xtr, ytr, Xte, yte = d["train"], d["train_y"], d["test"], d["test_y"]
        paths = {"cnn": _bundle(root / "cnn", "cnn", Xtr, ytr, Xte, yte, args.steps),
                 "crnn": _bundle(root / "crnn", "crnn", Xtr, ytr, Xte, yte, args.steps)}
        paths["ensemble"] = write_ensemble(root / "ensemble", [paths["cnn"], paths["crnn"]])
        bundles = {k: load_bundle(v, authenticate=False) for k, v in paths.items()}
        res: dict = {k: {"model_id": b.model_id,
                         "bytes": sum(m.path.stat().st_size for m in b.members)} for k, b in bundles.items()}
        for k, b in bundles.items():
            probs = Int8Classifier(b).predict_many(Xte)
            res[k]["int8_test_accuracy"] = round(float(np.mean(probs.argmax(1) == yte)), 3)
            res[k]["test_windows"] = int(len(yte))
        for key, xnn in (("device_ms_reference", False), ("device_ms_xnnpack", True)):
            clfs = {k: Int8Classifier(b, xnnpack=xnn) for k, b in bundles.items()}
            best = {k: float("inf") for k in clfs}
            for _ in range(args.rounds):
                for k, clf in clfs.items():
                    best[k] = min(best[k], _ms_per_window(clf, Xte, 100))
            for k, v in best.items():
                res[k][key] = round(v, 4)
    ens = res["ensemble"]
    for key in ("device_ms_reference", "device_ms_xnnpack"):
        ens[key.replace("device_ms", "vs_sum_of_members")] = round(ens[key] / (res["cnn"][key] + res["crnn"][key]), 2)
        ens[key.replace("device_ms", "vs_cnn")] = round(ens[key] / res["cnn"][key], 2)
    res["_protocol"] = {"steps": args.steps, "batch": 16, "rounds": args.rounds, "windows_per_round": 100,
                        "threads": 1}
    for k, v in res.items():
        print(k, json.dumps(v), flush=True)
    write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
