"""The feature chain: a source's int16 samples → the model's front-end windows.

Config: a bundle (``uv_per_lsb``, ``sample_rate``, ``frontend_config``, ``window_frames``,
``hop_frames``), the source's rate (Hz), its µV per LSB (None = unknown: taken as the bundle's)
and polarity. State: the four stages in the order the device runs them —

1. calibration (:class:`edge.calibration.Calibrator`): samples re-expressed at the bundle's
   µV per LSB, before any filtering, saturating to int16 (counted in ``saturated``);
2. resampling (:class:`edge.resample.StreamResampler`) when the source rate is not the
   bundle's;
3. the integer log-Mel front-end (:class:`edge.frontend.Frontend`);
4. window assembly (:class:`edge.runtime.windows.WindowAssembler`): ``window_frames`` frames
   every ``hop_frames``.

Process: :meth:`FeatureChain.process` takes the next samples and returns the calibrated
samples and the windows they complete, each with its first frame index (model samples =
frame index × ``hop_length``). :meth:`flush` pushes the resampler's tail through at the end of
a finite input; :meth:`reset` starts a new segment (after a gap).

The live :class:`edge.runtime.pipeline.Pipeline` and the QEMG pattern model
(:mod:`edge.quant.pattern_model`) both run this class, so a recording's windows are the
device's by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.runtime.windows import WindowAssembler


class FeatureChain:
    """Calibration → resampler → front-end → windows for one stream (module docstring).

    ``frontend`` (optional) overrides ``edge.frontend.Frontend(bundle.frontend_config)``.
    Raises ValueError when the source scale is outside the calibration's gain range.
    """

    def __init__(self, bundle: Any, source_rate: int, source_uv_per_lsb: float | None = None,
                 invert: bool = False, frontend: Any = None) -> None:
        from edge.calibration import CalibrationConfig, Calibrator

        fcfg = bundle.frontend_config
        if frontend is None:
            from edge.frontend import Frontend

            frontend = Frontend(fcfg)
        self.frontend = frontend
        self.source_rate = int(source_rate)
        self.model_rate = int(bundle.sample_rate)
        bundle_scale = float(bundle.uv_per_lsb)
        self.calibrator = Calibrator(CalibrationConfig(bundle_scale, bundle_scale, invert))
        if source_uv_per_lsb is not None:
            self.calibrator.set_source(source_uv_per_lsb)
        self.resampler = None
        if self.source_rate != self.model_rate:
            from edge.resample import StreamResampler

            self.resampler = StreamResampler(self.source_rate, self.model_rate)
        self.windows = WindowAssembler(int(bundle.window_frames), int(bundle.hop_frames), int(fcfg.n_mels),
                                       frontend.dtype)

    @property
    def saturated(self) -> int:
        """Samples the calibration gain has clamped to int16 so far."""
        return self.calibrator.saturated

    def set_source_scale(self, uv_per_lsb: float) -> None:
        """The source's µV per LSB from the next sample on (ValueError outside the gain range)."""
        self.calibrator.set_source(uv_per_lsb)

    def process(self, samples: np.ndarray) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
        """int16 ``samples`` → (the calibrated samples, ``[(first_frame, window), …]`` completed)."""
        calibrated = self.calibrator.process(samples)
        x = self.resampler.process(calibrated) if self.resampler is not None else calibrated
        return calibrated, list(self.windows.push(self.frontend.process(x)))

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """The windows the resampler's buffered tail completes (end of a finite input)."""
        if self.resampler is None:
            return []
        return list(self.windows.push(self.frontend.process(self.resampler.flush())))

    def reset(self) -> None:
        """A new segment: forget front-end, window and resampler history (not the calibration)."""
        self.frontend.reset()
        self.windows.reset()
        if self.resampler is not None:
            self.resampler.reset()
