"""Sample sources: one interface for every way samples reach the edge runtime.

A *sample source* yields blocks of int16 samples from one channel, each stamped with the
index of its first sample (counted from the start of the stream, in samples) and the exact
number of samples that went missing just before it. The serial link
(:class:`firmware_bridge.host.link.SerialLink`), the audio ADC (:class:`firmware_bridge.host.adc.AdcSource`)
and WAV files (:class:`WavSource`) all implement :class:`SampleSource`, so the runtime does not
care where its samples come from.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from firmware_bridge.host.wavfile import MAX_RATE_HZ, MIN_RATE_HZ, WavFile

__all__ = ["SampleBlock", "SampleSource", "FileReplay", "WavSource", "parse_speed", "MIN_RATE_HZ", "MAX_RATE_HZ"]

log = logging.getLogger(__name__)

# MIN_RATE_HZ..MAX_RATE_HZ (Hz, per channel, defined with the WAV decoder and re-exported here):
# what a source may announce, a WAV file's fmt chunk, a unit's HELLO (``SerialLink`` ignores
# and counts a HELLO outside), the ALSA capture rate, and what ``convert`` reads.


@dataclass(frozen=True)
class SampleBlock:
    """A run of consecutive samples.

    ``first_index`` is the stream index (in samples, from 0) of ``samples[0]``;
    ``samples`` is a 1-D int16 array; ``gap_before`` is how many samples are missing between
    the previous block delivered by the same source and this one (0 when contiguous). Hence
    ``first_index == previous.first_index + len(previous.samples) + gap_before``.
    """

    first_index: int
    samples: np.ndarray
    gap_before: int = 0

    def __post_init__(self) -> None:
        if self.first_index < 0:
            raise ValueError(f"first_index must be >= 0, got {self.first_index}")
        if self.gap_before < 0:
            raise ValueError(f"gap_before must be >= 0, got {self.gap_before}")
        if not isinstance(self.samples, np.ndarray) or self.samples.dtype != np.int16 or self.samples.ndim != 1:
            raise ValueError("samples must be a 1-D numpy int16 array")

    @property
    def end_index(self) -> int:
        """Index one past the last sample of this block."""
        return self.first_index + int(self.samples.size)


@runtime_checkable
class SampleSource(Protocol):
    """What the edge runtime reads samples from (serial link, ADC, WAV file)."""

    #: Samples per second (Hz).
    sample_rate: int
    #: Microvolts at the electrode per least significant bit of a sample (µV/LSB); ``None``
    #: when the source does not know (the runtime then warns, or refuses with ``--strict``).
    uv_per_lsb: float | None

    def read_block(self, timeout: float | None = None) -> SampleBlock | None:
        """Next block; ``None`` if nothing arrived within ``timeout`` seconds (``None`` = wait).

        Raises :class:`EOFError` once a finite source (a WAV file, an amplifier that signalled
        end of stream) has delivered its last block.
        """
        ...

    def close(self) -> None:
        """Release the device or file; idempotent."""
        ...


def parse_speed(text: str | float | None) -> float | None:
    """Parse a pacing speed: ``"1"`` (real time), ``"N"`` (N× faster), ``"max"`` (``None``)."""
    if text is None:
        return None
    if isinstance(text, str):
        if text.strip().lower() in ("max", "inf", "none"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"speed must be a positive number or 'max', got {text!r}") from None
    else:
        value = float(text)
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}")
    return value


class Pacer:
    """Releases sample indices at ``sample_rate * speed`` per second of wall-clock time.

    The clock starts at the first call of :meth:`wait_until`; ``speed=None`` releases
    everything at once (as fast as the consumer takes it).
    """

    def __init__(self, sample_rate: int, speed: float | None, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(sample_rate) * (speed if speed is not None else float("inf"))
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None

    def due_time(self, index: int) -> float:
        """Wall-clock time (``clock`` units, s) at which sample ``index`` is due."""
        if self._t0 is None:
            self._t0 = self._clock()
        if self.rate == float("inf"):
            return self._t0
        return self._t0 + index / self.rate

    def wait_until(self, index: int, timeout: float | None) -> bool:
        """Sleep until sample ``index`` is due; False if ``timeout`` (s) ran out first."""
        due = self.due_time(index)
        now = self._clock()
        if due <= now:
            return True
        if timeout is not None and due - now > timeout:
            if timeout > 0:
                self._sleep(timeout)
            return False
        self._sleep(due - now)
        return True


class FileReplay:
    """A file replayed as a sample source: pacing, block numbering, the end of the stream.

    Subclasses set ``path``, ``sample_rate`` (Hz), ``n_samples`` and give :meth:`_samples`
    (int16, fewer than asked only when the file ended early) and :meth:`_release`. A file that
    ends before its header said ends the stream there with a warning naming the shortfall.
    """

    path: Path
    sample_rate: int
    n_samples: int

    def _start(self, speed: float | None, block: int) -> None:
        self._block = int(block)
        self._next = 0
        self._closed = False
        self._pacer = Pacer(self.sample_rate, speed)

    def _samples(self, start: int, n: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _release(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def read_block(self, timeout: float | None = None) -> SampleBlock | None:
        if self._closed:
            raise EOFError("source closed")
        if self._next >= self.n_samples:
            raise EOFError(f"end of {self.path.name}")
        n = min(self._block, self.n_samples - self._next)
        if not self._pacer.wait_until(self._next + n, timeout):
            return None
        data = self._samples(self._next, n)
        got = int(data.size)
        if got < n:  # the file shrank under us: end the stream here, never spin on empty reads
            log.warning("%s: the data ends %d frames early (%d of %d read; the file shrank?); ending the stream",
                        self.path, self.n_samples - self._next - got, self._next + got, self.n_samples)
            self.n_samples = self._next + got
            if got == 0:
                raise EOFError(f"end of {self.path.name} (truncated)")
        block = SampleBlock(self._next, data, 0)
        self._next += got
        return block

    def close(self) -> None:
        self._closed = True
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WavSource(FileReplay):
    """A WAV file as a sample source, paced like a live amplifier.

    Every encoding of :class:`firmware_bridge.host.wavfile.WavFile` (8/16/24/32-bit integer,
    32/64-bit float), decoded there block by block and converted to int16 at 32768 steps per
    full scale (exact for 8/16 bit; 24/32-bit and float round half to even and saturate).
    ``speed=1.0`` releases samples in real time, ``speed=N`` N times faster and ``speed=None``
    as fast as they are read. Multi-channel files are read from ``channel``.

    ``uv_per_lsb`` (µV per int16 step, i.e. per 1/32768 of full scale, whatever the bit depth)
    is, in order: the argument; the ``uv_per_lsb=`` comment ``convert.recordings.write_wav``
    stores in the file's ``LIST/INFO/ICMT`` chunk; ``None`` (unknown). ``uv_per_lsb_source``
    says which (``"parameter"``, ``"wav-comment"``, ``"unknown"``).

    A damaged file is refused at construction with a one-line ValueError naming it (see
    :class:`~firmware_bridge.host.wavfile.WavFile`): a data (or fmt) chunk that claims more
    bytes than the file holds (a truncated copy: the same hard error as
    ``convert.recordings.read_recording``, rather than a stream that ends early or never ends),
    a sample rate outside :data:`MIN_RATE_HZ`..:data:`MAX_RATE_HZ`, an unsupported encoding. If
    the file shrinks while it is read, the stream ends at the last whole frame with a warning
    naming the shortfall; a NaN or infinite float sample raises ValueError where it is met.
    """

    def __init__(
        self,
        path: str | Path,
        speed: float | None = 1.0,
        block: int = 441,
        *,
        uv_per_lsb: float | None = None,
        channel: int = 0,
    ) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1 sample, got {block}")
        if uv_per_lsb is not None and not uv_per_lsb > 0:
            raise ValueError(f"uv_per_lsb must be > 0 µV/LSB, got {uv_per_lsb}")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such WAV file: {self.path}")
        self._wav = WavFile(self.path)  # WavFormatError is a one-line ValueError naming the file
        try:
            self._channel = self._wav.check_channel(channel)
        except ValueError:
            self._wav.close()
            raise
        self.sample_rate: int = self._wav.sample_rate
        if uv_per_lsb is None:
            uv_per_lsb = self._wav.uv_per_lsb
            self.uv_per_lsb_source = "wav-comment" if uv_per_lsb is not None else "unknown"
        else:
            self.uv_per_lsb_source = "parameter"
        self.uv_per_lsb: float | None = None if uv_per_lsb is None else float(uv_per_lsb)
        self.n_samples: int = self._wav.n_frames
        #: Channels in the file (``channel`` is the one read).
        self.channels: int = self._wav.channels
        #: Bits per sample and ``"pcm"``/``"float"`` of the file (for the start-up log).
        self.bits: int = self._wav.bits
        self.encoding: str = self._wav.encoding
        self._start(speed, block)

    def _samples(self, start: int, n: int) -> np.ndarray:
        return self._wav.read_int16(start, n, self._channel)[0]

    def _release(self) -> None:
        self._wav.close()


def read_wav_int16(path: str | Path, channel: int | None = 0) -> tuple[np.ndarray, int]:
    """Whole WAV file (any encoding :class:`WavSource` reads) as ``(samples int16, sample_rate Hz)``:
    one ``channel``, or with ``channel=None`` every channel as a steps × channels array."""
    if channel is None:
        with WavSource(path, speed=None) as probe:
            n = probe.channels
        parts = [read_wav_int16(path, c) for c in range(n)]
        return np.stack([p for p, _ in parts], axis=1), parts[0][1]
    src = WavSource(path, speed=None, block=1 << 20, channel=channel)
    try:
        parts = []
        while True:
            try:
                blk = src.read_block()
            except EOFError:
                break
            if blk is not None:
                parts.append(blk.samples)
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        return pcm, src.sample_rate
    finally:
        src.close()
