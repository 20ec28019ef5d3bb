"""The runtime's collaborators, by role: what the service loop needs from each, and nothing more.

These are :class:`typing.Protocol` classes (structural types): an implementation does not
inherit from them, it only has the members. The service never probes a collaborator for a
member (no ``hasattr``/``getattr``); what a collaborator can do is said by its type, and the
code that opens a source says whether it is also an alert channel
(:class:`edge.runtime.sources.OpenedSource`).

* :class:`SampleSource`: ``sample_rate`` (Hz), ``uv_per_lsb`` (µV/LSB; None or 0 = unknown),
  ``read_block(timeout)``, ``close()``. ``SerialLink``, ``AdcSource``, ``WavSource``.
* :class:`AlertChannel`: ``send_alert(Alert)``, ``acked_alerts()``. ``SerialLink``.
* :class:`LinkSource`: both (the source is also the way back). ``SerialLink``.
* :class:`FeatureFrontend`: ``dtype``, ``kernel``, ``process(pcm)``, ``reset()``.
  ``edge.frontend.Frontend``.
* :class:`Classifier`: ``predict(window) -> probabilities``. ``edge.inference.Int8Classifier``.

Alert outputs (JSON lines, the wire, later sinks) are listeners: :mod:`edge.runtime.delivery`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from firmware_bridge.host.source import SampleBlock, SampleSource

if TYPE_CHECKING:  # the frame class is only named in signatures here
    from firmware_bridge.codec.frames import Alert

__all__ = ["SampleBlock", "SampleSource", "AlertChannel", "LinkSource", "FeatureFrontend", "Classifier"]


class AlertChannel(Protocol):
    """The way back to the amplifier: ALERT frames out, ACKed alert ids in.

    The channel retransmits an alert until its id is ACKed; sending an id again replaces the
    pending copy (same id = same alert), so the outbox can re-send after a restart.
    """

    def send_alert(self, alert: Alert) -> None:
        """Queue ``alert`` for (re)transmission until the unit ACKs its ``alert_id``."""
        ...

    def acked_alerts(self) -> list[int]:
        """Alert ids the unit ACKed since the last call, each once."""
        ...


class LinkSource(SampleSource, AlertChannel, Protocol):
    """A source that is also the alert channel (the serial link to the amplifier)."""


class FeatureFrontend(Protocol):
    """Streaming features: any chunking of the samples gives the frames of one whole call."""

    #: numpy dtype of the features (``edge.frontend.FEATURE_DTYPE``: int16, 1/64 dB).
    dtype: type
    #: Which evaluation computes them, for the start-up log ("c", "numpy", or a name).
    kernel: str

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """int16 samples at the bundle's rate → (new frames, n_mels) features."""
        ...

    def reset(self) -> None:
        """Forget buffered samples (a new stream segment starts)."""
        ...


class Classifier(Protocol):
    """One analysis window of features → class probabilities in the bundle's label order."""

    def predict(self, window: np.ndarray) -> np.ndarray:
        ...
