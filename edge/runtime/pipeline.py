"""The processing chain of one stream: samples → calibration → (resampler) → front-end →
windows → classifier → (open-set guard) → (class prior) → (rhythm check) → decision stage
(smoothing → event detector, :mod:`edge.runtime.decision`) → :class:`~edge.runtime.detector.Detection`.

Calibration (:mod:`edge.calibration`) re-expresses the source's int16 samples at the bundle's
µV per LSB (and negates them for ``invert``) before anything filters them; it is the identity
until :meth:`Pipeline.set_source_scale` is given a scale other than the bundle's.

No threads, no I/O: :meth:`Pipeline.feed` takes a :class:`~firmware_bridge.host.source.SampleBlock`
and returns the detections it confirms, in the *source's* sample-index domain.

Index bookkeeping. A *segment* is a run of the stream processed without reset; it starts at
source index ``anchor``. Model-rate sample ``k`` of the segment is source index
``anchor + k * source_rate / model_rate`` (the resampler is zero-phase, so this is exact).
Front-end frame ``f`` covers model samples ``[f * hop_length, f * hop_length + frame_length)``.

Gaps (missing samples per the amplifier's counter): up to ``max_gap_fill_s`` are filled with
zeros so timing stays exact; a longer gap, or the counter going backwards (amplifier reset),
ends the segment: front-end, windows, smoothing and open episodes are reset and a new segment
is anchored at the next block.

:attr:`Pipeline.tap` (optional, set by the service: :class:`edge.runtime.qemg_stretches.StretchTracker`)
sees what the chain sees: each block of calibrated samples with the source index of its first
sample, each window's posteriors and span, and each new segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.runtime.config import RuntimeConfig
from edge.runtime.decision import DecisionStage
from edge.runtime.detector import Detection
from edge.runtime.feature_chain import FeatureChain
from edge.runtime.prior import ClassPrior
from edge.runtime.rhythm import IRREGULAR, RhythmGuard
from firmware_bridge.host.gaps import index_step


@dataclass
class PipelineCounters:
    samples: int = 0  # source samples consumed
    windows: int = 0  # windows classified
    gap_samples: int = 0  # samples missing per the source's counter
    filled_samples: int = 0  # of which replaced by zeros
    segments: int = 0  # stream segments (1 + resets after long gaps or rewinds)
    duplicate_samples: int = 0  # samples dropped because their index was already processed
    saturated_samples: int = 0  # samples the calibration gain pushed beyond int16 (clamped)
    unknown_windows: int = 0  # pathological calls the open-set guard withheld (edge.runtime.openset)
    irregular_windows: int = 0  # calls the rhythm check withheld (edge.runtime.rhythm)
    prior_windows: int = 0  # pathological calls the class prior turned into normal ones (edge.runtime.prior)


class Pipeline:
    """One stream through the detection chain.

    ``bundle`` needs ``labels``, ``pathological``, ``frontend_config``, ``window_frames``,
    ``hop_frames``, ``sample_rate`` (and ``uv_per_lsb``, µV/LSB, 0.5 if absent);
    ``classifier.predict(window) -> probs``; ``frontend`` (optional) overrides
    ``edge.frontend.Frontend(bundle.frontend_config)``. ``source_uv_per_lsb`` (µV/LSB, None =
    unknown: used as the bundle's) and ``invert`` set the calibration stage. ``guard``
    (:class:`edge.runtime.openset.OpenSetGuard`, optional) checks every pathological call.
    ``decision`` (optional) is the smoothing + detection stage, by default
    ``DecisionStage.for_bundle(bundle, config, source_rate)``.
    """

    def __init__(self, bundle: Any, classifier: Any, config: RuntimeConfig, source_rate: int,
                 frontend: Any = None, source_uv_per_lsb: float | None = None, invert: bool = False,
                 guard: Any = None, decision: DecisionStage | None = None) -> None:
        self.bundle = bundle
        self.classifier = classifier
        self.config = config
        self.source_rate = int(source_rate)
        self.model_rate = int(bundle.sample_rate)
        self.hop_length = int(bundle.frontend_config.hop_length)
        self.bundle_uv_per_lsb = float(bundle.uv_per_lsb)
        self.guard = guard
        #: The bundle's class prior (edge.runtime.prior), applied to every window's posteriors
        #: after the open-set guard (which judges the model's own); None = none stated, or
        #: ``class_prior`` off.
        prior = ClassPrior.for_bundle(bundle) if config.class_prior else None
        self.prior = None if prior is None or prior.is_identity else prior
        self._pathological = np.array([lab in bundle.pathological for lab in bundle.labels])
        self.features = FeatureChain(bundle, self.source_rate, source_uv_per_lsb, invert, frontend)
        #: The rhythm check (edge.runtime.rhythm) of calls of regularly firing classes; None = off.
        self.rhythm = RhythmGuard(bundle.labels, sorted(bundle.pathological), self.source_rate) \
            if config.rhythm_check else None
        self.decision = decision if decision is not None else DecisionStage.for_bundle(
            bundle, config, self.source_rate)
        self._ratio = self.source_rate / self.model_rate
        self.window_model_samples = bundle.window_span_samples
        # Window and hop in source samples (the detector's domain).
        self.window_samples = self.decision.window_samples
        self.hop_samples = self.decision.hop_samples
        self._max_fill = int(round(config.max_gap_fill_s * self.source_rate))
        self.counters = PipelineCounters()
        self._anchor: int | None = None  # source index where the current segment starts
        self._next: int | None = None  # next expected source index
        #: Observer of samples(first_index, calibrated), window(probs, start, end) and reset()
        #: (the QEMG stretch tracker); None = none.
        self.tap: Any = None

    @property
    def window_s(self) -> float:
        """Analysis window length in seconds."""
        return self.window_model_samples / self.model_rate

    # The feature chain's stages, for start-up logging and tests.
    @property
    def frontend(self) -> Any:
        return self.features.frontend

    @property
    def calibrator(self) -> Any:
        return self.features.calibrator

    @property
    def resampler(self) -> Any:
        return self.features.resampler

    def set_source_scale(self, uv_per_lsb: float) -> None:
        """The source's µV per LSB from the next sample on (ValueError outside the gain range)."""
        self.features.set_source_scale(uv_per_lsb)

    def _new_segment(self, first_index: int) -> None:
        if self._anchor is not None:
            self.features.reset()
            self.decision.reset()
            if self.tap is not None:
                self.tap.reset()
        self._anchor = first_index
        self._next = first_index
        self.counters.segments += 1

    def feed(self, block: Any) -> list[Detection]:
        """Process one block (``first_index``, int16 ``samples``); return confirmed detections.

        Where the block stands (new, after a gap, duplicate, restart) is the sources' own rule,
        :func:`firmware_bridge.host.gaps.index_step`; a block wholly more than one window behind
        is a restart of the amplifier's counter. This only chooses zero-fill or a new segment.
        """
        samples = np.asarray(block.samples)
        step = index_step(self._next, int(block.first_index), int(samples.size), rewind_restart=self.window_samples)
        samples = samples[step.skip:]
        self.counters.duplicate_samples += step.skip
        self.counters.gap_samples += step.gap
        if step.start or step.gap > self._max_fill:
            self._new_segment(step.first_index)
        elif step.gap:
            self.counters.filled_samples += step.gap
            return self._process(np.zeros(step.gap, dtype=np.int16)) + self._process(samples)
        return self._process(samples)

    def _process(self, samples: np.ndarray) -> list[Detection]:
        if samples.size == 0:
            return []
        first = self._next
        self._next += int(samples.size)
        self.counters.samples += int(samples.size)
        saturated = self.features.saturated
        samples, windows = self.features.process(samples)  # calibrated: at the bundle's µV/LSB
        self.counters.saturated_samples += self.features.saturated - saturated
        if self.tap is not None:
            self.tap.samples(first, samples)
        if self.rhythm is not None:
            self.rhythm.samples(first, samples)
        out: list[Detection] = []
        for first_frame, window in windows:
            start_m = first_frame * self.hop_length
            end_m = start_m + self.window_model_samples
            start = self._anchor + int(round(start_m * self._ratio))
            end = self._anchor + int(round(end_m * self._ratio))
            probs = np.asarray(self.classifier.predict(window), dtype=np.float64)
            if self.guard is not None and not self.guard.is_known(window, probs):
                self.counters.unknown_windows += 1
                probs = self.guard.withhold(probs)  # counted, and no pathological evidence
            if self.prior is not None:
                was = int(np.argmax(probs))
                probs = self.prior.apply(probs)  # the decision's posteriors (the guard judges the model's)
                if self._pathological[was] and not self._pathological[int(np.argmax(probs))]:
                    self.counters.prior_windows += 1  # counted like the guard's and the check's
            if self.rhythm is not None and self.rhythm.check(probs, end) == IRREGULAR:
                self.counters.irregular_windows += 1
                probs = self.rhythm.withhold(probs)  # counted; the signal's rhythm contradicts the call
            self.counters.windows += 1
            out.extend(self.decision.process(probs, start, end))
            if self.tap is not None:
                self.tap.window(probs, start, end)
        return out
