"""Audio-ADC sample source (I2S ADC board or USB audio interface through ALSA/PortAudio).

The amplifier's analog output reaches the Pi through a high-impedance buffer and an audio ADC
(wiring and levels: ``firmware_bridge/HARDWARE.md``). :class:`AdcSource` reads it with
`sounddevice` (PortAudio), which is imported lazily so that the rest of the kit works without
it: ``pip install 'emg-edge-kit[adc]'`` plus the system package ``libportaudio2``
(``sudo apt install libportaudio2``).

Gaps: PortAudio delivers blocks from its own thread; they go through a bounded queue. When
the application reads too slowly the oldest blocks are dropped and the missing samples are
reported exactly in ``gap_before``. When PortAudio itself reports an input overflow, the
missing stretch is estimated from the ADC timestamps (``inputBufferAdcTime``) when the host
API provides them; ``stats.overflows`` counts such events either way.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from clikit import UserError
from firmware_bridge.host.gaps import GapTracker
from firmware_bridge.host.source import SampleBlock

__all__ = ["AdcConfig", "AdcSource", "AdcStats", "uv_per_lsb_from_levels", "import_sounddevice"]

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with: pip install 'emg-edge-kit[adc]' and the PortAudio library: "
    "sudo apt install libportaudio2"
)


def import_sounddevice() -> Any:
    """Import `sounddevice`, turning a missing module or PortAudio library into a UserError."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError:
        raise UserError(f"the ADC source needs the sounddevice package; {INSTALL_HINT}") from None
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise UserError(f"PortAudio library not found ({exc}); {INSTALL_HINT}") from None


def uv_per_lsb_from_levels(adc_full_scale_v: float, amp_output_gain: float) -> float:
    """µV at the electrode per ADC LSB.

    ``adc_full_scale_v``: ADC input (after the buffer) that reads full scale, in volts peak
    (e.g. 1.0 V peak for a 2 V p-p line input). ``amp_output_gain``: volts at the amplifier's
    analog output per volt at the electrodes, buffer gain included (e.g. 1000 for a ×1000
    amplifier with a unity-gain buffer). 16-bit ADC: full scale = 32768 LSB.
    """
    if not adc_full_scale_v > 0:
        raise ValueError(f"adc_full_scale_v must be > 0 V, got {adc_full_scale_v}")
    if not amp_output_gain > 0:
        raise ValueError(f"amp_output_gain must be > 0 V/V, got {amp_output_gain}")
    return adc_full_scale_v / 32768.0 / amp_output_gain * 1e6


@dataclass(frozen=True)
class AdcConfig:
    """Audio ADC capture settings.

    ``device``: PortAudio/ALSA device name or index (None = default input); ``sample_rate``
    in Hz; ``block``: samples per callback; ``channel``: which input channel carries the EMG
    (0 = left); ``channels``: channels to open (stereo-only I2S boards need 2);
    ``uv_per_lsb``: µV at the electrode per LSB (see :func:`uv_per_lsb_from_levels`), ``None``
    when not known (an ADC cannot tell; the runtime then warns, or refuses with ``--strict``);
    ``queue_s``: seconds of audio buffered for a slow reader before blocks are dropped;
    ``latency``: PortAudio latency hint ('low', 'high' or seconds).
    """

    device: str | int | None = None
    sample_rate: int = 44100
    block: int = 441
    channel: int = 0
    channels: int = 1
    uv_per_lsb: float | None = None
    queue_s: float = 5.0
    latency: str | float = "high"

    def __post_init__(self) -> None:
        if not 1000 <= self.sample_rate <= 384000:
            raise ValueError(f"sample_rate must be in 1000..384000 Hz, got {self.sample_rate}")
        if not 1 <= self.block <= self.sample_rate:
            raise ValueError(f"block must be in 1..{self.sample_rate} samples, got {self.block}")
        if not 1 <= self.channels <= 32:
            raise ValueError(f"channels must be in 1..32, got {self.channels}")
        if not 0 <= self.channel < self.channels:
            raise ValueError(f"channel must be in 0..{self.channels - 1}, got {self.channel}")
        if self.uv_per_lsb is not None and not self.uv_per_lsb > 0:
            raise ValueError(f"uv_per_lsb must be > 0 µV/LSB, got {self.uv_per_lsb}")
        if not 0.1 <= self.queue_s <= 600:
            raise ValueError(f"queue_s must be in 0.1..600 s, got {self.queue_s}")


@dataclass
class AdcStats:
    """Counters: samples captured, samples lost (exact for reader drops), PortAudio overflows."""

    samples: int = 0
    blocks: int = 0
    gap_samples: int = 0
    dropped_blocks: int = 0
    overflows: int = 0


class AdcSource:
    """Samples from an audio ADC, as a :class:`~firmware_bridge.host.source.SampleSource`.

    ``sd`` injects a `sounddevice`-compatible module (tests use a double); by default the real
    one is imported when the source is constructed. Capture starts at construction.
    """

    def __init__(self, config: AdcConfig | None = None, *, sd: Any = None, **overrides: Any) -> None:
        if config is None:
            config = AdcConfig(**overrides)
        elif overrides:
            raise ValueError("pass either config or keyword overrides, not both")
        self.config = config
        self.sample_rate: int = config.sample_rate
        self.uv_per_lsb: float | None = config.uv_per_lsb
        self.stats = AdcStats()
        self._sd = sd if sd is not None else import_sounddevice()
        maxsize = max(2, int(np.ceil(config.queue_s * config.sample_rate / config.block)))
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self._captured = 0  # stream index of the next captured sample (PortAudio thread)
        self._expected_adc_time: float | None = None
        # Reader thread: delivered indices; the stream starts at 0, so blocks dropped before the
        # first delivered one are a gap too.
        self._index = GapTracker(start_index=0)
        self._closed = False
        try:
            self._stream = self._sd.InputStream(
                samplerate=config.sample_rate,
                blocksize=config.block,
                device=config.device,
                channels=config.channels,
                dtype="int16",
                latency=config.latency,
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError for unknown devices
            raise UserError(f"cannot open audio input {config.device!r} at {config.sample_rate} Hz: {exc}") from None

    # PortAudio thread: keep it short, never block.
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        lost = 0
        adc_time = float(getattr(time_info, "inputBufferAdcTime", 0.0) or 0.0)
        if status is not None and getattr(status, "input_overflow", False):
            self.stats.overflows += 1
            if adc_time > 0 and self._expected_adc_time is not None:
                lost = max(0, int(round((adc_time - self._expected_adc_time) * self.sample_rate)))
            log.warning("ADC input overflow: ~%d samples lost", lost)
        self._captured += lost
        samples = np.array(indata[:, self.config.channel], dtype=np.int16, copy=True)
        item = (self._captured, samples)
        self._captured += frames
        if adc_time > 0:
            self._expected_adc_time = adc_time + frames / self.sample_rate
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # Slow reader: drop the oldest block; the reader sees the exact gap from indices.
            try:
                self._queue.get_nowait()
                self.stats.dropped_blocks += 1
            except queue.Empty:
                pass
            self._queue.put_nowait(item)

    def read_block(self, timeout: float | None = None) -> SampleBlock | None:
        if self._closed:
            raise EOFError("ADC source closed")
        try:
            first, samples = self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None
        step = self._index.update(first, int(samples.size))
        self.stats.samples += int(samples.size)
        self.stats.blocks += 1
        self.stats.gap_samples += step.gap
        return SampleBlock(step.first_index, samples[step.skip:], step.gap)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._stream.stop()
        finally:
            self._stream.close()

    def __enter__(self) -> "AdcSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
