"""What a run is given (:class:`RuntimeOptions`) and how names become objects: a config file
→ :class:`~edge.runtime.config.RuntimeConfig`, a bundle name or directory → a validated
:class:`~edge.bundle.Bundle` and its open-set guard (refusals become :class:`~clikit.UserError`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from clikit import UserError

from edge.bundle import Bundle, BundleError, load_bundle
from edge.runtime.alerts import AlertRecord
from edge.runtime.config import RuntimeConfig
from edge.runtime.delivery import AcknowledgingOutput, AlertListener
from edge.runtime.openset import OpenSetGuard, load_guard
from edge.runtime.qemg_stretches import QemgConfig
from edge.runtime.roles import Classifier, FeatureFrontend, SampleSource
from edge.runtime.sources import OpenedSource, SourceSpec

log = logging.getLogger("emg-edge")


@dataclass
class RuntimeOptions:
    """What :func:`run` needs.

    ``source``: a source string, a :class:`SourceSpec`, an :class:`OpenedSource` (an open
    source and, if it has one, its alert channel) or an open :class:`SampleSource` (no channel).
    ``speed``: WAV pacing (1.0 real time, N× faster, ``None`` as fast as possible).
    ``alerts_jsonl``: file path, ``"-"`` for stdout, ``None`` for no JSON-lines output.
    ``listeners``/``on_alert``: more alert outputs (:mod:`edge.runtime.delivery`); ``outputs``:
    more acknowledging ones (delivered on their acknowledgement; the config's ``[fleet]`` adds MQTT).
    ``outbox``: SQLite file; ``None`` keeps it in memory (not durable: use a file in service).
    ``classifier``/``frontend``: default the bundle's int8 model and ``edge.frontend.Frontend``.
    ``stop_event``: set it to stop the service from another thread. ``drain_s``: how long to
    wait for outstanding ACKs when the stream ends or on stop. ``strict``: refuse (UserError) a
    source whose µV per LSB is unknown instead of warning.
    ``qemg``: quantify voluntary stretches while running (:mod:`edge.runtime.qemg_summaries`):
    None = when the bundle has the ``voluntary_muap`` class, True = required, False = off;
    ``qemg_config``: stretch lengths, queue, muscle, pattern model (range-checked there);
    ``summary_listeners``: more outputs of the stretch summaries (``on_summary``, ``close``).
    """

    bundle: Bundle | str | Path = "default"
    source: str | SourceSpec | OpenedSource | SampleSource | None = None
    config: RuntimeConfig | str | Path | None = None
    speed: float | None = 1.0
    alerts_jsonl: str | Path | None = None
    outbox: str | Path | None = None
    xnnpack: bool = False
    num_threads: int = 1
    stats_every_s: float | None = None
    on_alert: Callable[[AlertRecord], None] | None = None
    listeners: list[AlertListener] = field(default_factory=list)
    outputs: list[AcknowledgingOutput] = field(default_factory=list)
    stop_event: threading.Event | None = None
    classifier: Classifier | None = None
    frontend: FeatureFrontend | None = None
    install_signal_handlers: bool = True
    drain_s: float = 3.0
    give_up_s: float | None = None
    link_kwargs: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    #: Trust store of bundle-signing public keys (edge.signature); None = EMG_EDGE_TRUSTED_KEYS
    #: or /etc/emg-edge/trusted-keys when present, else no signature check.
    trusted_keys: str | Path | None = None
    qemg: bool | None = None
    qemg_config: QemgConfig = field(default_factory=QemgConfig)
    summary_listeners: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.qemg not in (None, True, False):
            raise ValueError(f"RuntimeOptions.qemg = {self.qemg!r}: must be None (auto), True or False")
        if not isinstance(self.qemg_config, QemgConfig):
            raise ValueError(f"RuntimeOptions.qemg_config must be a QemgConfig, got {type(self.qemg_config).__name__}")


def load_config(config: RuntimeConfig | str | Path | None) -> RuntimeConfig:
    if config is None:
        return RuntimeConfig()
    if isinstance(config, RuntimeConfig):
        return config
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    return RuntimeConfig.from_toml(path)


def load_bundle_checked(bundle: Bundle | str | Path, trusted_keys: str | Path | None = None) -> Bundle:
    """A bundle name/path → validated, authenticated :class:`edge.bundle.Bundle` (its provenance
    logged: pinned, signed by which key, or unsigned); refusals become UserError."""
    if isinstance(bundle, Bundle):
        return bundle
    try:
        b = load_bundle(bundle, trusted_keys=trusted_keys)
    except BundleError as exc:
        raise UserError(f"bundle refused: {exc}") from None
    log.info("bundle %s: %s", b.model_id, b.provenance)
    return b


def load_guard_checked(bundle: Bundle) -> OpenSetGuard | None:
    """The bundle's open-set guard (None if it has none); an unreadable one is a UserError."""
    try:
        guard = load_guard(bundle)
    except BundleError as exc:
        raise UserError(f"bundle refused: {exc}") from None
    log.info("open-set guard: %s", "on" if guard is not None else "this bundle has none")
    return guard
