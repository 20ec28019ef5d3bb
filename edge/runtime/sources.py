"""Source strings → firmware_bridge sample sources, with retry, and the rate policy.

Source strings (``--source``)::

    serial:/dev/ttyACM0?baud=3000000      any pyserial URL (device path, pty path, loop://,
    serial:socket://host:7000              socket://, rfc2217://...); ``baud`` defaults to
                                           3 000 000; ``baud`` and ``invert`` are removed
                                           before pyserial sees the URL
    alsa:hw:1,0?rate=48000&uv_per_lsb=0.6  ALSA/PortAudio input (needs the ``adc`` extra);
    alsa:default                           ``rate`` defaults to the bundle's rate, also
                                           ``channel``, ``channels``
    wav:recording.wav?uv_per_lsb=0.5       a WAV file (8/16/24/32-bit integer, 32/64-bit
                                           float) replayed at ``--speed``; also ``channel``
    edf:recording.edf?channel=2            one signal of an EDF/EDF+/BDF file (index or
                                           label), streamed in blocks (needs the ``io`` extra)
    wfdb:records/emg01?channel=0           one signal of a WFDB record (name or ``.hea``
                                           path), streamed in blocks (``io`` extra)

Scale (µV per LSB, the runtime calibrates it to the bundle's, :mod:`edge.calibration`): a
serial unit states it in its HELLO; ALSA only through ``?uv_per_lsb=``; a WAV file through
``?uv_per_lsb=``, else its ``LIST/INFO`` comment ``uv_per_lsb=`` (``convert`` writes it), in
µV per int16 step, i.e. per 1/32768 of full scale whatever the bit depth (a float file's 1.0
is 32768 steps: :mod:`firmware_bridge.host.wavfile`); EDF and WFDB through their header's
physical units (:mod:`firmware_bridge.host.physio`, the same rule as ``convert``), or
``?uv_per_lsb=``, which re-expresses the physical signal in that scale. Otherwise it is
unknown: the runtime warns and uses the samples as they are, or refuses with ``--strict``.
``invert=1`` (every kind) negates the samples (reversed electrodes).

A serial port that is missing, busy or lost is reopened by
:class:`firmware_bridge.host.link.SerialLink` (backoff up to 0.5 s); until the unit's HELLO arrives
the wait is logged with a doubling interval (1 s … 30 s) until it appears or the service is
stopped (looked at every :data:`STOP_POLL_S` s, so a stop is honoured at once).

What the unit states is not the operator's to fix: a stream the runtime cannot use because of
it (a rate below the bundle's, a µV per LSB outside the calibration range) is a
:class:`SourceFault` (exit 1: systemd restarts the service and the unit may have changed),
never a :class:`~clikit.UserError` (exit 2, which the unit file does not restart).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl

from clikit import UserError

from edge.runtime.roles import AlertChannel, LinkSource, SampleSource

if TYPE_CHECKING:
    from firmware_bridge.host.link import SerialLink

DEFAULT_BAUD = 3_000_000
KINDS = ("serial", "alsa", "wav", "edf", "wfdb")
#: Kinds that replay a file (finite, paced by ``--speed``) rather than stream a unit.
FILE_KINDS = ("wav", "edf", "wfdb")
#: Seconds between looks at the stop request while waiting for the unit's HELLO.
STOP_POLL_S = 0.1


class SourceFault(RuntimeError):
    """The source (the unit or the line) makes the run impossible for now: one line, exit 1."""

log = logging.getLogger("emg-edge")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--source``: ``kind`` (serial, alsa, wav, edf, wfdb), ``target`` and its parameters."""

    kind: str
    target: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """True for amplifier/ADC streams (run until stopped), False for files."""
        return self.kind not in FILE_KINDS

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"


    @property
    def invert(self) -> bool:
        """``?invert=1``: negate the samples (polarity)."""
        return self.params.get("invert", "0") == "1"

    @property
    def uv_per_lsb(self) -> float | None:
        """``?uv_per_lsb=`` in µV per LSB, or None when the string does not give it."""
        return float(self.params["uv_per_lsb"]) if "uv_per_lsb" in self.params else None


_ALLOWED = {
    "serial": {"baud", "invert"},
    "alsa": {"rate", "uv_per_lsb", "channel", "channels", "block", "invert"},
    "wav": {"uv_per_lsb", "channel", "invert"},
    "edf": {"uv_per_lsb", "channel", "invert"},
    "wfdb": {"uv_per_lsb", "channel", "invert"},
}
_BOOL = {"1": "1", "true": "1", "yes": "1", "0": "0", "false": "0", "no": "0"}


def parse_source(text: str) -> SourceSpec:
    """Parse ``serial:URL?baud=N``, ``alsa:DEVICE[?...]``, ``wav:FILE[?...]``, ``edf:FILE[?...]`` or
    ``wfdb:RECORD[?...]``."""
    kind, sep, rest = str(text).partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS or not rest:
        raise UserError(
            f"source {text!r} not understood: use serial:URL?baud=N (e.g. serial:/dev/ttyACM0?baud=3000000), "
            "alsa:DEVICE, wav:FILE, edf:FILE or wfdb:RECORD"
        )
    target, params = rest, {}
    if "?" in rest:
        base, _, query = rest.rpartition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        ours = [(k, v) for k, v in pairs if k in _ALLOWED[kind]]
        theirs = [(k, v) for k, v in pairs if k not in _ALLOWED[kind]]
        if kind != "serial" and theirs:
            raise UserError(
                f"source {text!r}: unknown parameter(s) {', '.join(k for k, _ in theirs)}; "
                f"allowed for {kind}: {', '.join(sorted(_ALLOWED[kind]))}"
            )
        params = dict(ours)
        # pyserial URLs may carry their own query (socket://h:p?logging=debug): keep it.
        target = base + ("?" + "&".join(f"{k}={v}" for k, v in theirs) if theirs else "")
    if not target:
        raise UserError(f"source {text!r} names no {kind} target")
    for key in ("baud", "rate", "channel", "channels", "block"):
        if key == "channel" and kind in ("edf", "wfdb") and not params.get(key, "0").lstrip("-").isdigit():
            continue  # an EDF/WFDB channel may be named by its label
        if key in params:
            try:
                value = int(params[key])
            except ValueError:
                raise UserError(f"source {text!r}: {key}={params[key]!r} must be an integer") from None
            if value < (0 if key == "channel" else 1):
                raise UserError(f"source {text!r}: {key}={value} must be positive")
    if "uv_per_lsb" in params:
        from edge.calibration import MAX_UV_PER_LSB, MIN_UV_PER_LSB

        try:
            uv = float(params["uv_per_lsb"])
        except ValueError:
            uv = -1.0
        if not MIN_UV_PER_LSB <= uv <= MAX_UV_PER_LSB:
            raise UserError(f"source {text!r}: uv_per_lsb={params['uv_per_lsb']!r} must be a number of µV/LSB "
                            f"in {MIN_UV_PER_LSB:g}..{MAX_UV_PER_LSB:g}")
    if "invert" in params:
        flag = _BOOL.get(params["invert"].strip().lower())
        if flag is None:
            raise UserError(f"source {text!r}: invert={params['invert']!r} must be 1 or 0")
        params["invert"] = flag
    return SourceSpec(kind, target, params)


def _no_errors() -> int:
    return 0


@dataclass(frozen=True)
class OpenedSource:
    """An open source and what the code that opened it knows about it.

    ``channel``: the way back to the amplifier when the source is one (the serial link), else
    None. ``name``: for messages ("source wav:x.wav"). ``scale_origin``: where the source's
    µV per LSB comes from (HELLO, WAV comment, ?uv_per_lsb=) and ``scale_hint``: what to do
    when it has none. ``n_samples``: a file's length (None for a stream) and ``file`` its
    name. ``crc_errors``: frames the link's decoder rejected so far.
    """

    source: SampleSource
    channel: AlertChannel | None = None
    name: str = "the source"
    invert: bool = False
    scale_origin: str = "?uv_per_lsb="
    scale_hint: str = "add ?uv_per_lsb=N (µV per LSB) to the source"
    n_samples: int | None = None
    file: str = "the WAV file"
    crc_errors: Callable[[], int] = _no_errors

    @property
    def from_unit(self) -> bool:
        """True when the rate and scale are the unit's own statement (its HELLO): refusing them is
        a :class:`SourceFault`, not the operator's error."""
        return self.channel is not None

    @classmethod
    def of_link(cls, link: LinkSource, **kw: Any) -> "OpenedSource":
        """A source that is also the alert channel (its type says so): one object, both roles."""
        return cls(link, channel=link, **kw)


def open_source(
    spec: SourceSpec,
    *,
    speed: float | None = 1.0,
    default_rate: int = 44100,
    stop: threading.Event | None = None,
    give_up_s: float | None = None,
    link_kwargs: dict[str, Any] | None = None,
) -> OpenedSource | None:
    """Open the source of ``spec``; serial ports are retried with backoff (``None`` if stopped).

    ``speed`` paces WAV replay (``None`` = as fast as possible); ``default_rate`` (Hz) is
    the ALSA capture rate when the source string gives none (the bundle's rate).
    """
    name = f"source {spec}"
    if spec.kind == "wav":
        from firmware_bridge.host.source import WavSource

        wav = WavSource(  # 10 ms blocks when paced like a unit; bigger when replaying flat out
            spec.target, speed=speed, block=441 if speed is not None else 4410,
            uv_per_lsb=spec.uv_per_lsb, channel=int(spec.params.get("channel", 0)),
        )
        origin = "WAV comment" if wav.uv_per_lsb_source == "wav-comment" else "?uv_per_lsb="
        return OpenedSource(wav, name=name, invert=spec.invert, scale_origin=origin, n_samples=wav.n_samples,
                            file=str(wav.path))
    if spec.kind in ("edf", "wfdb"):
        return _open_record(spec, speed, name)
    if spec.kind == "alsa":
        from firmware_bridge.host.adc import AdcConfig, AdcSource

        cfg = AdcConfig(
            device=None if spec.target == "default" else (int(spec.target) if spec.target.isdigit() else spec.target),
            sample_rate=int(spec.params.get("rate", default_rate)),
            uv_per_lsb=spec.uv_per_lsb,
            channel=int(spec.params.get("channel", 0)),
            channels=int(spec.params.get("channels", 1)),
            **({"block": int(spec.params["block"])} if "block" in spec.params else {}),
        )
        return OpenedSource(AdcSource(cfg), name=name, invert=spec.invert)
    link = _open_link(spec, stop, give_up_s, link_kwargs)
    if link is None:
        return None
    return OpenedSource.of_link(link, name=name, invert=spec.invert, scale_origin="HELLO",
                                scale_hint="the unit's HELLO gave none", crc_errors=lambda: link.stats.crc_errors)


def _open_record(spec: SourceSpec, speed: float | None, name: str) -> OpenedSource:
    """An EDF/BDF file or WFDB record, streamed by :class:`firmware_bridge.host.physio.RecordSource`."""
    from firmware_bridge.host.physio import EdfChannel, RecordSource, WfdbChannel

    channel: int | str = spec.params.get("channel", "0")
    channel = int(channel) if str(channel).isdigit() else channel
    if spec.kind == "edf":
        from pathlib import Path

        if not Path(spec.target).is_file():
            raise FileNotFoundError(f"no such EDF file: {spec.target}")
        reader = EdfChannel(spec.target, channel)
    else:
        reader = WfdbChannel(spec.target, channel)
    src = RecordSource(reader, speed=speed, block=441 if speed is not None else 4410, uv_per_lsb=spec.uv_per_lsb)
    origin = f"{spec.kind.upper()} header" if spec.uv_per_lsb is None else "?uv_per_lsb="
    return OpenedSource(src, name=name, invert=spec.invert, scale_origin=origin, n_samples=src.n_samples,
                        file=str(src.path))


def _open_link(spec: SourceSpec, stop: threading.Event | None, give_up_s: float | None,
               link_kwargs: dict[str, Any] | None) -> SerialLink | None:
    from firmware_bridge.host.link import SerialLink

    baud = int(spec.params.get("baud", DEFAULT_BAUD))
    # SerialLink reopens a missing or lost port itself (backoff up to 0.5 s) and resends
    # unacknowledged alerts; here we wait for the unit's HELLO, logging with our own backoff.
    link = SerialLink(spec.target, baudrate=baud, **dict(link_kwargs or {}))
    import time

    t0 = time.monotonic()
    attempt = 0
    report_at = t0 + 1.0
    while True:
        if stop is not None and stop.is_set():
            link.close()
            return None
        try:
            link.start(timeout=STOP_POLL_S)
            return link
        except TimeoutError:
            now = time.monotonic()
            elapsed = now - t0
            if give_up_s is not None and elapsed >= give_up_s:
                link.close()
                raise TimeoutError(f"no amplifier answered on {spec.target} within {elapsed:.0f} s") from None
            if now >= report_at:
                attempt += 1
                wait = min(30.0, 2.0 ** min(attempt, 5))
                report_at = now + wait
                log.warning("no amplifier on %s after %.0f s (port missing or unit silent); still trying, "
                            "next report in %.0f s", spec.target, elapsed, wait)
        except BaseException:
            link.close()
            raise


def check_rate(source_rate: int, bundle_rate: int, min_rate: int, what: str = "source",
               from_unit: bool = False) -> bool:
    """Apply the rate policy; True when the stream must be resampled to ``bundle_rate``.

    A rate below the bundle's ``min_rate`` is refused (the model's top Mel bands would be
    empty): a :class:`SourceFault` when the unit stated it (``from_unit``), else a UserError;
    any other mismatch is resampled (:mod:`edge.resample`) with a warning.
    """
    if source_rate < min_rate:
        raise (SourceFault if from_unit else UserError)(
            f"{what} delivers {source_rate} Hz but this bundle needs at least {min_rate} Hz "
            f"(it was trained at {bundle_rate} Hz): record or stream at {bundle_rate} Hz"
        )
    if source_rate != bundle_rate:
        log.warning(
            "%s delivers %d Hz, the bundle expects %d Hz: resampling (polyphase, edge.resample)",
            what, source_rate, bundle_rate,
        )
        return True
    return False
