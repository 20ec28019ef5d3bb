"""Write a model bundle: verified int8 model, float twin, training weights and manifest.

The manifest layout is defined by :mod:`edge.bundle` (the device's loader); this module is the
only writer. ``weights.npz`` (the trained Keras weights, batch norm unfolded) and the
``architecture`` entry let ``emg-convert finetune`` continue from a bundle.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

import edge
from edge.bundle import (MANIFEST, MODEL_FLOAT, MODEL_INT8, PINS_FILE, SCHEMA, SCHEMA_VERSION, SHIPPED_DIR,
                         read_pins, sha256_file)
from edge.inference import MODEL_INPUT_SCALE, FeatureQuantizer

WEIGHTS = "weights.npz"


def save_weights(model, path: Path) -> None:
    """Keras weights in layer order, as ``w000, w001, …`` float32 arrays."""
    np.savez(path, **{f"w{i:03d}": np.asarray(w, np.float32) for i, w in enumerate(model.get_weights())})


def load_weights(model, path: Path) -> None:
    with np.load(path) as data:
        model.set_weights([data[k] for k in sorted(data.files)])


def training_environment() -> dict:
    """Versions of what a trained model's numbers depend on besides the kit's code and seeds.
    On one installation the same code, data and seed repeat a build exactly (two seed-0 builds
    of the default recipe gave identical validation curves), yet the shipped bundle, built a
    day earlier on another installation by the same recipe, followed a different curve from
    its first epoch; a fresh install takes TensorFlow and Keras from the registry, so the
    manifest records their versions to trace such a difference."""
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "machine": platform.machine()}


def export_bundle(
    out_dir: str | Path,
    *,
    model,
    model_cfg,
    representative: np.ndarray,
    quantizer: FeatureQuantizer,
    frontend_cfg,
    window: dict,
    labels: tuple[str, ...] | list[str],
    pathological: tuple[str, ...] | list[str],
    min_sample_rate: int,
    training: dict | None = None,
    metrics: dict | None = None,
    isolate: bool = False,
    uv_per_lsb: float = 0.5,
    decision_prior: dict | None = None,
) -> Path:
    """Fold batch norm, convert, verify full int8 and write the bundle directory.

    ``representative``: training inputs (float ``q/128`` windows) for calibration.
    ``window``: ``window_s``, ``hop_s`` (s) and ``window_frames``, ``hop_frames``.
    ``uv_per_lsb``: µV per LSB the training features were computed at (recordings are rescaled
    to it, :mod:`convert.windowing`); written as ``input.uv_per_lsb`` for the runtime.
    ``decision_prior``: class factors (label → factor) the bundle decides with, written as
    ``decision_prior`` (:mod:`edge.runtime.prior`); None = none (every class 1).
    Raises :class:`convert.quantize.Int8VerificationError` (nothing written) if the int8 graph
    is not pure integer.
    """
    from edge.calibration import check_uv_per_lsb
    from edge.frontend import SPEC_VERSION

    from convert.models import fold_batchnorm
    from convert.quantize import calibration_set, to_tflite_float, to_tflite_int8, to_tflite_int8_isolated, verify_int8

    uv_per_lsb = check_uv_per_lsb(uv_per_lsb)
    prior = prior_entry(decision_prior, labels) if decision_prior else None  # checked before anything is converted
    out = Path(out_dir)
    folded = fold_batchnorm(model, model_cfg)
    rep = calibration_set(representative)
    content = to_tflite_int8_isolated(folded, rep) if isolate else to_tflite_int8(folded, rep, verify=False)
    report = verify_int8(content)  # raises before anything is written
    float_content = to_tflite_float(folded)

    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_INT8).write_bytes(content)
    (out / MODEL_FLOAT).write_bytes(float_content)
    save_weights(model, out / WEIGHTS)
    files = {name: {"sha256": sha256_file(out / name), "bytes": (out / name).stat().st_size}
             for name in (MODEL_INT8, MODEL_FLOAT, WEIGHTS)}
    frames, n_mels = (int(s) for s in model.input_shape[1:3])
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "model_id": f"emg-{model_cfg.arch}-{files[MODEL_INT8]['sha256'][:12]}",
        "kit_version": edge.__version__,
        "labels": list(labels),
        "pathological": [x for x in labels if x in set(pathological)],
        "frontend": {"spec_version": SPEC_VERSION, "config": frontend_cfg.to_dict()},
        "window": {k: window[k] for k in ("window_s", "hop_s", "window_frames", "hop_frames")},
        "sample_rate": int(frontend_cfg.sample_rate),
        "min_sample_rate": int(min_sample_rate),
        "input": {
            "dtype": "int8", "shape": [1, frames, n_mels],
            "scale": report.input_quantization[0], "zero_point": report.input_quantization[1],
            "feature_to_int8": quantizer.to_dict(),
            "model_input_scale": MODEL_INPUT_SCALE,
            "uv_per_lsb": uv_per_lsb,
        },
        "output": {"dtype": "int8", "scale": report.output_quantization[0],
                   "zero_point": report.output_quantization[1], "meaning": "softmax probabilities"},
        "architecture": {**model_cfg.to_dict(), "batchnorm_folded": model_cfg.batchnorm},
        "int8_verification": report.to_dict(),
        **({"decision_prior": prior} if prior else {}),
        "files": files,
        "training": {**(training or {}), "environment": training_environment()},
        "metrics": metrics or {},
    }
    write_manifest(out, manifest)
    return out


def prior_entry(weights: dict, labels) -> dict:
    """The manifest's ``decision_prior`` for class factors ``weights`` (label → factor;
    ValueError naming a label the bundle lacks or a factor outside 0.01–100)."""
    from edge.runtime.prior import check_weights

    return {"weights": check_weights(weights, list(labels)),
            "rule": "call = argmax_c w_c p_c / sum_k w_k p_k over the model's posteriors p "
                    "(edge.runtime.prior; classes not named keep 1)"}


def write_manifest(out: Path, manifest: dict) -> None:
    """Write ``manifest.json``. A bundle built into the package's shipped folder is re-pinned
    (``edge/bundles/pins.json``), so the package always pins what it ships; a signature
    (``manifest.sig``) of any other bundle no longer matches and must be renewed."""
    data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
    (Path(out) / MANIFEST).write_bytes(data)
    if Path(out).resolve().parent == SHIPPED_DIR.resolve():
        pin_shipped(Path(out).name, data)


def pin_shipped(name: str, manifest_bytes: bytes) -> None:
    """Record the SHA-256 of a shipped bundle's manifest in ``edge/bundles/pins.json``."""
    pins = read_pins()
    pins[name] = hashlib.sha256(manifest_bytes).hexdigest()
    PINS_FILE.write_text(json.dumps(dict(sorted(pins.items())), indent=2) + "\n", encoding="utf-8")


def update_manifest(bundle_dir: str | Path, **entries: Any) -> dict:
    """Merge top-level entries (e.g. ``metrics``) into an existing manifest; hashes stay valid."""
    path = Path(bundle_dir)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    manifest.update(entries)
    write_manifest(path, manifest)
    return manifest
