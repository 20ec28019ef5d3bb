"""Start-up of a run, as the service logs it: the calibration of the source to the bundle's
µV per LSB (and its changes by the unit's HELLO), and which compiled accelerators are in use.

Raises :class:`~clikit.UserError` (exit 2) for a scale the operator gave wrongly or did not
give under ``--strict``, and :class:`~edge.runtime.sources.SourceFault` (exit 1, restarted) for
a scale the unit stated that the calibration cannot apply.
"""

from __future__ import annotations

import logging

from clikit import UserError

from edge.bundle import Bundle
from edge.runtime.pipeline import Pipeline
from edge.runtime.reader import source_scale
from edge.runtime.roles import FeatureFrontend
from edge.runtime.sources import OpenedSource, SourceFault
from edge.runtime.summary import RunSummary

log = logging.getLogger("emg-edge")


def calibrate(pipe: Pipeline, opened: OpenedSource, bundle: Bundle, summary: RunSummary,
              strict: bool) -> float | None:
    """Set the pipeline's calibration from the source's scale at start-up; log it. The source's
    µV/LSB, or None when it does not say (samples used at the bundle's scale, with a warning)."""
    uv = source_scale(opened.source)
    summary.bundle_uv_per_lsb = pipe.bundle_uv_per_lsb
    if uv is None:
        if strict:
            raise UserError(f"{opened.name} does not say its µV per LSB and --strict is set: {opened.scale_hint}")
        log.warning("calibration: %s does not say its µV per LSB: using its samples as if they were at the "
                    "bundle's %g µV/LSB (%s, or --strict to refuse)%s", opened.name, pipe.bundle_uv_per_lsb,
                    opened.scale_hint, "; polarity inverted" if pipe.calibrator.config.invert else "")
        return None
    set_scale(pipe, uv, opened.scale_origin, bundle, summary, from_unit=opened.from_unit)
    return uv


def set_scale(pipe: Pipeline, uv: float, how: str, bundle: Bundle, summary: RunSummary,
              from_unit: bool = False) -> None:
    """Apply a source scale (µV/LSB) from the next sample on and log the gain; ``how`` says where
    the scale came from."""
    try:
        pipe.set_source_scale(uv)
    except ValueError as exc:
        if from_unit:
            raise SourceFault(f"calibration refused: {exc} ({how})") from None
        raise UserError(f"calibration refused: {exc}") from None
    cfg = pipe.calibrator.config
    assumed = " (assumed: its manifest predates input.uv_per_lsb)" if bundle.uv_per_lsb_assumed else ""
    log.info("calibration: source %g µV/LSB (%s) → bundle %g µV/LSB%s (%+.1f dB, Q16 gain %d)%s", uv, how,
             cfg.target_uv_per_lsb, assumed, cfg.gain_db, cfg.gain_q16,
             "; polarity inverted" if cfg.invert else "")
    summary.source_uv_per_lsb = uv


def frontend_kind(frontend: FeatureFrontend) -> str:
    """Which evaluation of the front-end spec runs (the compiled kernel or the numpy code)."""
    return {"c": "compiled C kernel", "numpy": "numpy (the compiled kernel is not in use)"}.get(
        frontend.kernel, frontend.kernel)


def cobs_kind() -> str:
    """Whether the bridge decodes COBS with the firmware's compiled C codec."""
    from firmware_bridge.codec import cobs

    return "compiled (firmware C codec)" if cobs.ACCELERATED else "Python (firmware_bridge.codec._ccodec not built)"
