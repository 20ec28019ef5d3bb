"""The learned MUAP pattern model on the device: a recording's voluntary windows → a pattern.

A pattern bundle (manifest ``task == "muap_pattern"``, labels ``normal``, ``neurogenic``,
``myopathic``; trained by ``emg-convert train-pattern``, :mod:`convert.pattern_model`) is a
small full-int8 LiteRT classifier on the detector's own integer log-Mel windows. This module
runs it the way the device runs the detector, numpy and LiteRT only:

    int16 samples at the source's µV/LSB
      → :class:`edge.runtime.feature_chain.FeatureChain`, the live pipeline's own chain:
        :class:`edge.calibration.Calibrator` (Q16 gain to the bundle's ``input.uv_per_lsb``)
      → :class:`edge.resample.StreamResampler` (to the bundle's rate; int16, round half to
        even, saturate)
      → :class:`edge.frontend.Frontend` (int16 features, LSB = 1/64 dB)
      → :class:`edge.runtime.windows.WindowAssembler` (the bundle's window and hop, frames)
      → :class:`edge.inference.Int8Classifier` (feature→int8 rule, int8 model, int8 output
        dequantised to probabilities)

The stream is fed in blocks of :data:`BLOCK_S` seconds, so memory stays flat on long input;
the resampler is flushed at the end (the offline ``edge.resample.resample`` is exactly
stream + flush), so the windows equal the training side's windows bit for bit.

Aggregation per recording: the mean of the window probabilities (each window counts once);
the call is its arg-max. With no complete window (input shorter than one window, 1.015 s at
44.1 kHz for the shipped bundle) the call is ``indeterminate`` with the reason.

Trained on simulated voluntary activity only (concentric needle; :mod:`convert.simulator`):
see docs/QEMG.md for its measured figures and limits. Like :mod:`edge.quant.pattern`, its
output is a pattern, never a diagnosis (:data:`edge.quant.pattern.NOT_A_DIAGNOSIS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from edge.bundle import Bundle, BundleError, load_bundle
from edge.quant.pattern import INDETERMINATE, NOT_A_DIAGNOSIS

#: Manifest ``task`` of a pattern bundle, and its class order.
TASK = "muap_pattern"
PATTERN_LABELS = ("normal", "neurogenic", "myopathic")
#: Shipped pattern bundle (``edge/bundles/muap_pattern``).
SHIPPED_NAME = "muap_pattern"
#: Source block length fed through the chain at a time, s (bounds memory, not results).
BLOCK_S = 1.0

__all__ = ["PatternModel", "PatternCall", "TASK", "PATTERN_LABELS", "load_pattern_bundle"]


def load_pattern_bundle(name_or_path: str | Path = SHIPPED_NAME) -> Bundle:
    """Load and validate a pattern bundle (:func:`edge.bundle.load_bundle` plus the task and labels)."""
    bundle = load_bundle(name_or_path)
    task = bundle.manifest.get("task")
    if task != TASK:
        raise BundleError(f"bundle {bundle.path}: task is {task!r}, expected {TASK!r} (a MUAP pattern bundle "
                          "from emg-convert train-pattern)")
    if tuple(bundle.labels) != PATTERN_LABELS:
        raise BundleError(f"bundle {bundle.path}: labels {list(bundle.labels)} must be {list(PATTERN_LABELS)}")
    return bundle


@dataclass(frozen=True)
class PatternCall:
    """The model's pattern for one recording.

    ``label``: ``normal``, ``neurogenic``, ``myopathic`` or ``indeterminate``.
    ``probabilities``: mean window probability per class (sums to ~1; empty if indeterminate).
    ``n_windows``: windows classified; ``window_votes``: windows whose arg-max is each class.
    ``reason``: why the call is indeterminate (None otherwise). ``note``: the fixed wording.
    """

    label: str
    probabilities: dict = field(default_factory=dict)
    n_windows: int = 0
    window_votes: dict = field(default_factory=dict)
    reason: str | None = None
    model_id: str = ""
    note: str = NOT_A_DIAGNOSIS

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
                "n_windows": self.n_windows, "window_votes": dict(self.window_votes), "reason": self.reason,
                "model_id": self.model_id, "trained_on": "simulated voluntary activity only", "note": self.note}


class PatternModel:
    """``PatternModel().classify(pcm, sample_rate, uv_per_lsb)`` → :class:`PatternCall`.

    ``bundle``: a pattern bundle directory or shipped name (default ``muap_pattern``), or a
    loaded :class:`edge.bundle.Bundle`. ``xnnpack=False``: built-in kernels (bit-exact).
    """

    def __init__(self, bundle: str | Path | Bundle = SHIPPED_NAME, xnnpack: bool = False) -> None:
        from edge.inference import Int8Classifier

        self.bundle = bundle if isinstance(bundle, Bundle) else load_pattern_bundle(bundle)
        self.classifier = Int8Classifier(self.bundle, xnnpack=xnnpack)

    def windows(self, pcm: np.ndarray, sample_rate: int, uv_per_lsb: float) -> Iterator[np.ndarray]:
        """Front-end windows ``(window_frames, n_mels)`` of int16 ``pcm`` (``sample_rate`` Hz,
        ``uv_per_lsb`` µV per LSB), in order, through the chain in the module docstring."""
        from edge.runtime.feature_chain import FeatureChain

        b = self.bundle
        pcm = np.asarray(pcm)
        if pcm.ndim != 1 or pcm.dtype != np.int16:
            raise ValueError(f"pcm must be 1-D int16 samples, got {pcm.dtype} with shape {pcm.shape}")
        rate = int(sample_rate)
        if rate < b.min_sample_rate:
            raise ValueError(f"sample_rate {rate} Hz is below the pattern bundle's minimum {b.min_sample_rate} Hz")
        chain = FeatureChain(b, rate, uv_per_lsb)
        step = max(1, int(BLOCK_S * rate))
        for i in range(0, len(pcm), step):
            for _, w in chain.process(pcm[i:i + step])[1]:
                yield w
        for _, w in chain.flush():
            yield w

    def window_probabilities(self, pcm: np.ndarray, sample_rate: int, uv_per_lsb: float) -> np.ndarray:
        """``(n_windows, 3)`` int8-model probabilities, :data:`PATTERN_LABELS` order."""
        probs = [self.classifier.predict(w) for w in self.windows(pcm, sample_rate, uv_per_lsb)]
        return np.stack(probs) if probs else np.zeros((0, len(PATTERN_LABELS)), np.float32)

    def classify(self, pcm: np.ndarray, sample_rate: int, uv_per_lsb: float) -> PatternCall:
        """The recording's pattern: mean window probabilities, arg-max (see module docstring)."""
        return aggregate(self.window_probabilities(pcm, sample_rate, uv_per_lsb), self.bundle.model_id,
                         self.bundle.window_s)


def aggregate(probs: np.ndarray, model_id: str = "", window_s: float = 1.0) -> PatternCall:
    """Window probabilities ``(n, 3)`` → the recording's :class:`PatternCall` (mean, arg-max)."""
    probs = np.asarray(probs, np.float64)
    if len(probs) == 0:
        return PatternCall(INDETERMINATE, reason=f"no complete {window_s:g} s window: the recording is too short",
                           model_id=model_id)
    mean = probs.mean(axis=0)
    votes = np.bincount(probs.argmax(axis=1), minlength=len(PATTERN_LABELS))
    return PatternCall(PATTERN_LABELS[int(np.argmax(mean))],
                       {k: float(p) for k, p in zip(PATTERN_LABELS, mean)}, int(len(probs)),
                       {k: int(v) for k, v in zip(PATTERN_LABELS, votes)}, None, model_id)
