"""Open-set guard: a window unlike anything the model was trained on raises no pathological alert.

A classifier trained on twelve classes answers one of them for any input, often with high
confidence: real voluntary contraction unlike the simulated kind was called a complex
repetitive discharge at 0.9–1.0 (``real-emg.md`` §1). The guard checks every window the model
calls pathological against what that class looked like in training, and lets the call
through only if it is typical. Two tests, both calibrated on held-out windows when the bundle
is built (:mod:`convert.openset`) and stored in the bundle file ``open_set.json``:

1. **Confidence**: the maximum posterior is below ``min_confidence``.
2. **Typicality**: the window's *summary vector* is further from the predicted class's
   training windows than ``max_distance[class]`` (Mahalanobis distance). The summary of a
   window of front-end features ``F`` (frames × bands, 1/64 dB) is, in dB:

   * the mean over frames of ``groups`` equal groups of adjacent Mel bands (the spectrum's
     level and shape; level is meaningful because samples are calibrated to the bundle's
     µV per LSB before the front-end), then
   * the standard deviation over frames of ``std_groups`` equal band groups (how impulsive or
     steady the window is).

   ``distance = ||L⁻¹ (s − mean)||₂`` with ``L`` the Cholesky factor of the class covariance;
   the file stores ``L⁻¹`` (lower triangular) row-major. Computed in float64: the guard is
   a decision threshold, not a signal stage a firmware port must match bit for bit.

A window that fails either test is *unknown*: it is counted, and the detector sees it with no
pathological evidence (its pathological posteriors are moved to the normal classes in
proportion, or to ``rest`` when the model gave normal classes nothing). Windows called normal
are never tested: the guard exists to stop false alarms, and costs recall only on pathology
unlike its training examples (measured in the model card).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: Bundle file holding the guard's calibration.
OPEN_SET_FILE = "open_set.json"
OPEN_SET_VERSION = 1
#: Front-end feature units per dB (edge/FRONTEND.md: int16 features in 1/64 dB).
_FEATURE_PER_DB = 64.0


def summary_vector(window: np.ndarray, groups: int, std_groups: int) -> np.ndarray:
    """Summary of one window (frames × bands features, 1/64 dB) or a batch (n × frames × bands):
    ``groups`` band-group means then ``std_groups`` band-group temporal standard deviations, dB."""
    x = np.asarray(window, dtype=np.float64) / _FEATURE_PER_DB
    single = x.ndim == 2
    if single:
        x = x[None]
    n, _, bands = x.shape
    if bands % groups or bands % std_groups:
        raise ValueError(f"{bands} bands do not split into {groups} and {std_groups} equal groups")
    means = x.mean(axis=1).reshape(n, groups, bands // groups).mean(axis=2)
    grouped = x.reshape(n, x.shape[1], std_groups, bands // std_groups).mean(axis=3)
    stds = grouped.std(axis=1)
    out = np.concatenate([means, stds], axis=1)
    return out[0] if single else out


@dataclass(frozen=True)
class ClassModel:
    """Training distribution of one class's summary vectors: mean (dB) and ``L⁻¹``."""

    mean: np.ndarray
    inv_chol: np.ndarray
    max_distance: float

    def distance(self, s: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of summary vector(s) ``s`` (…, d) to this class."""
        return np.linalg.norm((np.asarray(s) - self.mean) @ self.inv_chol.T, axis=-1)


class OpenSetGuard:
    """Checks pathological calls (see module docstring). ``labels`` in model output order."""

    def __init__(self, labels: Sequence[str], pathological: Sequence[str], min_confidence: float,
                 groups: int, std_groups: int, classes: dict[str, ClassModel]) -> None:
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f"open set min_confidence = {min_confidence}: allowed range is 0..<1")
        unknown = set(classes) - set(labels)
        if unknown:
            raise ValueError(f"open set names classes the bundle does not have: {sorted(unknown)}")
        self.labels = tuple(labels)
        self.min_confidence = float(min_confidence)
        self.groups, self.std_groups = int(groups), int(std_groups)
        self._path = np.array([lab in set(pathological) for lab in self.labels])
        self._models = {self.labels.index(k): v for k, v in classes.items()}
        self._rest = self.labels.index("rest") if "rest" in self.labels else int(np.argmin(self._path))

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict, labels: Sequence[str], pathological: Sequence[str]) -> "OpenSetGuard":
        if d.get("version") != OPEN_SET_VERSION:
            raise ValueError(f"open set version {d.get('version')!r}: this runtime reads version {OPEN_SET_VERSION}")
        dim = int(d["groups"]) + int(d["std_groups"])
        classes = {}
        for name, c in d["classes"].items():
            mean = np.asarray(c["mean"], dtype=np.float64)
            inv = np.asarray(c["inv_chol"], dtype=np.float64)
            if mean.shape != (dim,) or inv.shape != (dim, dim) or not np.all(np.isfinite(inv)):
                raise ValueError(f"open set class {name!r}: mean must have {dim} values and inv_chol {dim}×{dim}")
            classes[name] = ClassModel(mean, inv, float(c["max_distance"]))
        return cls(labels, pathological, float(d["min_confidence"]), int(d["groups"]), int(d["std_groups"]), classes)

    def to_dict(self) -> dict:
        return {
            "version": OPEN_SET_VERSION,
            "min_confidence": self.min_confidence,
            "groups": self.groups,
            "std_groups": self.std_groups,
            "classes": {self.labels[i]: {"mean": [round(float(v), 6) for v in m.mean],
                                         "inv_chol": [[round(float(v), 6) for v in row] for row in m.inv_chol],
                                         "max_distance": round(m.max_distance, 6)}
                        for i, m in sorted(self._models.items())},
        }

    # -- use --------------------------------------------------------------------------------
    def is_known(self, window: np.ndarray, probs: np.ndarray) -> bool:
        """True when the window may keep its call: normal, or pathological and typical."""
        k = int(np.argmax(probs))
        if not self._path[k]:
            return True
        if float(probs[k]) < self.min_confidence:
            return False
        model = self._models.get(k)
        if model is None:
            return True
        s = summary_vector(window, self.groups, self.std_groups)
        return bool(model.distance(s) <= model.max_distance)

    def known_mask(self, windows: np.ndarray, probs: np.ndarray, batch: int = 1024) -> np.ndarray:
        """:meth:`is_known` for a batch (n × frames × bands, n × classes), vectorised in chunks
        of ``batch`` windows (the summary is computed in float64)."""
        probs = np.asarray(probs)
        k = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, np.int64)
        ok = ~self._path[k]
        conf = probs[np.arange(len(k)), k] >= self.min_confidence
        typical = np.ones(len(k), dtype=bool)
        for i0 in range(0, len(k), batch):
            kk = k[i0:i0 + batch]
            tested = [c for c in self._models if np.any(kk == c)]
            if not tested:
                continue
            s = summary_vector(windows[i0:i0 + batch], self.groups, self.std_groups)
            for cls_idx in tested:
                sel = kk == cls_idx
                typical[i0:i0 + batch][sel] = self._models[cls_idx].distance(s[sel]) <= self._models[cls_idx].max_distance
        return ok | (conf & typical)

    def withhold_many(self, probs: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Posteriors of a batch after the guard: :meth:`withhold` where ``known`` is False."""
        out = np.array(probs, dtype=np.float64, copy=True)
        for i in np.flatnonzero(~np.asarray(known)):
            out[i] = self.withhold(out[i])
        return out

    def withhold(self, probs: np.ndarray) -> np.ndarray:
        """The posterior an unknown window passes on: no pathological evidence."""
        p = np.asarray(probs, dtype=np.float64).copy()
        p[self._path] = 0.0
        total = p.sum()
        if total <= 1e-9:
            p[:] = 0.0
            p[self._rest] = 1.0
            return p
        return p / total


def load_guard(bundle: Any) -> OpenSetGuard | None:
    """The bundle's guard, or None for a bundle built without one (``open_set.json`` absent).

    The file is listed in the manifest's ``files`` and so verified by its SHA-256 when the
    bundle is loaded (:func:`edge.bundle.load_bundle`).
    """
    path = Path(bundle.path) / OPEN_SET_FILE
    if OPEN_SET_FILE not in bundle.manifest.get("files", {}) or not path.is_file():
        return None
    from edge.bundle import BundleError

    try:
        return OpenSetGuard.from_dict(json.loads(path.read_text(encoding="utf-8")), bundle.labels,
                                      sorted(bundle.pathological))
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: open-set guard unreadable ({exc}); rebuild the bundle") from None
