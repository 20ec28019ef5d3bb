"""Front-end configuration: a frozen, validated dataclass (units: Hz, ms, samples).

Derived sizes follow edge/FRONTEND.md §1:
    frame_length L = floor(window_ms·sample_rate/1000 + 0.5)   (round half up)
    hop_length   H = floor(hop_ms·sample_rate/1000 + 0.5)
    fft_size     N = smallest power of two ≥ L
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
MIN_FRAME_LENGTH = 64
MAX_FFT_SIZE = 16384


def hz_to_mel(f_hz: float) -> float:
    """HTK Mel scale: 2595·log10(1 + f/700)."""
    return 2595.0 * math.log10(1.0 + f_hz / 700.0)


def mel_to_hz(mel: float) -> float:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_edges_hz(n_mels: int, fmin_hz: float, fmax_hz: float) -> list[float]:
    """The n_mels+2 band edge frequencies (Hz), equally spaced in Mel from fmin to fmax.

    Computed exactly as m_j = mel(fmin) + (mel(fmax) − mel(fmin))·j/(n_mels+1), f_j = mel⁻¹(m_j),
    in float64, so that a C implementation can reproduce the tables.
    """
    lo, hi = hz_to_mel(fmin_hz), hz_to_mel(fmax_hz)
    return [mel_to_hz(lo + (hi - lo) * j / (n_mels + 1)) for j in range(n_mels + 2)]


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _lowest_band_hz(n_mels: int, fmin_hz: float, fmax_hz: float) -> float:
    e = mel_edges_hz(n_mels, fmin_hz, fmax_hz)
    return e[1] - e[0]


@dataclass(frozen=True)
class FrontendConfig:
    """Integer log-Mel front-end settings.

    sample_rate: Hz, 8000..48000.  window_ms / hop_ms: analysis window and hop in ms.
    n_mels: number of triangular HTK Mel bands.  fmin_hz / fmax_hz: band range in Hz,
    0 ≤ fmin < fmax ≤ sample_rate/2.  The lowest (narrowest) Mel band must be at least one
    FFT bin (sample_rate/fft_size Hz) wide, which bounds n_mels.
    """

    sample_rate: int = 44100
    window_ms: float = 25.0
    hop_ms: float = 10.0
    n_mels: int = 64
    fmin_hz: float = 20.0
    fmax_hz: float = 10000.0

    def __post_init__(self) -> None:
        sr = self.sample_rate
        if isinstance(sr, bool) or not isinstance(sr, int) and not (isinstance(sr, float) and sr.is_integer()):
            raise ValueError(f"sample_rate={sr!r} must be an integer number of Hz in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
        object.__setattr__(self, "sample_rate", int(sr))
        sr = self.sample_rate
        if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate={sr} Hz is outside the allowed range {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        for name in ("window_ms", "hop_ms", "fmin_hz", "fmax_hz"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
            object.__setattr__(self, name, float(v))
        n = self.n_mels
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_mels={n!r} must be an integer ≥ 1")
        L = self.frame_length
        if L < MIN_FRAME_LENGTH:
            raise ValueError(
                f"window_ms={self.window_ms} gives a window of {L} samples at {sr} Hz; allowed range is "
                f"{MIN_FRAME_LENGTH}..{MAX_FFT_SIZE} samples (window_ms ≥ {1000.0 * (MIN_FRAME_LENGTH - 0.5) / sr:.2f})")
        if L > MAX_FFT_SIZE:
            raise ValueError(
                f"window_ms={self.window_ms} gives a window of {L} samples at {sr} Hz; allowed range is "
                f"{MIN_FRAME_LENGTH}..{MAX_FFT_SIZE} samples")
        if self.hop_length < 1:
            raise ValueError(f"hop_ms={self.hop_ms} gives a hop of {self.hop_length} samples; it must be ≥ 1 sample "
                             f"(hop_ms ≥ {500.0 / sr:.4f} at {sr} Hz)")
        nyq = sr / 2.0
        if not 0.0 <= self.fmin_hz < nyq:
            raise ValueError(f"fmin_hz={self.fmin_hz} is outside the allowed range 0 ≤ fmin_hz < {nyq:g} (Nyquist)")
        if not self.fmax_hz <= nyq:
            raise ValueError(f"fmax_hz={self.fmax_hz} is above the Nyquist frequency; allowed range "
                             f"fmin_hz < fmax_hz ≤ {nyq:g} Hz at sample_rate={sr}")
        if not self.fmin_hz < self.fmax_hz:
            raise ValueError(f"fmin_hz={self.fmin_hz} must be below fmax_hz={self.fmax_hz}; allowed range "
                             f"0 ≤ fmin_hz < fmax_hz ≤ {nyq:g} Hz")
        bin_hz = sr / self.fft_size
        width = _lowest_band_hz(n, self.fmin_hz, self.fmax_hz)
        if width < bin_hz:
            raise ValueError(
                f"n_mels={n} is too many for fft_size={self.fft_size} at {sr} Hz between {self.fmin_hz:g} and "
                f"{self.fmax_hz:g} Hz: the lowest Mel band would be {width:.2f} Hz wide, narrower than one FFT bin "
                f"({bin_hz:.2f} Hz); allowed range is 1..{max_mels(sr, self.fft_size, self.fmin_hz, self.fmax_hz)}")

    # -- derived sizes (samples) --
    @property
    def frame_length(self) -> int:
        """L, window length in samples."""
        return _round_half_up(self.window_ms * self.sample_rate / 1000.0)

    @property
    def hop_length(self) -> int:
        """H, hop in samples."""
        return _round_half_up(self.hop_ms * self.sample_rate / 1000.0)

    @property
    def fft_size(self) -> int:
        """N, smallest power of two ≥ frame_length."""
        return 1 << max(0, (self.frame_length - 1).bit_length())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontendConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown front-end config keys {unknown}; allowed keys are {sorted(names)}")
        return cls(**d)


def max_mels(sample_rate: int, fft_size: int, fmin_hz: float, fmax_hz: float) -> int:
    """Largest n_mels whose lowest band is at least one FFT bin wide (0 if none)."""
    bin_hz = sample_rate / fft_size
    n = 0
    while _lowest_band_hz(n + 1, fmin_hz, fmax_hz) >= bin_hz:
        n += 1
        if n > 4096:
            break
    return n
