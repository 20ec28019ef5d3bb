"""Calibrate the runtime's open-set guard (:mod:`edge.runtime.openset`) when a bundle is built.

For each pathological class the guard needs the training distribution of window summary
vectors (mean, covariance) and a distance threshold; for all of them a minimum confidence.

* Covariance: the sample covariance of the class's training windows, shrunk 10 % towards its
  diagonal and with a 0.01 dB² ridge, so that directions the training set never varied in
  (e.g. a band that was always silent) do not make every real window infinitely atypical.
* ``max_distance[c]``: the ``quantile`` (default 99.5 %) of the distances of held-out windows
  of class ``c``, and never below the same quantile on the training windows; so at most about
  0.5 % of held-out windows of a class the model knows are withheld by this test.
* ``min_confidence``: the ``conf_quantile`` (default 1 %) of the maximum posterior of held-out
  pathological windows the model got right, capped at 0.5.

The cost in recall is measured afterwards on the test set (:func:`guard_cost`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edge.runtime.openset import ClassModel, OpenSetGuard, summary_vector

GROUPS = 16
STD_GROUPS = 4
_RIDGE_DB2 = 0.01
_SHRINK = 0.1
_BATCH = 2048


def summaries(X: np.ndarray, groups: int = GROUPS, std_groups: int = STD_GROUPS) -> np.ndarray:
    """Summary vectors of windows ``X`` (n × frames × bands), in batches to bound memory."""
    parts = [summary_vector(X[i:i + _BATCH], groups, std_groups) for i in range(0, len(X), _BATCH)]
    return np.concatenate(parts) if parts else np.zeros((0, groups + std_groups))


def _class_model(s_train: np.ndarray, s_val: np.ndarray, quantile: float) -> ClassModel:
    mean = s_train.mean(axis=0)
    cov = np.cov(s_train, rowvar=False)
    cov = (1.0 - _SHRINK) * cov + _SHRINK * np.diag(np.diag(cov)) + _RIDGE_DB2 * np.eye(len(mean))
    inv_chol = np.linalg.inv(np.linalg.cholesky(cov))
    model = ClassModel(mean, inv_chol, float("inf"))
    d_train = model.distance(s_train)
    limit = float(np.quantile(d_train, quantile))
    if len(s_val) >= 20:
        limit = max(limit, float(np.quantile(model.distance(s_val), quantile)))
    return ClassModel(mean, inv_chol, limit)


def fit_open_set(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                 probs_val: np.ndarray, labels: Sequence[str], pathological: Sequence[str],
                 quantile: float = 0.995, conf_quantile: float = 0.01, min_windows: int = 30) -> OpenSetGuard:
    """Fit the guard from training windows and held-out (validation) windows with the int8
    model's posteriors ``probs_val`` (n × classes). Classes with fewer than ``min_windows``
    training windows get no typicality test (the confidence test still applies)."""
    if not 0.5 < quantile < 1.0:
        raise ValueError(f"quantile = {quantile}: allowed range is 0.5..<1")
    if not 0.0 <= conf_quantile < 0.5:
        raise ValueError(f"conf_quantile = {conf_quantile}: allowed range is 0..<0.5")
    labels = list(labels)
    path_idx = [labels.index(p) for p in pathological]
    classes = {}
    for c in path_idx:
        tr = np.flatnonzero(y_train == c)
        if len(tr) < min_windows:
            continue
        va = np.flatnonzero(y_val == c)
        classes[labels[c]] = _class_model(summaries(X_train[tr]), summaries(X_val[va]), quantile)
    pred = np.argmax(probs_val, axis=1)
    right = (pred == y_val) & np.isin(y_val, path_idx)
    conf = float(np.quantile(probs_val[right].max(axis=1), conf_quantile)) if right.sum() >= 20 else 0.0
    return OpenSetGuard(labels, pathological, min(conf, 0.5), GROUPS, STD_GROUPS, classes)


def guard_cost(guard: OpenSetGuard, X: np.ndarray, y: np.ndarray, probs: np.ndarray,
               labels: Sequence[str], pathological: Sequence[str], known: np.ndarray | None = None) -> dict:
    """What the guard does on labelled windows: pathological windows the model got right that
    it withholds (recall cost), and normal windows called pathological that it withholds
    (false calls stopped). ``known``: the guard's mask if the caller already has it."""
    labels = list(labels)
    path_idx = np.array([labels.index(p) for p in pathological])
    known = guard.known_mask(X, probs) if known is None else np.asarray(known, dtype=bool)
    pred = np.argmax(probs, axis=1)
    true_path = np.isin(y, path_idx)
    pred_path = np.isin(pred, path_idx)
    hits = true_path & pred_path
    false_calls = ~true_path & pred_path
    return {
        "windows": int(len(y)),
        "withheld": int((~known).sum()),
        "pathological_hits": int(hits.sum()),
        "pathological_hits_withheld": int((hits & ~known).sum()),
        "recall_cost": float((hits & ~known).sum() / max(int(true_path.sum()), 1)),
        "normal_called_pathological": int(false_calls.sum()),
        "normal_called_pathological_withheld": int((false_calls & ~known).sum()),
    }


def int8_posteriors(bundle, X: np.ndarray) -> np.ndarray:
    """The bundle's int8 model's posteriors for windows ``X`` (n × frames × bands)."""
    from edge.inference import Int8Classifier

    return Int8Classifier(bundle).predict_many(X)


def add_open_set(bundle_dir, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray,
                 y_val: np.ndarray) -> OpenSetGuard:
    """Calibrate the guard for the bundle in ``bundle_dir`` and add ``open_set.json`` to it
    (listed with its SHA-256 in the manifest's ``files``, so the loader verifies it)."""
    import json
    from pathlib import Path

    from convert.export import update_manifest
    from edge.bundle import load_bundle, sha256_file
    from edge.runtime.openset import OPEN_SET_FILE

    out = Path(bundle_dir)
    bundle = load_bundle(out)
    guard = fit_open_set(X_train, y_train, X_val, y_val, int8_posteriors(bundle, X_val), bundle.labels,
                         sorted(bundle.pathological, key=bundle.labels.index))
    path = out / OPEN_SET_FILE
    path.write_text(json.dumps(guard.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
    files = dict(bundle.manifest["files"])
    files[OPEN_SET_FILE] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    update_manifest(out, files=files)
    return guard
