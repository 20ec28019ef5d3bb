"""Read clinics' recordings (WAV, WFDB, EDF) into int16 :class:`~convert.recording.Recording`.

Every reader ends in the same place: one channel of int16 PCM with a recorded µV per LSB,
optionally resampled to a target rate with :mod:`edge.resample` (the device's resampler).

Scale (µV per LSB of the int16 result)
--------------------------------------
* **WAV** carries no physical unit. It is decoded by the kit's one WAV decoder,
  :class:`firmware_bridge.host.wavfile.WavFile` (the runtime's ``wav:`` source uses the same):
  8/16/24/32-bit integer and 32/64-bit float, as a fraction of full scale, and full scale
  maps to ±32768 LSB, so a 24-bit and a 16-bit file of the same signal give the same int16.
  µV per LSB (per int16 step, whatever the file's bit depth; a float file's 1.0 is 32768 of
  them) is, in order: the ``uv_per_lsb`` argument; the value :func:`write_wav` stores in
  the file's ``LIST/INFO/ICMT`` comment (``uv_per_lsb=0.5``); :data:`DEFAULT_WAV_UV_PER_LSB`
  (0.5 µV, the simulator's default amplifier, full scale ±16.4 mV).
  ``meta["uv_per_lsb_source"]`` says which. Sample rates outside
  :data:`firmware_bridge.host.wavfile.MIN_RATE_HZ`..``MAX_RATE_HZ`` are refused (the runtime's range).
* **WFDB** (``wfdb`` package): physical value = (digital − baseline) / adc_gain in the
  channel's units (µV, mV or V). µV per LSB = the µV of one ADC step, times 2^(bits − 16)
  when the ADC has more than 16 bits (so the int16 spans the ADC range).
* **EDF/BDF** (``pyedflib``): µV per digital step = (physical max − min) / (digital max −
  min) in the channel's dimension (µV, mV, V); widened by 2^(bits − 16) for 24-bit BDF.
* A caller's ``uv_per_lsb`` overrides all of these (the physical signal is re-expressed in it).

Conversion to int16 rounds half to even and saturates at ±32767/−32768; the number of
saturated samples is ``meta["clipped_samples"]``. Resampling happens after the conversion,
on int16, exactly as on the device.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np
from firmware_bridge.host.wavfile import WavFile, WavFormatError, fraction
from firmware_bridge.host.wavinfo import WAVE_PCM

from convert.recording import Recording

#: µV per LSB assumed for WAV files that do not say (matches the simulator's amplifier).
DEFAULT_WAV_UV_PER_LSB = 0.5
#: File extensions read as recordings (lower case).
RECORDING_EXTENSIONS = (".wav", ".hea", ".edf", ".bdf")

_UNIT_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
            "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3, "v": 1e6, "volt": 1e6, "volts": 1e6,
            "nv": 1e-3}


class RecordingError(ValueError):
    """A recording that cannot be read or used; the message names the file."""


# ---------------------------------------------------------------------------------------
# WAV: the kit's one decoder (firmware_bridge.host.wavfile), shared with the runtime's WavSource.
# ---------------------------------------------------------------------------------------

def _open_wav(path: Path) -> WavFile:
    try:
        return WavFile(path)
    except WavFormatError as exc:
        raise RecordingError(str(exc)) from None


def read_wav(path: str | os.PathLike, channel: int = 0) -> tuple[np.ndarray, int, dict]:
    """Read one channel of a WAV file as float64 fraction of full scale (−1 ≤ x < 1).

    Returns ``(x, sample_rate_hz, info)``; ``info`` has ``format``, ``bits``, ``channels`` and
    ``uv_per_lsb`` when the file's comment records one. Raises :class:`RecordingError` for
    truncated or unsupported files (decoding: :class:`firmware_bridge.host.wavfile.WavFile`).
    """
    path = Path(path)
    with _open_wav(path) as wav:
        try:
            x = wav.read(0, wav.n_frames)[:, wav.check_channel(channel)]
        except WavFormatError as exc:
            raise RecordingError(str(exc)) from None
        info = _wav_info(wav)
    if wav.is_float:
        bad = np.flatnonzero(~np.isfinite(x))
        if bad.size:  # NaN would become 0 and inf full scale: refuse rather than invent samples
            raise RecordingError(f"{path}: {bad.size} samples are NaN or infinite (first at sample {int(bad[0])}, "
                                 f"{bad[0] / wav.sample_rate:.3f} s); the file is damaged")
    return fraction(x), wav.sample_rate, info


def _wav_info(wav: WavFile) -> dict:
    info = {"format": wav.encoding, "bits": wav.bits, "channels": wav.channels}
    if wav.uv_per_lsb is not None:
        info["uv_per_lsb"] = wav.uv_per_lsb
    return info


def _read_wav_int16(path: Path, channel: int) -> tuple[np.ndarray, int, dict, int]:
    """``(int16 at 32768 steps per full scale, rate Hz, info, saturated count)`` of one channel."""
    with _open_wav(path) as wav:
        try:
            pcm, clipped = wav.read_int16(0, wav.n_frames, channel)
        except WavFormatError as exc:
            raise RecordingError(str(exc)) from None
        return pcm, wav.sample_rate, _wav_info(wav), clipped


def write_wav(path: str | os.PathLike, pcm: np.ndarray, sample_rate: int, uv_per_lsb: float | None = None,
              bits: int = 16) -> None:
    """Write mono WAV. ``pcm`` int16 (or float fraction of full scale for ``bits=32`` float).

    ``bits``: 16 (int16 PCM, default) or 24 (int16 shifted left 8 bits, lossless). The µV per
    LSB (of the int16) is stored as ``uv_per_lsb=…`` in a ``LIST/INFO/ICMT`` comment, which
    :func:`read_recording` reads back and audio editors show as the comment.
    """
    x = np.asarray(pcm)
    if x.ndim != 1 or x.dtype != np.int16:
        raise ValueError(f"write_wav needs 1-D int16 pcm, got {x.ndim}-D {x.dtype}")
    if bits == 16:
        audio = x.astype("<i2").tobytes()
    elif bits == 24:
        v = x.astype(np.int32) << 8
        audio = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        raise ValueError(f"bits = {bits}: allowed 16 or 24")
    width = bits // 8
    fmt = struct.pack("<HHIIHH", WAVE_PCM, 1, int(sample_rate), int(sample_rate) * width, width, bits)
    chunks = [b"fmt " + struct.pack("<I", len(fmt)) + fmt]
    if uv_per_lsb is not None:
        text = f"emg-edge-kit uv_per_lsb={float(uv_per_lsb)!r}".encode("ascii") + b"\0"
        if len(text) & 1:
            text += b"\0"
        info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text
        chunks.append(b"LIST" + struct.pack("<I", len(info)) + info)
    chunks.append(b"data" + struct.pack("<I", len(audio)) + audio + (b"\0" if len(audio) & 1 else b""))
    body = b"WAVE" + b"".join(chunks)
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


# ---------------------------------------------------------------------------------------
# WFDB and EDF: physical units known.
# ---------------------------------------------------------------------------------------

def _unit_to_uv(unit: str, path: Path, what: str) -> float:
    key = (unit or "").strip().lower()
    if key not in _UNIT_UV:
        raise RecordingError(f"{path}: {what} has unit {unit!r}; expected uV, mV or V")
    return _UNIT_UV[key]


def _whole_rate(rate: float, path: Path) -> int:
    r = int(round(rate))
    if r <= 0 or abs(rate - r) > 1e-6 * max(1.0, rate):
        raise RecordingError(f"{path}: sample rate {rate} Hz is not a whole number of Hz")
    return r


def _pick(names: list[str], channel: int | str, path: Path) -> int:
    if isinstance(channel, str):
        if channel not in names:
            raise RecordingError(f"{path}: no channel named {channel!r}; channels: {', '.join(names)}")
        return names.index(channel)
    if not (0 <= channel < len(names)):
        raise RecordingError(f"{path}: channel {channel} requested; the file has {len(names)} channel(s)")
    return channel


_WFDB_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12,
              "310": 10, "311": 10, "508": 8, "516": 16, "524": 24}


def read_wfdb(path: str | os.PathLike, channel: int | str = 0) -> tuple[np.ndarray, int, float, dict]:
    """One channel of a WFDB record (``.hea`` path or record name) in µV.

    Returns ``(x_uv float64, rate_hz, uv_per_adc_step, info)``.
    """
    import wfdb

    path = Path(path)
    record_name = str(path.with_suffix("")) if path.suffix.lower() in (".hea", ".dat") else str(path)
    try:
        header = wfdb.rdheader(record_name)
        i = _pick(list(header.sig_name or []), channel, path)
        rec = wfdb.rdrecord(record_name, channels=[i], physical=False)
    except RecordingError:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:  # wfdb raises assorted errors for truncated or malformed files
        raise RecordingError(f"{path}: cannot read WFDB record, truncated or malformed ({exc})") from None
    d = rec.d_signal[:, 0].astype(np.float64)
    expected = header.sig_len
    if expected and len(d) < expected:
        raise RecordingError(f"{path}: truncated: header says {expected} samples, signal file has {len(d)}")
    gain = float(rec.adc_gain[0]) or 200.0  # WFDB: gain 0 means the default 200 per unit
    to_uv = _unit_to_uv(rec.units[0], path, f"channel {rec.sig_name[0]!r}")
    x_uv = (d - float(rec.baseline[0])) / gain * to_uv
    bits = int(rec.adc_res[0] or 0) or _WFDB_BITS.get(str(rec.fmt[0]), 16)
    step = to_uv / gain
    return x_uv, _whole_rate(float(rec.fs), path), step * 2.0 ** max(0, bits - 16), {
        "format": f"wfdb-{rec.fmt[0]}", "bits": bits, "channel": rec.sig_name[0], "units": rec.units[0]}


def read_edf(path: str | os.PathLike, channel: int | str = 0) -> tuple[np.ndarray, int, float, dict]:
    """One channel of an EDF/EDF+/BDF file in µV: ``(x_uv, rate_hz, uv_per_lsb, info)``."""
    import pyedflib

    path = Path(path)
    try:
        f = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read EDF ({exc}); the file may be truncated") from None
    try:
        i = _pick(list(f.getSignalLabels()), channel, path)
        h = f.getSignalHeader(i)
        x = f.readSignal(i, digital=True).astype(np.float64)
        rate = f.getSampleFrequency(i)
        n_expected = f.getNSamples()[i]
    finally:
        f.close()
    to_uv = _unit_to_uv(h["dimension"], path, f"signal {h['label']!r}")
    dmin, dmax, pmin, pmax = h["digital_min"], h["digital_max"], h["physical_min"], h["physical_max"]
    if not all(math.isfinite(float(v)) and abs(float(v)) < 1e30 for v in (dmin, dmax, pmin, pmax)):
        raise RecordingError(f"{path}: signal {h['label']!r} has a physical or digital range that is not a "
                             f"finite number (physical {pmin}..{pmax}, digital {dmin}..{dmax})")
    if dmax <= dmin or pmax == pmin:
        raise RecordingError(f"{path}: signal {h['label']!r} has an empty physical or digital range")
    step = (pmax - pmin) / (dmax - dmin) * to_uv  # µV per digital step
    x_uv = (x - dmin) * step + pmin * to_uv
    if len(x) < n_expected:
        raise RecordingError(f"{path}: truncated: header says {n_expected} samples, file has {len(x)}")
    bits = int(np.ceil(np.log2(dmax - dmin + 1)))
    return x_uv, _whole_rate(rate, path), abs(step) * 2.0 ** max(0, bits - 16), {
        "format": "bdf" if bits > 16 else "edf", "bits": bits, "channel": h["label"], "units": h["dimension"]}


# ---------------------------------------------------------------------------------------
# Public entry point.
# ---------------------------------------------------------------------------------------

def _to_int16(x: np.ndarray) -> tuple[np.ndarray, int]:
    r = np.rint(x)
    clipped = int(np.count_nonzero((r > 32767) | (r < -32768)))
    return np.clip(r, -32768, 32767).astype(np.int16), clipped


def read_recording(path: str | os.PathLike, target_rate: int | None = None, min_rate: int | None = None,
                   uv_per_lsb: float | None = None, channel: int | str = 0) -> Recording:
    """Read a WAV, WFDB (``.hea``) or EDF/BDF recording into an int16 :class:`Recording`.

    ``target_rate`` (Hz): resample to it (polyphase, :mod:`edge.resample`). ``min_rate`` (Hz):
    refuse files recorded below it (upsampling cannot restore what was never recorded).
    ``uv_per_lsb`` (µV): scale of the int16 result; see the module docstring for defaults.
    ``channel``: index or name of the channel to read. Labels are not read here (see
    :mod:`convert.datadir`). Raises :class:`RecordingError` (a ``ValueError``) or
    ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such recording")
    if uv_per_lsb is not None and not (0 < uv_per_lsb < 1e6):
        raise ValueError(f"uv_per_lsb = {uv_per_lsb}: must be a positive number of µV")
    ext = path.suffix.lower()
    meta: dict = {"source": str(path)}
    if ext == ".wav":
        if not isinstance(channel, int):
            raise RecordingError(f"{path}: WAV channels have no names; pass a channel index")
        pcm, rate, info, clipped = _read_wav_int16(path, channel)  # full scale = 32768 LSB, any bit depth
        if uv_per_lsb is not None:
            source = "caller"
        elif "uv_per_lsb" in info:
            uv_per_lsb, source = info["uv_per_lsb"], "wav-comment"
        else:
            uv_per_lsb, source = DEFAULT_WAV_UV_PER_LSB, "default"
    elif ext in (".hea", ".dat"):
        x_uv, rate, step, info = read_wfdb(path, channel)
        source = "caller" if uv_per_lsb is not None else "wfdb-header"
        uv_per_lsb = uv_per_lsb or step
        pcm, clipped = _to_int16(x_uv / uv_per_lsb)
    elif ext in (".edf", ".bdf"):
        x_uv, rate, step, info = read_edf(path, channel)
        source = "caller" if uv_per_lsb is not None else "edf-header"
        uv_per_lsb = uv_per_lsb or step
        pcm, clipped = _to_int16(x_uv / uv_per_lsb)
    else:
        raise RecordingError(f"{path}: unknown recording type {ext!r}; use .wav, .hea (WFDB), .edf or .bdf")
    if min_rate is not None and rate < min_rate:
        raise RecordingError(
            f"{path}: sampled at {rate} Hz, below the minimum {int(min_rate)} Hz this model accepts "
            "(resampling up cannot restore the missing high frequencies)"
        )
    meta.update(info)
    meta.update({"native_rate": rate, "uv_per_lsb_source": source, "clipped_samples": clipped})
    if target_rate is not None and int(target_rate) != rate:
        from edge.resample import resample

        pcm = resample(pcm, rate, int(target_rate))
        rate = int(target_rate)
    return Recording(pcm=pcm, sample_rate=int(rate), uv_per_lsb=float(uv_per_lsb), name=path.stem, meta=meta)
