"""Full-integer post-training quantisation and its verification.

:func:`to_tflite_int8` converts a Keras model with a representative set drawn from training
features (``q / 128`` windows, see :mod:`edge.inference`) into a LiteRT model whose input and
output are int8. :func:`verify_int8` then inspects every operator of the converted graph via
the interpreter and fails (:class:`Int8VerificationError`) unless:

* the model input and output tensors are int8;
* every operator reads and writes only int8, int16 or int32 tensors (no float operator);
* there is no DEQUANTIZE, no QUANTIZE to or from a float tensor, and no control-flow operator
  (WHILE, IF, CALL_ONCE) whose body in another subgraph would escape the check.

Converter crashes are real for recurrent layers (Keras 3 GRU/LSTM → WHILE → segfault in full
int8 conversion with TF 2.21, edge-pipelines.md §5): :func:`to_tflite_int8_isolated` runs the
conversion in a child process so a crash becomes a :class:`QuantizationError`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ALLOWED_DTYPES = ("int8", "int16", "int32")
CONTROL_FLOW_OPS = ("WHILE", "IF", "CALL_ONCE", "CALL")


class QuantizationError(RuntimeError):
    """The converter failed or crashed."""


class Int8VerificationError(QuantizationError):
    """The converted graph is not pure integer (message lists the offending operators)."""


@dataclass
class Int8Report:
    """What :func:`verify_int8` found. ``problems`` is empty for a valid full-int8 graph."""

    ops: dict[str, int]
    tensor_dtypes: dict[str, int]
    input_dtype: str
    output_dtype: str
    input_quantization: tuple[float, int]
    output_quantization: tuple[float, int]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "ops": dict(sorted(self.ops.items())),
            "tensor_dtypes": dict(sorted(self.tensor_dtypes.items())),
            "input_dtype": self.input_dtype,
            "output_dtype": self.output_dtype,
            "input_quantization": {"scale": self.input_quantization[0], "zero_point": self.input_quantization[1]},
            "output_quantization": {"scale": self.output_quantization[0], "zero_point": self.output_quantization[1]},
            "problems": list(self.problems),
        }


def inspect_tflite(content: bytes) -> Int8Report:
    """List operators and tensor types of a LiteRT model and collect int8 violations."""
    from edge.litert import make_interpreter

    interp = make_interpreter(model_content=content, xnnpack=False)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # noqa: SLF001 - the interpreter's only op listing
    problems: list[str] = []
    op_counts: Counter[str] = Counter()
    dtypes: Counter[str] = Counter()
    for op in ops:
        name = op["op_name"]
        op_counts[name] += 1
        io = [i for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0]
        kinds = {np.dtype(tensors[i]["dtype"]).name for i in io if i in tensors}
        dtypes.update(kinds)
        bad = sorted(kinds - set(ALLOWED_DTYPES))
        if name in CONTROL_FLOW_OPS:
            problems.append(f"op {op['index']} {name}: control flow (its body escapes int8 checking)")
        elif name == "DEQUANTIZE":
            problems.append(f"op {op['index']} DEQUANTIZE: converts back to {','.join(bad) or 'float'}")
        elif bad:
            problems.append(f"op {op['index']} {name}: {', '.join(bad)} tensors")
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    in_dt, out_dt = np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name
    if in_dt != "int8":
        problems.append(f"model input is {in_dt}, need int8")
    if out_dt != "int8":
        problems.append(f"model output is {out_dt}, need int8")
    return Int8Report(
        ops=dict(op_counts), tensor_dtypes=dict(dtypes), input_dtype=in_dt, output_dtype=out_dt,
        input_quantization=(float(inp["quantization"][0]), int(inp["quantization"][1])),
        output_quantization=(float(out["quantization"][0]), int(out["quantization"][1])),
        problems=problems,
    )


def verify_int8(content: bytes) -> Int8Report:
    """Return the report of a valid full-int8 graph; raise :class:`Int8VerificationError` otherwise."""
    report = inspect_tflite(content)
    if not report.ok:
        shown = "; ".join(report.problems[:8]) + (" …" if len(report.problems) > 8 else "")
        raise Int8VerificationError(f"not a full-int8 graph ({len(report.problems)} problems): {shown}")
    return report


def _batch1(model):
    """The same layers and weights behind a batch-1 input (fixed shapes in the graph)."""
    import keras as K

    if not isinstance(model, K.Model):  # tf_keras model: convert as is
        return model
    inp = K.Input(batch_shape=(1,) + tuple(int(s) for s in model.input_shape[1:]), name="features")
    return K.Model(inp, model(inp), name=model.name)


def _converter(model):
    import tensorflow as tf

    # batch 1, fixed shape: the device classifies one window at a time
    return tf.lite.TFLiteConverter.from_keras_model(_batch1(model))


def to_tflite_float(model) -> bytes:
    """Float32 LiteRT model, batch 1 (the float twin in a bundle)."""
    return _converter(model).convert()


def calibration_set(features: np.ndarray, n: int = 300, seed: int = 0) -> np.ndarray:
    """Up to ``n`` windows drawn from training inputs (float ``q/128``), first one pinned to the
    full int8 grid (min −1, max 127/128) so the converter picks input scale 1/128, zero point 0."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(features), size=min(n, len(features)), replace=False)
    rep = np.array(features[np.sort(idx)], dtype=np.float32, copy=True)
    flat = rep[0].reshape(-1)
    flat[np.argmin(flat)] = -1.0
    flat[np.argmax(flat)] = 127.0 / 128.0
    return rep


def to_tflite_int8(model, representative: np.ndarray, verify: bool = True) -> bytes:
    """Full-integer PTQ: int8 weights, activations, input and output; optionally verified."""
    import tensorflow as tf

    rep = np.asarray(representative, dtype=np.float32)
    if len(rep) == 0:
        raise QuantizationError("the representative set is empty")

    def gen():
        for i in range(len(rep)):
            yield [rep[i:i + 1]]

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    try:
        content = conv.convert()
    except Exception as exc:  # the converter raises many types; name the stage
        raise QuantizationError(f"full-int8 conversion failed: {exc}") from exc
    if verify:
        verify_int8(content)
    return content


def to_tflite_int8_isolated(model, representative: np.ndarray, timeout_s: float = 900,
                            legacy_keras: bool = False) -> bytes:
    """:func:`to_tflite_int8` in a child process: a converter segfault becomes a QuantizationError.

    The model is saved in Keras format (``.keras``, or ``.h5`` for ``legacy_keras`` tf_keras
    models) and converted and verified by ``python -m convert.quantize``.
    """
    with tempfile.TemporaryDirectory(prefix="emg-quant-") as tmp:
        tmpd = Path(tmp)
        mpath = tmpd / ("model.h5" if legacy_keras else "model.keras")
        model.save(str(mpath))
        np.save(tmpd / "rep.npy", np.asarray(representative, np.float32))
        out = tmpd / "model.tflite"
        env = dict(os.environ)
        if legacy_keras:
            env["TF_USE_LEGACY_KERAS"] = "1"
        proc = subprocess.run(
            [sys.executable, "-m", "convert.quantize", str(mpath), str(tmpd / "rep.npy"), str(out)],
            capture_output=True, text=True, timeout=timeout_s, env=env,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            how = f"crashed with signal {-proc.returncode}" if proc.returncode < 0 else f"exited {proc.returncode}"
            raise QuantizationError(f"full-int8 conversion {how}: {' | '.join(tail)}")
        return out.read_bytes()


def _main(argv: list[str]) -> int:
    """Child entry: ``python -m convert.quantize MODEL REP.npy OUT.tflite``."""
    model_path, rep_path, out_path = argv
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras as K
    else:
        import keras as K
    model = K.models.load_model(model_path, compile=False)
    content = to_tflite_int8(model, np.load(rep_path))
    Path(out_path).write_bytes(content)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
