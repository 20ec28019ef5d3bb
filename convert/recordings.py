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
* **WFDB** (``wfdb`` package) and **EDF/EDF+/BDF** (``pyedflib``), both in the ``io`` extra,
  read by :mod:`firmware_bridge.host.physio` (the runtime's ``wfdb:``/``edf:`` sources use the
  same readers and scale rule): WFDB physical value = (digital − baseline) / adc_gain, EDF
  µV per digital step = (physical max − min) / (digital max − min), in the channel's units
  (µV, mV or V). µV per LSB = the µV of one ADC step, times 2^(bits − 16) when the ADC has
  more than 16 bits (so the int16 spans the ADC range, e.g. 24-bit BDF).
* A caller's ``uv_per_lsb`` overrides all of these (the physical signal is re-expressed in it).

Conversion to int16 rounds half to even and saturates at ±32767/−32768; the number of
saturated samples is ``meta["clipped_samples"]``. Resampling happens after the conversion,
on int16, exactly as on the device.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from firmware_bridge.host.physio import RecordError, open_channel, uv_to_int16
from firmware_bridge.host.wavfile import WavFile, WavFormatError, fraction
from firmware_bridge.host.wavinfo import WAVE_PCM

from convert.recording import Recording

#: µV per LSB assumed for WAV files that do not say (matches the simulator's amplifier).
DEFAULT_WAV_UV_PER_LSB = 0.5
#: File extensions read as recordings (lower case).
RECORDING_EXTENSIONS = (".wav", ".hea", ".edf", ".bdf")


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
# WFDB and EDF: physical units known (firmware_bridge.host.physio, shared with the runtime).
# ---------------------------------------------------------------------------------------

def _read_physio(path: Path, channel: int | str, uv_per_lsb: float | None) -> tuple[np.ndarray, int, dict, float, int]:
    """One channel of an EDF/BDF file or WFDB record: ``(int16, rate Hz, info, uv_per_lsb, saturated)``;
    ``info["uv_per_lsb_source"]`` is the header's (``edf-header``, ``wfdb-header``) or ``caller``."""
    try:
        with open_channel(path, channel) as ch:
            d = ch.read(0, ch.n_samples)
            if d.size < ch.n_samples:
                raise RecordingError(f"{path}: truncated: header says {ch.n_samples} samples, file has {d.size}")
            uv = uv_per_lsb or ch.scale.uv_per_lsb
            pcm, clipped = uv_to_int16(ch.scale.to_uv(d), uv)
            info = {"format": ch.format, "bits": ch.scale.bits, "channel": ch.name, "units": ch.units,
                    "channels": ch.channels, "uv_per_lsb_source": "caller" if uv_per_lsb else ch.origin}
            return pcm, ch.sample_rate, info, uv, clipped
    except RecordError as exc:
        raise RecordingError(str(exc)) from None


# ---------------------------------------------------------------------------------------
# Public entry point.
# ---------------------------------------------------------------------------------------

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
    elif ext in (".hea", ".dat", ".edf", ".bdf"):
        pcm, rate, info, uv_per_lsb, clipped = _read_physio(path, channel, uv_per_lsb)
        source = info.pop("uv_per_lsb_source")
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
