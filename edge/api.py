"""Embedding API: the detector inside a device maker's own program, in a few lines.

    import numpy as np
    from edge import Detector

    det = Detector("default", sample_rate=10_000, uv_per_lsb=0.25)   # shipped bundle, your ADC
    for block in my_adc_blocks():                  # int16 samples, any block size
        for d in det.feed(block):
            print(f"{d.label} at {d.onset / det.sample_rate:.2f} s ({d.confidence:.2f})")
    print(det.counters)                            # windows, gaps, saturation, withheld calls

With ``qemg=True`` the voluntary stretches are also quantified (motor unit potentials, firing,
the rule-based and learned pattern: :mod:`edge.runtime.qemg_summaries`), on a background worker
so ``feed`` never waits for it: ``det.summaries()`` returns the stretch summaries finished so far,
``det.close()`` ends the stream and returns the rest.

It is the same chain as ``emg-edge run`` (calibration → resampler → integer log-Mel front-end →
int8 LiteRT → open-set guard → smoothing and event detection, :class:`edge.runtime.pipeline.
Pipeline`) without threads, I/O, outbox or wire: what to do with a detection is the caller's.
Sample indices in a :class:`~edge.runtime.detector.Detection` count from the first sample fed,
at ``sample_rate`` (Hz). Not thread-safe: feed from one thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from edge.bundle import Bundle, load_bundle
from edge.runtime.config import RuntimeConfig
from edge.runtime.detector import Detection
from edge.runtime.pipeline import Pipeline, PipelineCounters
from edge.runtime.qemg_stretches import QemgConfig
from edge.runtime.qemg_summaries import QemgRun, StretchSummary
from edge.runtime.roles import SampleBlock


class Detector:
    """Detect pathological needle-EMG activity in a stream of int16 samples.

    ``bundle``: a shipped name (``"default"``) or a bundle directory; ``sample_rate``: Hz of
    the samples you feed (at least the bundle's ``min_sample_rate``); ``uv_per_lsb``: µV at the
    electrode per LSB of your samples (None = assume the bundle's own scale; amplitudes then are
    only right if that is true); ``invert``: negate samples (polarity); ``config``: a
    :class:`RuntimeConfig`, a TOML path or None for the defaults; ``trusted_keys``: trust store
    directory for signed bundles (:mod:`edge.signature`); ``num_threads``: LiteRT threads;
    ``qemg``: quantify voluntary stretches (True for the defaults, or a :class:`QemgConfig`; the
    bundle must have the ``voluntary_muap`` class).
    """

    def __init__(self, bundle: str | Path | Bundle = "default", *, sample_rate: int,
                 uv_per_lsb: float | None = None, invert: bool = False,
                 config: RuntimeConfig | str | Path | None = None,
                 trusted_keys: str | Path | None = None, num_threads: int = 1,
                 qemg: bool | QemgConfig = False) -> None:
        from edge.inference import Int8Classifier
        from edge.runtime.openset import load_guard

        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, trusted_keys=trusted_keys)
        if isinstance(config, RuntimeConfig):
            self.config = config
        else:
            self.config = RuntimeConfig() if config is None else RuntimeConfig.from_toml(config)
        self.config.check_labels(tuple(self.bundle.labels))
        if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or \
                not self.bundle.min_sample_rate <= sample_rate <= 1_000_000:
            raise ValueError(f"sample_rate={sample_rate!r} must be an integer number of Hz in "
                             f"{self.bundle.min_sample_rate}..1000000 for bundle {self.bundle.model_id}")
        guard = load_guard(self.bundle) if self.config.open_set else None
        self._pipeline = Pipeline(self.bundle, Int8Classifier(self.bundle, num_threads=num_threads), self.config,
                                  sample_rate, source_uv_per_lsb=uv_per_lsb, invert=invert, guard=guard)
        self.sample_rate = sample_rate
        self._next = 0
        self._qemg: QemgRun | None = None
        if qemg:
            from clikit import UserError

            cfg = qemg if isinstance(qemg, QemgConfig) else QemgConfig()
            try:  # the run's own checks: the bundle has the stretch class, the muscle has a reference row
                self._qemg = QemgRun.for_run(True, cfg, self._pipeline, sample_rate)
            except UserError as exc:
                raise ValueError(str(exc)) from None

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in the model's order."""
        return tuple(self.bundle.labels)

    @property
    def counters(self) -> PipelineCounters:
        """Samples, windows, gaps, saturated samples and withheld calls so far."""
        return self._pipeline.counters

    def set_uv_per_lsb(self, uv_per_lsb: float) -> None:
        """The scale of the samples fed from now on (µV/LSB), e.g. after a gain change."""
        self._pipeline.set_source_scale(uv_per_lsb)

    def feed(self, samples: Sequence[int] | np.ndarray) -> list[Detection]:
        """Process the next contiguous int16 samples; the detections they confirm."""
        x = np.asarray(samples)
        if x.ndim != 1:
            raise ValueError(f"samples must be 1-D, got shape {x.shape}")
        if x.size == 0:
            return []
        if x.dtype != np.int16:
            if not np.issubdtype(x.dtype, np.integer) or x.min() < -32768 or x.max() > 32767:
                raise ValueError("samples must be int16 values (-32768..32767); scale floats with uv_per_lsb")
            x = x.astype(np.int16)
        block = SampleBlock(first_index=self._next, samples=x)
        self._next += int(x.size)
        return self._pipeline.feed(block)

    def summaries(self) -> list[StretchSummary]:
        """QEMG stretch summaries finished since the last call (empty without ``qemg``)."""
        out: list[StretchSummary] = []
        if self._qemg is not None:
            self._qemg.poll(out.append)
        return out

    def close(self) -> list[StretchSummary]:
        """End of the stream: the open voluntary stretch is closed and quantified (waiting up to
        the config's ``drain_s``); returns the summaries not yet returned. Feed nothing after."""
        out: list[StretchSummary] = []
        if self._qemg is not None:
            self._qemg.finish(out.append, ended=True)
            self._qemg = None
        return out
