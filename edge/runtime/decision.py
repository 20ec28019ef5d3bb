"""The decision stage: window posteriors → smoothing → event detector → detections.

Config: the ``smoothing*``, ``require_argmax``, ``exclusive``, ``relabel_windows``,
``relabel_confident``, ``alert_normal`` and rule fields
of :class:`~edge.runtime.config.RuntimeConfig`. State: a :class:`PosteriorSmoother` (a ring of
``smoothing_windows`` posterior vectors) and an :class:`EventDetector` (a fixed state per
alerting class). Process: :meth:`DecisionStage.process` takes one window's posteriors (after the
open-set guard, float, shape ``(n_classes,)``, summing to 1) and its span ``[start, end)`` in
stream samples, and returns the :class:`Detection` s that window confirms.

The live pipeline (:class:`edge.runtime.pipeline.Pipeline`) and the detection evaluation
(:mod:`convert.detection_eval`, which replays recorded posteriors) both run this class, so a
replay is the live decision by construction.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from edge.runtime.config import RuntimeConfig
from edge.runtime.detector import Detection, EventDetector, rules_for
from edge.runtime.smoothing import PosteriorSmoother


class DecisionStage:
    """Smoother and event detector for one stream.

    ``labels``/``pathological``: the bundle's classes; ``sample_rate`` (Hz) is the stream's,
    and ``window_samples``/``hop_samples`` the analysis window and hop in its samples (the
    detector's time domain). Raises ValueError when ``config`` names classes the bundle lacks.
    """

    def __init__(self, config: RuntimeConfig, labels: Sequence[str], pathological: Sequence[str],
                 sample_rate: int, window_samples: int, hop_samples: int) -> None:
        self.config = config
        self.window_samples = int(window_samples)
        self.hop_samples = int(hop_samples)
        self.smoother = PosteriorSmoother(len(labels), config.smoothing, config.smoothing_windows,
                                          config.ema_alpha)
        config.check_labels(labels)
        self.detector = EventDetector(
            labels, set(pathological), rules_for(config, labels, pathological),
            sample_rate=sample_rate, window_samples=self.window_samples, hop_samples=self.hop_samples,
            require_argmax=config.require_argmax, exclusive=config.exclusive,
            relabel_windows=config.relabel_windows, relabel_confident=config.relabel_confident,
        )

    @classmethod
    def for_bundle(cls, bundle: Any, config: RuntimeConfig, source_rate: int) -> "DecisionStage":
        """The stage for ``bundle``'s windows on a stream at ``source_rate`` Hz: window and hop
        converted from model samples (``bundle.sample_rate``) and rounded to source samples."""
        ratio = int(source_rate) / int(bundle.sample_rate)
        window = int(round(bundle.window_span_samples * ratio))
        hop = max(1, int(round(int(bundle.hop_frames) * int(bundle.frontend_config.hop_length) * ratio)))
        return cls(config, bundle.labels, bundle.pathological, int(source_rate), window, hop)

    def reset(self) -> None:
        """Forget smoothing history and close open episodes without alerting (new segment)."""
        self.smoother.reset()
        self.detector.reset()

    def process(self, posteriors: np.ndarray, start: int, end: int) -> list[Detection]:
        """One window's posteriors and span ``[start, end)`` (stream samples) → the detections
        it confirms."""
        return self.detector.update(self.smoother.update(posteriors), posteriors, start, end)
