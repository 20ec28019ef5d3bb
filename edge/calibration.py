"""Amplitude calibration: re-express int16 samples recorded at one µV per LSB at another.

A model's features assume a fixed scale (the bundle's ``uv_per_lsb``, µV at the electrode per
LSB of the int16 samples it was trained on); a source delivers samples at its own scale (the
amplifier's HELLO, ``?uv_per_lsb=``, a WAV comment). This stage maps one onto the other in
integer arithmetic that firmware can reproduce bit for bit:

    g  = source_uv_per_lsb / target_uv_per_lsb            (float64, 1/256 ≤ g ≤ 256)
    G  = floor(g · 2^16 + 0.5)                            (unsigned Q16, round half up;
                                                           256 ≤ G ≤ 2^24, fits int32)
    p  = x · G + 2^15                                     (int64: |x·G| ≤ 2^15·2^24 = 2^39)
    y  = p >> 16                                          (arithmetic shift = floor, so the
                                                           Q16 product is rounded half up)
    y  = −y                                               if invert (after rounding, so an
                                                           inverted identity is exactly −x)
    y  = clamp(y, −32768, 32767)                          (saturate; −(−32768) → 32767)

A sample counts as *saturated* when the clamp changed it. With ``source == target`` G = 65536
and ``(x·2^16 + 2^15) >> 16 = x``: the stage is the identity, exactly.

Why Q16: G fits a 32-bit register for the whole allowed g range and the product fits the
int64 of a Cortex-M ``SMULL``; the gain's own rounding adds at most |x|·2^−17 ≤ 0.25 LSB to
the output's 0.5 LSB rounding, so y is within 0.75 LSB of x·g before saturation (0.0001 dB of
gain error at g = 1, 0.017 dB at the extreme g = 1/256).

Forms: :func:`gain_q16` (g → G), :func:`apply_gain_q16` (the integer rule on an array, pure
numpy), :func:`rescale_pcm` (a whole recording, used by ``convert``) and :class:`Calibrator`
(the runtime's streaming stage; stateless apart from its counters, so chunking never changes
the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Q format of the gain: G = round(g · 2^GAIN_BITS).
GAIN_BITS = 16
GAIN_ONE = 1 << GAIN_BITS
#: Allowed gain range g = source/target.
MIN_GAIN = 1.0 / 256.0
MAX_GAIN = 256.0
#: Sane µV-per-LSB range of a 16-bit EMG stream (0.001 µV: ±33 µV full scale; 1000 µV: ±33 V).
MIN_UV_PER_LSB = 1e-3
MAX_UV_PER_LSB = 1e3
INT16_MIN, INT16_MAX = -32768, 32767

__all__ = ["CalibrationConfig", "Calibrator", "gain_q16", "apply_gain_q16", "rescale_pcm", "check_uv_per_lsb",
           "GAIN_BITS", "MIN_GAIN", "MAX_GAIN", "MIN_UV_PER_LSB", "MAX_UV_PER_LSB"]


def check_uv_per_lsb(value, what: str = "uv_per_lsb") -> float:
    """``value`` as a float µV/LSB, or ValueError naming it and the allowed range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not (math.isfinite(v) and MIN_UV_PER_LSB <= v <= MAX_UV_PER_LSB):
        raise ValueError(f"{what}={value!r} must be a number of µV per LSB in {MIN_UV_PER_LSB:g}..{MAX_UV_PER_LSB:g}")
    return v


def gain_q16(source_uv_per_lsb: float, target_uv_per_lsb: float) -> int:
    """G = floor(source/target · 2^16 + 0.5); ValueError if the ratio is outside 1/256..256."""
    s = check_uv_per_lsb(source_uv_per_lsb, "source_uv_per_lsb")
    t = check_uv_per_lsb(target_uv_per_lsb, "target_uv_per_lsb")
    g = s / t
    if not MIN_GAIN <= g <= MAX_GAIN:
        raise ValueError(
            f"gain {s:g}/{t:g} µV/LSB = {g:.6g} is outside the allowed range 1/256..256 "
            f"({20 * math.log10(MIN_GAIN):.1f}..{20 * math.log10(MAX_GAIN):.1f} dB)"
        )
    return int(math.floor(g * GAIN_ONE + 0.5))


def apply_gain_q16(x: np.ndarray, G: int, invert: bool = False) -> tuple[np.ndarray, int]:
    """The integer rule (module docstring) on int16 ``x``: ``(y int16, saturated count)``."""
    G = int(G)
    if not 0 < G <= int(MAX_GAIN) * GAIN_ONE:
        raise ValueError(f"G={G} must be in 1..{int(MAX_GAIN) * GAIN_ONE}")
    x = np.asarray(x)
    if x.dtype != np.int16:
        raise ValueError(f"samples must be int16, got {x.dtype}")
    if G == GAIN_ONE and not invert:
        return x, 0
    y = (x.astype(np.int64) * G + (1 << (GAIN_BITS - 1))) >> GAIN_BITS
    if invert:
        y = -y
    sat = int(np.count_nonzero((y > INT16_MAX) | (y < INT16_MIN)))
    return np.clip(y, INT16_MIN, INT16_MAX).astype(np.int16), sat


def rescale_pcm(pcm: np.ndarray, source_uv_per_lsb: float, target_uv_per_lsb: float,
                invert: bool = False) -> tuple[np.ndarray, int]:
    """A whole int16 recording at ``source_uv_per_lsb`` re-expressed at ``target_uv_per_lsb``.

    Returns ``(pcm int16, saturated samples)``; the input itself when the gain is 1 and
    ``invert`` is false.
    """
    return apply_gain_q16(np.asarray(pcm), gain_q16(source_uv_per_lsb, target_uv_per_lsb), invert)


@dataclass(frozen=True)
class CalibrationConfig:
    """Calibration settings. Scales in µV per LSB, each in 0.001..1000, their ratio in 1/256..256.

    source_uv_per_lsb: the source's scale. target_uv_per_lsb: the bundle's.
    invert: negate the samples (a reversed electrode pair or inverting amplifier).
    """

    source_uv_per_lsb: float = 0.5
    target_uv_per_lsb: float = 0.5
    invert: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_uv_per_lsb", check_uv_per_lsb(self.source_uv_per_lsb, "source_uv_per_lsb"))
        object.__setattr__(self, "target_uv_per_lsb", check_uv_per_lsb(self.target_uv_per_lsb, "target_uv_per_lsb"))
        if not isinstance(self.invert, (bool, np.bool_)):
            raise ValueError(f"invert={self.invert!r} must be True or False")
        object.__setattr__(self, "invert", bool(self.invert))
        gain_q16(self.source_uv_per_lsb, self.target_uv_per_lsb)  # range check

    @property
    def gain_q16(self) -> int:
        """G, the Q16 gain the integer rule uses."""
        return gain_q16(self.source_uv_per_lsb, self.target_uv_per_lsb)

    @property
    def gain_db(self) -> float:
        """20·log10(G / 2^16): the gain actually applied, in dB (polarity not included)."""
        return 20.0 * math.log10(self.gain_q16 / GAIN_ONE)

    @property
    def identity(self) -> bool:
        return self.gain_q16 == GAIN_ONE and not self.invert


class Calibrator:
    """Streaming calibration stage: :meth:`process` maps int16 blocks by the integer rule.

    State: ``samples`` and ``saturated`` counters only (each sample is mapped on its own), so
    any chunking gives the same output. :meth:`set_source` changes the source scale between
    blocks (a serial unit's new HELLO).
    """

    def __init__(self, config: CalibrationConfig | None = None) -> None:
        self.config = config or CalibrationConfig()
        self._G = self.config.gain_q16
        self.samples = 0
        self.saturated = 0

    def set_source(self, source_uv_per_lsb: float) -> None:
        """Use a new source scale from the next block on (counters are kept)."""
        cfg = CalibrationConfig(source_uv_per_lsb, self.config.target_uv_per_lsb, self.config.invert)
        self.config, self._G = cfg, cfg.gain_q16

    def process(self, x: np.ndarray) -> np.ndarray:
        """int16 block → int16 block at the target scale (the input itself at identity)."""
        y, sat = apply_gain_q16(x, self._G, self.config.invert)
        self.samples += int(y.size)
        self.saturated += sat
        return y

    def reset(self) -> None:
        self.samples = 0
        self.saturated = 0
