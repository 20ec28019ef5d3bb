"""Which recurrent layer survives full-int8 conversion? One child process per route.

    .venv/bin/python benchmarks/recurrent_quantization.py [--out benchmarks/results/recurrent_quantization.json]

Routes (same convolutional front as the kit's CRNN, 100×64 input, 12 classes):
keras 3 GRU/LSTM as a WHILE loop (``unroll=False``), keras 3 GRU/LSTM unrolled, the legacy
``tf_keras`` LSTM (``TF_USE_LEGACY_KERAS=1``, fused UNIDIRECTIONAL_SEQUENCE_LSTM) and the
kit's CNN as the peer. Each child converts to full int8 (int8 input and output, builtin int8
ops only), runs the kit's int8 verification, and measures one-thread latency with reference
kernels and XNNPACK and the largest probability difference to the float model. A converter
crash is recorded with its signal. The legacy route needs ``tf_keras`` (``pip install
--no-deps tf_keras==2.21.0``; with dependencies it pulls the full ``tensorflow`` wheel).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def child(name: str) -> dict:
    r = ROUTES[name]
    if r["legacy"]:
        import tf_keras as K
    else:
        import keras as K
    from convert.models import ModelConfig, build_model, fold_batchnorm
    from convert.quantize import Int8VerificationError, calibration_set, inspect_tflite, to_tflite_float, to_tflite_int8

    cfg = ModelConfig.default(r["arch"], **({"rnn": r["rnn"], "rnn_unroll": r["unroll"]} if r["arch"] == "crnn" else {}))
    model = build_model(SHAPE, 12, cfg, K=K, batch_size=1 if r["legacy"] else None)
    rng = np.random.default_rng(0)
    feats = (rng.integers(-128, 128, (120,) + SHAPE) / 128).astype(np.float32)
    # a few steps of training so batch-norm statistics and weights are not at their initial values
    # (an untrained GRU left one float SPLIT in the graph in our runs; the verification catches it)
    model.compile("adam", "sparse_categorical_crossentropy")
    n_fit = 8 if r["legacy"] else 64  # the tf_keras model has a fixed batch of 1
    model.fit(feats[:n_fit], rng.integers(0, 12, n_fit), epochs=1, batch_size=1 if r["legacy"] else 16, verbose=0)
    model = fold_batchnorm(model, cfg, K=K)
    float_content = to_tflite_float(model)
    t0 = time.time()
    content = to_tflite_int8(model, calibration_set(feats, 100), verify=False)
    res = {"convert_s": round(time.time() - t0, 2), "bytes": len(content),
           "float_ops": sorted(inspect_tflite(float_content).ops)}
    rep = inspect_tflite(content)
    res.update(ok=rep.ok, ops=rep.ops, problems=rep.problems[:3], tensor_dtypes=rep.tensor_dtypes)
    try:
        res["int8_ref_ms"] = round(_latency(content, False), 4)
        res["int8_xnnpack_ms"] = round(_latency(content, True), 4)
        res["max_abs_prob_diff"] = round(float(np.abs(_probs(content, feats[100:]) -
                                                      _probs(float_content, feats[100:])).max()), 4)
    except (RuntimeError, ValueError) as exc:
        res["run_error"] = str(exc)[:200]
    del Int8VerificationError
    return res


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--out", default="benchmarks/results/recurrent_quantization.json")
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child)), flush=True)
        return 0
    results = {}
    for name, r in ROUTES.items():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        if r["legacy"]:
            env["TF_USE_LEGACY_KERAS"] = "1"
        t0 = time.time()
        proc = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                              env=env, timeout=900)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode == 0 and line:
            res = json.loads(line[-1][7:])
        else:
            tail = [x for x in (proc.stderr or "").splitlines() if x.strip()][-2:]
            res = {"ok": False, "crash": (f"signal {-proc.returncode}" if proc.returncode < 0
                                          else f"exit {proc.returncode}"), "stderr_tail": tail}
        res["wall_s"] = round(time.time() - t0, 1)
        results[name] = res
        print(name, json.dumps({k: res.get(k) for k in ("ok", "crash", "bytes", "int8_ref_ms", "int8_xnnpack_ms",
                                                         "max_abs_prob_diff", "problems")}), flush=True)
    peer = results.get("cnn (peer)", {})
    for res in results.values():
        if res.get("bytes") and peer.get("bytes"):
            res["size_vs_cnn"] = round(res["bytes"] / peer["bytes"], 2)
        if res.get("int8_ref_ms") and peer.get("int8_ref_ms"):
            res["latency_vs_cnn"] = round(res["int8_ref_ms"] / peer["int8_ref_ms"], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
