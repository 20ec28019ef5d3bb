"""Which recurrent layer survives full-int8 conversion? One child process per route.

    .venv/bin/python benchmarks/recurrent_quantization.py [--steps 300] [--seeds 1] [--first-seed 0] [--routes NAME …]
        [--out benchmarks/results/recurrent_quantization.json]

Routes (same convolutional front as the kit's CRNN, 100×64 input, 12 classes):
keras 3 GRU/LSTM as a WHILE loop (``unroll=False``), keras 3 GRU/LSTM unrolled, the legacy
``tf_keras`` LSTM (``TF_USE_LEGACY_KERAS=1``, fused UNIDIRECTIONAL_SEQUENCE_LSTM), the kit's
per-gate LSTM/GRU (one Dense layer per gate, no fused kernel to SPLIT), a dilated causal TCN,
and the kit's CNN as the peer. The parent simulates one set of feature windows (two clips per
class for training, one for the comparison; :func:`convert.simulator.simulate_clip` through
the device front-end); each child trains its model for ``--steps`` Adam steps (batch 16) on
them with one seed (``--seeds N --first-seed S``: seeds S..S+N-1, one child each), folds
batch norm, converts to full int8 (int8 input and output, builtin int8 ops only), runs the
kit's int8 verification and measures the largest probability difference to the float model
and the top-1 agreement between them on the held-out windows; the parent then times every
converted model (first seed) on one thread, reference kernels and XNNPACK, all routes in
interleaved rounds (fastest round kept: the shared machine slows routes alike). A converter
crash is recorded with its signal. The legacy route needs ``tf_keras`` (``pip install
--no-deps tf_keras==2.21.0``; with dependencies it pulls the full ``tensorflow`` wheel).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROUTES = {
    "cnn (peer)": dict(arch="cnn", legacy=False),
    "keras3 GRU (WHILE)": dict(arch="crnn", rnn="gru", unroll=False, legacy=False),
    "keras3 LSTM (WHILE)": dict(arch="crnn", rnn="lstm", unroll=False, legacy=False),
    "keras3 GRU unroll=True": dict(arch="crnn", rnn="gru", unroll=True, legacy=False),
    "keras3 LSTM unroll=True": dict(arch="crnn", rnn="lstm", unroll=True, legacy=False),
    "tf_keras LSTM (fused)": dict(arch="crnn", rnn="lstm", unroll=False, legacy=True),
    "per-gate LSTM (kit default)": dict(arch="crnn", rnn="lstm_gates", unroll=True, legacy=False),
    "per-gate GRU": dict(arch="crnn", rnn="gru_gates", unroll=True, legacy=False),
    "TCN (dilated causal Conv1D)": dict(arch="crnn", rnn="tcn", unroll=True, legacy=False),
}
SHAPE = (100, 64)


def _latency(content: bytes, xnnpack: bool, n: int = 200) -> float:
    from edge.litert import make_interpreter

    it = make_interpreter(model_content=content, xnnpack=xnnpack)
    inp = it.get_input_details()[0]
    x = np.zeros(inp["shape"], inp["dtype"])
    for _ in range(10):
        it.set_tensor(inp["index"], x)
        it.invoke()
    t = time.perf_counter()
    for _ in range(n):
        it.set_tensor(inp["index"], x)
        it.invoke()
    return (time.perf_counter() - t) / n * 1e3


def _probs(content: bytes, xs: np.ndarray) -> np.ndarray:
    from edge.litert import make_interpreter

    it = make_interpreter(model_content=content)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in xs:
        if inp["dtype"] == np.int8:
            s, z = inp["quantization"]
            x = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        y = it.get_tensor(out["index"])[0]
        if out["dtype"] == np.int8:
            s, z = out["quantization"]
            y = (y.astype(np.float32) - z) * s
        res.append(y)
    return np.array(res)


def simulated_windows(path: Path, seed: int = 900) -> None:
    """Feature windows (front-end integers) of simulated clips, 4 s each, to ``path`` (.npz):
    two clips per class for training, one for the float/int8 comparison."""
    from convert import trainset
    from convert.simulator import simulate_clip
    from convert.taxonomy import LABELS
    from convert.windowing import window_recording

    fe, wcfg = trainset.default_frontend_config(44100), trainset.window_config(1.0, 0.25)
    parts: dict[str, list] = {"train": [], "train_y": [], "test": [], "test_y": []}
    for i, label in enumerate(LABELS):
        for k, part in enumerate(("train", "train", "test")):
            X, y = window_recording(simulate_clip(label, 4.0, 44100, seed=seed + 3 * i + k), fe, wcfg)
            parts[part].append(X)
            parts[part + "_y"].append(np.asarray(y, np.int64))
    np.savez(path, **{k: np.concatenate(v) for k, v in parts.items()})


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def interleaved_latency(models: dict[str, bytes], rounds: int = 7, n: int = 100) -> dict[str, dict]:
    """One-thread ms per invoke of each model, reference kernels and XNNPACK: ``rounds``
    rounds over all models in turn (a busy machine slows each route alike), the fastest round
    kept (the least disturbed one)."""
    best: dict[str, dict] = {k: {"int8_ref_ms": float("inf"), "int8_xnnpack_ms": float("inf")} for k in models}
    for _ in range(rounds):
        for name, content in models.items():
            for key, xnn in (("int8_ref_ms", False), ("int8_xnnpack_ms", True)):
                best[name][key] = min(best[name][key], _latency(content, xnn, n))
    return {k: {m: round(v, 4) for m, v in d.items()} for k, d in best.items()}


def write_json(path: str | Path, results: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def child(name: str, data: str, steps: int, seed: int) -> dict:
    r = ROUTES[name]
    if r["legacy"]:
        import tf_keras as K
    else:
        import keras as K
    from convert.models import ModelConfig, build_model, fold_batchnorm
    from convert.quantize import Int8VerificationError, calibration_set, inspect_tflite, to_tflite_float, to_tflite_int8

    from convert.models import count_params
    from convert.trainset import fit_quantizer
    from convert.train import to_model_input

    cfg = ModelConfig.default(r["arch"], **({"rnn": r["rnn"], "rnn_unroll": r["unroll"]} if r["arch"] == "crnn" else {}))
    K.utils.set_random_seed(seed)  # weights, shuffling and dropout: a run is one seed
    model = build_model(SHAPE, 12, cfg, seed=seed, K=K, batch_size=1 if r["legacy"] else None)
    with np.load(data) as d:
        quant = fit_quantizer(d["train"])
        feats, y = to_model_input(quant(d["train"])), d["train_y"]
        test, test_y = to_model_input(quant(d["test"])), d["test_y"]
    # trained, not initial, weights: the float SPLIT of the fused LSTM appeared only after training
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    batch = 1 if r["legacy"] else 16  # the tf_keras model has a fixed batch of 1
    n_steps = max(8, steps // 16) if r["legacy"] else steps
    t0 = time.time()
    epochs = max(1, int(round(n_steps / np.ceil(len(feats) / batch))))
    hist = model.fit(feats, y, epochs=epochs, batch_size=batch, verbose=0)
    res = {"train_steps": int(np.ceil(len(feats) / batch) * epochs), "train_s": round(time.time() - t0, 1),
           "train_accuracy": round(float(hist.history["accuracy"][-1]), 3), "params": count_params(model)}
    model = fold_batchnorm(model, cfg, K=K)
    float_content = to_tflite_float(model)
    t0 = time.time()
    content = to_tflite_int8(model, calibration_set(feats, 100), verify=False)
    res.update({"convert_s": round(time.time() - t0, 2), "bytes": len(content),
                "float_ops": sorted(inspect_tflite(float_content).ops)})
    rep = inspect_tflite(content)
    res.update(ok=rep.ok, ops=rep.ops, problems=rep.problems[:3], tensor_dtypes=rep.tensor_dtypes)
    try:
        _latency(content, False, n=5)  # runs at all; timed by the parent, all routes interleaved
        Path(data).with_name(f"{_slug(name)}_{seed}.tflite").write_bytes(content)
        p8, pf = _probs(content, test), _probs(float_content, test)
        res["max_abs_prob_diff"] = round(float(np.abs(p8 - pf).max()), 4)
        res["top1_agreement"] = round(float(np.mean(p8.argmax(1) == pf.argmax(1))), 4)
        res["int8_test_accuracy"] = round(float(np.mean(p8.argmax(1) == test_y)), 3)
        res["test_windows"] = int(len(test))
    except (RuntimeError, ValueError) as exc:
        res["run_error"] = str(exc)[:200]
    del Int8VerificationError
    return res


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--out", default="benchmarks/results/recurrent_quantization.json")
    p.add_argument("--data", help="(child) windows written by the parent")
    p.add_argument("--steps", type=int, default=300, help="Adam steps of batch 16 per model")
    p.add_argument("--routes", nargs="*", help="subset of route names (default: all)")
    p.add_argument("--seeds", type=int, default=1, help="training seeds per route; latency of the first")
    p.add_argument("--first-seed", type=int, default=0, help="seeds are FIRST_SEED..FIRST_SEED+SEEDS-1")
    p.add_argument("--seed", type=int, default=0, help="(child) training seed")
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.data, args.steps, args.seed)), flush=True)
        return 0
    unknown = sorted(set(args.routes or ()) - set(ROUTES))
    if unknown:
        p.error(f"unknown routes {unknown}; choose from {sorted(ROUTES)}")
    results = {}
    tmp = tempfile.TemporaryDirectory(prefix="emg-rq-")
    data = Path(tmp.name) / "windows.npz"
    simulated_windows(data)
    for name, r in ROUTES.items():
        if args.routes and name not in args.routes:
            continue
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        if r["legacy"]:
            env["TF_USE_LEGACY_KERAS"] = "1"
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.time()
            proc = subprocess.run([sys.executable, __file__, "--child", name, "--data", str(data),
                                   "--steps", str(args.steps), "--seed", str(seed)], capture_output=True, text=True,
                                  env=env, timeout=900)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode == 0 and line:
                res = json.loads(line[-1][7:])
            else:
                tail = [x for x in (proc.stderr or "").splitlines() if x.strip()][-2:]
                res = {"ok": False, "crash": (f"signal {-proc.returncode}" if proc.returncode < 0
                                              else f"exit {proc.returncode}"), "stderr_tail": tail}
            res["wall_s"] = round(time.time() - t0, 1)
            runs.append(res)
            print(name, f"seed {seed}", json.dumps({k: res.get(k) for k in (
                "ok", "crash", "bytes", "max_abs_prob_diff", "top1_agreement", "problems")}), flush=True)
        res = dict(runs[0])
        res["seeds"] = [{"seed": args.first_seed + i, **{k: x.get(k) for k in (
            "ok", "crash", "problems", "bytes", "max_abs_prob_diff", "top1_agreement", "int8_test_accuracy")}}
            for i, x in enumerate(runs)]
        res["verified_seeds"] = f"{sum(bool(x.get('ok')) for x in runs)}/{len(runs)}"
        results[name] = res
    saved = {name: data.with_name(f"{_slug(name)}_{args.first_seed}.tflite") for name in results}
    timing = interleaved_latency({k: p.read_bytes() for k, p in saved.items() if p.is_file()})
    for name, t in timing.items():
        results[name].update(t)
        print(name, json.dumps(t), flush=True)
    peer = results.get("cnn (peer)", {})
    for res in results.values():
        if res.get("bytes") and peer.get("bytes"):
            res["size_vs_cnn"] = round(res["bytes"] / peer["bytes"], 2)
        if res.get("int8_ref_ms") and peer.get("int8_ref_ms"):
            res["latency_vs_cnn"] = round(res["int8_ref_ms"] / peer["int8_ref_ms"], 2)
    tmp.cleanup()
    seeds = [args.first_seed, args.first_seed + args.seeds - 1]
    results = {"_protocol": {"steps": args.steps, "batch": 16, "seeds": seeds, "train_clips_per_class": 2,
                             "test_clips_per_class": 1, "clip_s": 4.0}, **results}
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
