"""EDF/EDF+/BDF files and WFDB records: one channel, read in blocks, with its physical scale.

Shared by the runtime's ``edf:`` and ``wfdb:`` sources (:class:`RecordSource`) and by
``convert.recordings`` (training and evaluation), so both take µV per LSB from a header by
the same rule. The readers come from the optional ``io`` extra (``pyedflib``, ``wfdb``); a
missing one is a one-line :class:`~clikit.UserError` naming the extra.

Scale: a header gives, per channel, physical µV = digital × ``uv_per_step`` + ``offset_uv``:

* **EDF/BDF**: ``uv_per_step`` = (physical max − min) / (digital max − min) in the signal's
  dimension (µV, mV, V), ``offset_uv`` = physical min − digital min × ``uv_per_step``;
* **WFDB**: ``uv_per_step`` = unit / ``adc_gain`` (gain 0 means WFDB's default 200),
  ``offset_uv`` = −baseline × ``uv_per_step``.

The int16 samples are the physical signal at ``uv_per_lsb`` = ``uv_per_step`` × 2^(bits − 16)
when the ADC has more than 16 bits (so the int16 spans the ADC's range; 24-bit BDF, 24-bit
WFDB formats), else ``uv_per_step``; a caller's ``uv_per_lsb`` re-expresses the physical
signal in its own scale instead. Conversion (:func:`uv_to_int16`) rounds half to even and
saturates at −32768..32767.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clikit import UserError
from firmware_bridge.host.source import FileReplay
from firmware_bridge.host.wavfile import MAX_RATE_HZ, MIN_RATE_HZ, round_to_int16

__all__ = ["RecordError", "ChannelScale", "EdfChannel", "WfdbChannel", "RecordSource", "import_io_extra",
           "open_channel", "uv_to_int16", "IO_HINT"]


IO_HINT = "install the 'io' extra: pip install 'emg-edge-kit[io]'"

#: Physical units → µV.
UNIT_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
           "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3, "v": 1e6, "volt": 1e6, "volts": 1e6,
           "nv": 1e-3}
#: ADC bits of a WFDB storage format when the header gives no ``adc_res``.
WFDB_FORMAT_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12,
                    "310": 10, "311": 10, "508": 8, "516": 16, "524": 24}
#: Samples a reader fetches at once for a paced source (WFDB re-reads its header on every
#: call, about 1.4 ms here, so 10 ms blocks are served from a larger read).
READ_AHEAD = 1 << 16


class RecordError(ValueError):
    """An EDF/BDF file or WFDB record that cannot be read or used; one line naming the file."""


def import_io_extra(module: str, what: str) -> Any:
    """Import ``pyedflib`` or ``wfdb``; a missing one is a one-line UserError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{what} needs the {module} package; {IO_HINT}") from None


def uv_to_int16(x_uv: np.ndarray, uv_per_lsb: float) -> tuple[np.ndarray, int]:
    """Physical µV → ``(int16 at uv_per_lsb µV per LSB, number saturated)``; half to even."""
    return round_to_int16(np.asarray(x_uv, dtype=np.float64) / uv_per_lsb)


def unit_to_uv(unit: str, path: Path, what: str) -> float:
    """µV in one ``unit`` (uV, mV, V, nV; any case); RecordError naming ``what`` otherwise."""
    key = (unit or "").strip().lower()
    if key not in UNIT_UV:
        raise RecordError(f"{path}: {what} has unit {unit!r}; expected uV, mV or V")
    return UNIT_UV[key]


def whole_rate(rate: float, path: Path) -> int:
    """``rate`` (Hz) as an int; RecordError when it is not a whole, positive number of Hz."""
    r = int(round(rate))
    if r <= 0 or abs(rate - r) > 1e-6 * max(1.0, rate):
        raise RecordError(f"{path}: sample rate {rate} Hz is not a whole number of Hz")
    return r


def pick_channel(names: list[str], channel: int | str, path: Path) -> int:
    """Index of ``channel`` (an index or a name) among ``names``; RecordError naming the file."""
    if isinstance(channel, str):
        if channel not in names:
            raise RecordError(f"{path}: no channel named {channel!r}; channels: {', '.join(names)}")
        return names.index(channel)
    if not (0 <= channel < len(names)):
        raise RecordError(f"{path}: channel {channel} requested; the file has {len(names)} channel(s)")
    return int(channel)


@dataclass(frozen=True)
class ChannelScale:
    """physical µV = digital × ``uv_per_step`` + ``offset_uv``; ``bits`` of the ADC."""

    uv_per_step: float
    offset_uv: float
    bits: int

    @property
    def uv_per_lsb(self) -> float:
        """µV per LSB of the int16 samples: one ADC step, times 2^(bits − 16) past 16 bits."""
        return abs(self.uv_per_step) * 2.0 ** max(0, self.bits - 16)

    def to_uv(self, digital: np.ndarray) -> np.ndarray:
        return np.asarray(digital, dtype=np.float64) * self.uv_per_step + self.offset_uv


class _Channel:
    """What both readers expose: ``path``, ``sample_rate`` (Hz), ``n_samples``, ``channels``
    (in the file), ``name``, ``units``, ``format``, ``scale`` and ``read(start, n)`` → digital."""

    path: Path
    sample_rate: int
    n_samples: int
    channels: int
    name: str
    units: str
    format: str
    scale: ChannelScale
    #: ``uv_per_lsb_source`` of a recording read with the header's scale.
    origin: str

    def read(self, start: int, n: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EdfChannel(_Channel):
    """One signal of an EDF/EDF+/BDF file open for block reads (``pyedflib.EdfReader``).

    A file pyedflib cannot open (truncated, malformed) or a signal whose ranges are not finite
    or empty raises :class:`RecordError`; ``channel`` is an index or a label.
    """

    origin = "edf-header"

    def __init__(self, path: str | Path, channel: int | str = 0) -> None:
        pyedflib = import_io_extra("pyedflib", "reading EDF/BDF")
        self.path = Path(path)
        try:
            self._f = pyedflib.EdfReader(str(self.path))
        except OSError as exc:
            raise RecordError(f"{self.path}: cannot read EDF ({exc}); the file may be truncated") from None
        try:
            labels = list(self._f.getSignalLabels())
            self.channels = len(labels)
            self._i = pick_channel(labels, channel, self.path)
            h = self._f.getSignalHeader(self._i)
            self.sample_rate = whole_rate(self._f.getSampleFrequency(self._i), self.path)
            self.n_samples = int(self._f.getNSamples()[self._i])
            self.name, self.units = h["label"], h["dimension"]
            self.scale = self._scale(h)
            self.format = "bdf" if self.scale.bits > 16 else "edf"
        except BaseException:
            self.close()
            raise

    def _scale(self, h: dict) -> ChannelScale:
        to_uv = unit_to_uv(h["dimension"], self.path, f"signal {h['label']!r}")
        dmin, dmax, pmin, pmax = h["digital_min"], h["digital_max"], h["physical_min"], h["physical_max"]
        if not all(math.isfinite(float(v)) and abs(float(v)) < 1e30 for v in (dmin, dmax, pmin, pmax)):
            raise RecordError(f"{self.path}: signal {h['label']!r} has a physical or digital range that is not a "
                              f"finite number (physical {pmin}..{pmax}, digital {dmin}..{dmax})")
        if dmax <= dmin or pmax == pmin:
            raise RecordError(f"{self.path}: signal {h['label']!r} has an empty physical or digital range")
        step = (pmax - pmin) / (dmax - dmin) * to_uv  # µV per digital step
        return ChannelScale(step, pmin * to_uv - dmin * step, int(np.ceil(np.log2(dmax - dmin + 1))))

    def read(self, start: int, n: int) -> np.ndarray:
        n = max(0, min(int(n), self.n_samples - int(start)))  # pyedflib pads a read past the end
        if n == 0:
            return np.zeros(0, np.int32)
        return self._f.readSignal(self._i, int(start), n, digital=True)

    def close(self) -> None:
        f, self._f = getattr(self, "_f", None), None
        if f is not None:
            f.close()


class WfdbChannel(_Channel):
    """One signal of a WFDB record (``.hea`` path or record name) for block reads (``wfdb``).

    The last sample is read at construction, so a signal file shorter than its header says is
    refused here (:class:`RecordError`, "truncated"), not midway.
    """

    origin = "wfdb-header"

    def __init__(self, path: str | Path, channel: int | str = 0) -> None:
        self._wfdb = import_io_extra("wfdb", "reading WFDB")
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self._record = str(self.path.with_suffix("")) if suffix in (".hea", ".dat") else str(self.path)
        try:
            h = self._wfdb.rdheader(self._record)
            names = list(h.sig_name or [])
            self.channels = len(names)
            self._i = pick_channel(names, channel, self.path)
            self.n_samples = int(h.sig_len or 0)
            self._whole: np.ndarray | None = None
            if not self.n_samples:  # a header without the length: the signal file says it, read once
                self._whole = self._wfdb.rdrecord(self._record, channels=[self._i], physical=False).d_signal[:, 0]
                self.n_samples = int(self._whole.size)
            elif self.read(self.n_samples - 1, 1).size < 1:
                raise ValueError("signal file too short")
        except (RecordError, FileNotFoundError):
            raise
        except Exception as exc:  # wfdb raises assorted errors for truncated or malformed files
            raise RecordError(f"{self.path}: cannot read WFDB record, truncated or malformed ({exc})") from None
        i = self._i
        self.name, self.units, self.format = names[i], h.units[i], f"wfdb-{h.fmt[i]}"
        self.sample_rate = whole_rate(float(h.fs), self.path)
        gain = float(h.adc_gain[i]) or 200.0  # WFDB: gain 0 means the default 200 per unit
        step = unit_to_uv(self.units, self.path, f"channel {self.name!r}") / gain
        bits = int(h.adc_res[i] or 0) or WFDB_FORMAT_BITS.get(str(h.fmt[i]), 16)
        self.scale = ChannelScale(step, -float(h.baseline[i]) * step, bits)

    def read(self, start: int, n: int) -> np.ndarray:
        n = max(0, min(int(n), self.n_samples - int(start)))
        if n == 0:
            return np.zeros(0, np.int64)
        if self._whole is not None:
            return self._whole[int(start):int(start) + n]
        rec = self._wfdb.rdrecord(self._record, sampfrom=int(start), sampto=int(start) + n, channels=[self._i],
                                  physical=False)
        return rec.d_signal[:, 0]


def open_channel(path: str | Path, channel: int | str = 0) -> EdfChannel | WfdbChannel:
    """The reader for ``path`` by its suffix: ``.edf``/``.bdf`` → EDF, anything else → WFDB."""
    path = Path(path)
    if path.suffix.lower() in (".edf", ".bdf"):
        return EdfChannel(path, channel)
    return WfdbChannel(path, channel)


class RecordSource(FileReplay):
    """One channel of an EDF/BDF file or WFDB record as a sample source, paced like ``WavSource``.

    Streams: reads :data:`READ_AHEAD` samples at a time (never the whole file) and hands out
    ``block`` samples (int16 at ``uv_per_lsb`` µV per LSB, :func:`uv_to_int16`) at ``speed``
    (1.0 real time, ``None`` as fast as read). ``uv_per_lsb``: the argument (the physical
    signal re-expressed in it) or the header's (:class:`ChannelScale`); ``uv_per_lsb_source``
    says which. A sample rate outside :data:`MIN_RATE_HZ`..:data:`MAX_RATE_HZ` is refused.
    """

    def __init__(self, reader: EdfChannel | WfdbChannel, speed: float | None = 1.0, block: int = 441, *,
                 uv_per_lsb: float | None = None) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1 sample, got {block}")
        if uv_per_lsb is not None and not uv_per_lsb > 0:
            raise ValueError(f"uv_per_lsb must be > 0 µV/LSB, got {uv_per_lsb}")
        self.reader = reader
        self.path = reader.path
        if not MIN_RATE_HZ <= reader.sample_rate <= MAX_RATE_HZ:
            reader.close()
            raise RecordError(f"{self.path}: sample rate {reader.sample_rate} Hz is outside "
                              f"{MIN_RATE_HZ}..{MAX_RATE_HZ} Hz")
        self.sample_rate: int = reader.sample_rate
        self.n_samples: int = reader.n_samples
        self.channels: int = reader.channels
        self.uv_per_lsb: float = float(uv_per_lsb) if uv_per_lsb is not None else reader.scale.uv_per_lsb
        self.uv_per_lsb_source = "parameter" if uv_per_lsb is not None else reader.origin
        self._buf = np.zeros(0, np.int16)
        self._buf_start = 0
        self._start(speed, block)

    def _samples(self, start: int, n: int) -> np.ndarray:
        at = start - self._buf_start
        if at + n > self._buf.size:  # served from READ_AHEAD-sample reads
            d = self.reader.read(start, max(n, READ_AHEAD))
            self._buf, _ = uv_to_int16(self.reader.scale.to_uv(d), self.uv_per_lsb)
            self._buf_start, at = start, 0
        return self._buf[at:at + n].copy()

    def _release(self) -> None:
        self.reader.close()
