"""Helpers for bundle tests: synthetic integer feature windows and a tiny trained bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FRAMES, N_MELS = 25, 16  # 0.25 s windows at the 10 ms hop


def synthetic_windows(n_per_class: int, n_classes: int, seed: int = 0, frames: int = FRAMES,
                      n_mels: int = N_MELS) -> tuple[np.ndarray, np.ndarray]:
    """Integer 'features' where class k raises mel band k mod n_mels (plus noise)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(n_classes):
        base = rng.normal(600, 60, (n_per_class, frames, n_mels))
        band = k % n_mels
        base[:, :, band] += 500
        if k >= n_mels:
            base[:, ::2, :] += 300
        X.append(base)
        y += [k] * n_per_class
    X = np.clip(np.concatenate(X), 0, 4000).astype(np.uint16)
    return X, np.asarray(y, np.int64)


def make_tiny_bundle(out: Path, seed: int = 0, epochs: int = 3, cfg=None, isolate: bool = False) -> Path:
    """Train a tiny CNN (or the model ``cfg`` describes) on synthetic windows and export it
    (≈10 s on one core; ``isolate`` converts in a child process, as training a CRNN does)."""
    import edge.frontend as fe
    from convert.export import export_bundle
    from convert.models import ModelConfig, build_model
    from convert.taxonomy import LABELS, PATHOLOGICAL
    from convert.train import TrainConfig, fit, to_model_input
    from edge.inference import FeatureQuantizer

    X, y = synthetic_windows(24, len(LABELS), seed=seed)
    quant = FeatureQuantizer.from_range(int(X.min()), int(X.max()))
    q = quant(X)
    cfg = cfg or ModelConfig(arch="cnn", widths=(8, 8), pools=((2, 2), (2, 2)), dropout=0.1)
    model = build_model((FRAMES, N_MELS), len(LABELS), cfg, seed=seed)
    fit(model, q, y, q[::3], y[::3], TrainConfig(epochs=epochs, batch_size=32, patience=5, verbose=0, spec_augment=False,
                                                  learning_rate=1e-2, seed=seed))
    fe_cfg = fe.FrontendConfig(sample_rate=44100, window_ms=25.0, hop_ms=10.0, n_mels=N_MELS,
                               fmin_hz=20.0, fmax_hz=10000.0)
    export_bundle(out, model=model, model_cfg=cfg, representative=to_model_input(q), quantizer=quant,
                  frontend_cfg=fe_cfg, window={"window_s": 0.25, "hop_s": 0.1, "window_frames": FRAMES,
                                                "hop_frames": 10},
                  labels=LABELS, pathological=PATHOLOGICAL, min_sample_rate=4000,
                  training={"synthetic": True, "seed": seed}, isolate=isolate)
    return out
