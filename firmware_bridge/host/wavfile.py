"""The one WAV decoder of the kit: the runtime's ``WavSource`` and ``convert.recordings`` both read here.

Encodings: integer PCM of 8 (unsigned), 16, 24 and 32 bit and IEEE float of 32 and 64 bit,
plain or ``WAVE_FORMAT_EXTENSIBLE``, any number of channels (``channel`` picks one).

How a file is read
------------------
* The chunk walk (:func:`firmware_bridge.host.wavinfo.read_wav_layout`) finds ``fmt``, ``data``
  and the ``LIST/INFO`` comment, and refuses in one line a file whose ``fmt`` or ``data`` chunk
  claims more bytes than it holds (a truncated copy). scipy only warns there and returns what
  is present; a recording that silently lost its end is worse than a refusal.
* The sample bytes are decoded by :func:`scipy.io.wavfile.read`, one block of frames at a time
  (a read of ``n`` frames at a file offset, handed to scipy behind a minimal RIFF header), so
  a long file is never loaded whole by the runtime and every encoding streams the same way.
* Not a memory map (``scipy.io.wavfile.read(mmap=True)``): it refuses 8- and 24-bit files, and
  touching a page of a map whose file was truncated meanwhile kills the process with SIGBUS
  (exit 135, measured). A block read of a shrunken file merely comes back short, which
  ``WavSource`` turns into the end of the stream with a warning.

Scale
-----
Every encoding becomes a fraction of full scale (:func:`fraction`: 8-bit ``(x − 128)/128``,
16/24/32-bit ``x/2^(bits−1)``, float as is) and full scale is 32768 int16 steps
(:func:`to_int16`), so a 16-, 24-bit and float file of the same signal give the same int16.
The recorded scale ``uv_per_lsb=`` (``LIST/INFO/ICMT``, written by
``convert.recordings.write_wav``; and a source string's ``?uv_per_lsb=``) is therefore µV per
*int16 step*, i.e. per 1/32768 of full scale, whatever the file's bit depth: a 24-bit file
keeps its physical scale (its extra 8 bits are rounded away, half to even), and a float file
at ``?uv_per_lsb=X`` has a full scale (1.0) of 32768·X µV. Conversion rounds half to even and
saturates at −32768..32767 (so +full scale, one step above the int16 range, saturates).
A float sample that is NaN or infinite is refused (:class:`WavFormatError`) rather than made
silence or full scale.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np

from firmware_bridge.host.wavinfo import WavFormatError, WavLayout, comment_uv_per_lsb, read_wav_layout

__all__ = ["MIN_RATE_HZ", "MAX_RATE_HZ", "WavFile", "WavFormatError", "fraction", "round_to_int16", "to_int16"]

#: Sample rates (Hz, per channel) accepted from a WAV file by the runtime and by ``convert``,
#: and from a unit's HELLO or the ALSA capture rate: bounds what a header can make the host
#: allocate (queues in seconds, resampling filters). Needle EMG is recorded at 4 kHz
#: (PhysioNet) to 64 kHz; outside this range a header is damaged, not a recording.
MIN_RATE_HZ, MAX_RATE_HZ = 1_000, 384_000

WAVE_PCM, WAVE_FLOAT = 1, 3
#: (format tag, bits) that decode; anything else is refused by name.
ENCODINGS = {(WAVE_PCM, 8), (WAVE_PCM, 16), (WAVE_PCM, 24), (WAVE_PCM, 32), (WAVE_FLOAT, 32), (WAVE_FLOAT, 64)}
#: int16 steps per full scale.
FULL_SCALE_STEPS = 32768


def fraction(x: np.ndarray) -> np.ndarray:
    """Samples as :func:`scipy.io.wavfile.read` returns them → float64 fraction of full scale.

    uint8 (8-bit, unsigned, 128 = zero) → ``(x − 128)/128``; int16 → ``x/2^15``; int32 (32-bit,
    and 24-bit, which scipy left-justifies in int32) → ``x/2^31``; float → as is.
    """
    if x.dtype == np.uint8:
        return (x.astype(np.float64) - 128.0) / 128.0
    if x.dtype.kind == "i":
        return x.astype(np.float64) / float(1 << (8 * x.dtype.itemsize - 1))
    return x.astype(np.float64)


def to_int16(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Decoded samples → ``(int16 at 32768 steps per full scale, number saturated)``.

    Exact for 8- and 16-bit; deeper encodings round half to even and saturate at
    −32768..32767. Float input must be finite (checked by the caller, which knows where).
    """
    if x.dtype == np.int16:
        return np.array(x, dtype=np.int16, copy=True), 0
    if x.dtype == np.uint8:
        return ((x.astype(np.int16) - 128) * 256).astype(np.int16), 0  # fits: −32768..32512
    return round_to_int16(fraction(x) * FULL_SCALE_STEPS)


def round_to_int16(steps: np.ndarray) -> tuple[np.ndarray, int]:
    """Float int16 steps → ``(int16, number saturated)``: half to even, saturating at −32768..32767."""
    r = np.rint(np.asarray(steps, dtype=np.float64))
    clipped = int(np.count_nonzero((r > 32767) | (r < -32768)))
    return np.clip(r, -32768, 32767).astype(np.int16), clipped


class WavFile:
    """An open WAV file, validated at construction, read in blocks of frames.

    Refused with :class:`WavFormatError` (a ``ValueError``, one line naming the file): not
    RIFF/WAVE, a truncated ``fmt``/``data`` chunk, an encoding outside :data:`ENCODINGS`, a
    block align that does not match the channels and bits, a sample rate outside
    :data:`MIN_RATE_HZ`..:data:`MAX_RATE_HZ`, a ``uv_per_lsb=`` comment that is not a positive
    number. ``uv_per_lsb`` is that comment's µV per int16 step, or None.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        lay = read_wav_layout(self.path)
        if (lay.format_tag, lay.bits) not in ENCODINGS:
            raise WavFormatError(f"{self.path}: unsupported WAV encoding (format tag {lay.format_tag}, "
                                 f"{lay.bits} bits); use 8/16/24/32-bit integer PCM or 32/64-bit float")
        if lay.channels < 1 or lay.block_align != lay.channels * (lay.bits // 8):
            raise WavFormatError(f"{self.path}: block align {lay.block_align} does not match {lay.channels} x "
                                 f"{lay.bits}-bit samples")
        if not MIN_RATE_HZ <= lay.sample_rate <= MAX_RATE_HZ:
            raise WavFormatError(f"{self.path}: sample rate {lay.sample_rate} Hz is outside "
                                 f"{MIN_RATE_HZ}..{MAX_RATE_HZ} Hz")
        uv = comment_uv_per_lsb(self.path, lay.comment)
        self.layout: WavLayout = lay
        #: µV per int16 step from the file's comment, or None.
        self.uv_per_lsb: float | None = uv
        self.sample_rate: int = lay.sample_rate
        self.channels: int = lay.channels
        self.bits: int = lay.bits
        self.is_float: bool = lay.format_tag == WAVE_FLOAT
        #: Whole frames in the data chunk (as declared; all present when the file was opened).
        self.n_frames: int = lay.n_frames
        fmt = struct.pack("<HHIIHH", lay.format_tag, lay.channels, lay.sample_rate,
                          lay.sample_rate * lay.block_align, lay.block_align, lay.bits)
        self._fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt
        self._fh: io.BufferedReader | None = open(self.path, "rb")

    @property
    def encoding(self) -> str:
        """``"pcm"`` or ``"float"``."""
        return "float" if self.is_float else "pcm"

    def check_channel(self, channel: int) -> int:
        """``channel`` if the file has it, else WavFormatError naming the file and its channel count."""
        if not (isinstance(channel, (int, np.integer)) and 0 <= channel < self.channels):
            raise WavFormatError(f"{self.path}: channel {channel} requested; the file has {self.channels} channel(s)")
        return int(channel)

    def read(self, start: int, n: int) -> np.ndarray:
        """Frames ``start`` .. ``start + n`` as scipy decodes them, shape ``(got, channels)``.

        ``got < n`` only when the file ends early (shrank since it was opened, or ``n`` runs past
        :attr:`n_frames`); never more than what the data chunk declares.
        """
        if self._fh is None:
            raise ValueError(f"{self.path}: read after close")
        n = max(0, min(int(n), self.n_frames - int(start)))
        lay = self.layout
        self._fh.seek(lay.data_offset + int(start) * lay.block_align)
        raw = self._fh.read(n * lay.block_align)
        got = len(raw) // lay.block_align
        if got == 0:
            return np.zeros((0, lay.channels), dtype=self._dtype())
        raw = raw[:got * lay.block_align]
        body = b"WAVE" + self._fmt_chunk + b"data" + struct.pack("<I", len(raw)) + raw
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's notes on odd headers: ours is minimal and exact
            _, x = _scipy_wavfile().read(io.BytesIO(b"RIFF" + struct.pack("<I", len(body)) + body))
        return x.reshape(got, lay.channels)

    def read_int16(self, start: int, n: int, channel: int) -> tuple[np.ndarray, int]:
        """One channel of frames ``start`` .. ``start + n`` as ``(int16, saturated count)``
        (:func:`to_int16`); a NaN or infinite float sample raises :class:`WavFormatError`."""
        x = self.read(start, n)[:, self.check_channel(channel)]
        if self.is_float:
            bad = np.flatnonzero(~np.isfinite(x))
            if bad.size:  # NaN would become 0 and inf full scale: refuse rather than invent samples
                at = int(start) + int(bad[0])
                raise WavFormatError(f"{self.path}: {bad.size} samples are NaN or infinite (first at sample {at}, "
                                     f"{at / self.sample_rate:.3f} s); the file is damaged")
        return to_int16(x)

    def _dtype(self) -> np.dtype:
        if self.is_float:
            return np.dtype("<f4" if self.bits == 32 else "<f8")
        return np.dtype({8: np.uint8, 16: np.int16}.get(self.bits, np.int32))

    def close(self) -> None:
        """Close the file; idempotent."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "WavFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _scipy_wavfile():
    import scipy.io.wavfile  # scipy is a device dependency; imported on first read, not at start-up

    return scipy.io.wavfile
