"""Class prior of the window call: the model's posteriors re-weighted before anything decides.

The recipe trains with class weighting (``convert.train``), so the model's posteriors are those
of a world in which every class is equally likely. A needle examination is not that world: a
voluntary contraction fills much of it (the motor unit half of the examination), while each
kind of spontaneous discharge is rare; and the error the kit must not make is the one in that
gap, a patient's contraction called pathological (``real-emg.md`` §1). Bayes' rule with the
prior changed by a factor ``w_c`` per class (Saerens, Latinne & Decaestecker, Neural Comput
2002;14:21 — adjusting a classifier's outputs to new priors) gives the posterior the device
decides on::

    p'_c = w_c · p_c / Σ_k w_k · p_k

A bundle states its weights in the manifest (``decision_prior.weights``: label → factor,
0.01–100; labels it does not name keep 1); a bundle without the key is unchanged (all 1). The
call is then ``argmax_c p'_c``: with ``voluntary_muap`` at 4 (the recipe's,
:data:`convert.train.VOLUNTARY_WEIGHT`) a window is called pathological only where the model
finds that class more than 4 times as likely as voluntary activity. The pipeline applies it
right after the open-set guard (which judges the model's own posteriors, as it was calibrated
on them), so the rhythm check, smoothing, alerts and the evaluation's window figures
(``convert.evaluate``) all decide on the same posteriors.

Float64 on the dequantised posteriors (a decision, not a signal stage a firmware port must
reproduce bit for bit); the weights are validated when a bundle is loaded
(:func:`edge.bundle.load_bundle`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["ClassPrior", "MIN_WEIGHT", "MAX_WEIGHT", "check_weights"]

MIN_WEIGHT, MAX_WEIGHT = 0.01, 100.0


def check_weights(weights: Any, labels: Sequence[str]) -> dict[str, float]:
    """``weights`` (label → factor) checked against ``labels``: a ValueError names a label
    that is not the bundle's or a factor that is not a number in 0.01–100."""
    if not isinstance(weights, Mapping):
        raise ValueError(f"decision_prior.weights must map labels to factors, got {type(weights).__name__}")
    known = set(labels)
    out = {}
    for label, w in weights.items():
        if label not in known:
            raise ValueError(f"decision_prior.weights: {label!r} is not one of the bundle's labels")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) \
                or not MIN_WEIGHT <= w <= MAX_WEIGHT:
            raise ValueError(f"decision_prior.weights[{label!r}] = {w!r}: allowed range is "
                             f"{MIN_WEIGHT:g}..{MAX_WEIGHT:g}")
        out[str(label)] = float(w)
    return out


@dataclass(frozen=True)
class ClassPrior:
    """Per-class factors in the bundle's label order (module docstring)."""

    labels: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def from_weights(cls, labels: Sequence[str], weights: Mapping[str, float] | None) -> "ClassPrior":
        """From label → factor (labels not named keep 1); ValueError as :func:`check_weights`."""
        w = check_weights(weights or {}, labels)
        return cls(tuple(labels), tuple(w.get(label, 1.0) for label in labels))

    @classmethod
    def for_bundle(cls, bundle: Any) -> "ClassPrior":
        """The prior a bundle's manifest states (all 1 when it states none)."""
        block = bundle.manifest.get("decision_prior") or {}
        return cls.from_weights(bundle.labels, block.get("weights"))

    @property
    def is_identity(self) -> bool:
        return all(w == 1.0 for w in self.weights)

    def named(self) -> dict[str, float]:
        """The factors other than 1, label → factor (what a manifest or a report states)."""
        return {lab: w for lab, w in zip(self.labels, self.weights) if w != 1.0}

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Posteriors (one window, or windows × classes) under the prior: each row re-weighted
        and normalised to sum 1 (a row of zeros stays zeros). Float64; the input is not changed."""
        p = np.asarray(probs, dtype=np.float64)
        if self.is_identity:
            return p.copy()
        q = p * np.asarray(self.weights, dtype=np.float64)
        s = q.sum(axis=-1, keepdims=True)
        return np.divide(q, s, out=np.zeros_like(q), where=s > 0)
