"""The recording chain as a random variable: filters, sampling rate, gain, polarity, mains,
amplifier noise, clipping and the stored scale that real recordings come through.

A :class:`ChainConfig` holds the *ranges* (validated; an error names the bad value and the
allowed range). :meth:`ChainConfig.draw` draws one concrete :class:`Chain` from a seed
(deterministic), and :func:`apply_chain` passes a :class:`convert.recording.Recording`
through it. Default ranges (issue 11; ``real-emg.md`` §3, ``clinical-waveforms.md`` §4):

* high-pass (low-frequency filter) 2–20 Hz, log-uniform, Butterworth order 1–2;
* low-pass (high-frequency filter) 2–10 kHz, log-uniform, Butterworth order 2–4, clamped to
  0.45 × the chain rate (the archive's anti-alias filter) — the clamp is recorded;
* sampling rate one of 4, 8, 10, 16, 20, 22.05, 24, 30, 32, 44.1, 48 kHz;
* gain error uniform ±6 dB: the amplifier's true gain differs from the µV/LSB it reports;
* polarity inverted with p = 0.5 (files store either sign convention);
* mains hum (p = 0.5) at 50 or 60 Hz, fundamental 1–40 µV peak, harmonics 2–5 at 0.05–0.5/k
  of it (those below the chain's Nyquist);
* extra amplifier noise (p = 0.5), white, 0.5–10 µV RMS;
* clipping (p = 0.03): ADC rails 1–12 dB below the recording's peak;
* stored scale one of 0.1, 0.2, 0.25, 0.5, 1, 2 µV per LSB; int16 saturation at that scale.

Signal path (:func:`apply_chain`): int16 codes × ``rec.uv_per_lsb`` → µV; × gain error;
× ±1 (polarity); causal Butterworth high-pass then low-pass at the input rate (analogue
filters); :func:`edge.resample.resample` to the chain rate (anti-aliased, as an archive at that
rate holds it — the device resamples it back up to the model's rate); + hum + noise; rails;
quantise at the chain's µV/LSB (round half to even, saturate to int16). The output Recording
has ``sample_rate`` = chain rate and ``uv_per_lsb`` = the chain's *nominal* scale (what the
file would report; the gain error is what it gets wrong). Segments and ``meta["events"]``
(times in seconds) are unchanged; ``meta["chain"]`` records the chain and what applying it did
(clamps, clipped samples), so an evaluation can say what it saw.

Units: Hz, µV, dB (20·log10 of amplitude).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from convert.recording import Recording

#: Real archive / amplifier sampling rates, Hz (real-emg.md §3: 4, 10, 20–23.4, 30, 44.1 kHz).
REAL_RATES_HZ = (4000, 8000, 10000, 16000, 20000, 22050, 24000, 30000, 32000, 44100, 48000)
#: Stored scales seen in practice, µV per LSB (0.1 PhysioNet emgdb … 2 research systems).
REAL_UV_PER_LSB = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0)
#: Low-pass edges are clamped below this fraction of the rate they are applied at.
MAX_LOWPASS_FRACTION = 0.45

_CHAIN_STREAM = 0x43_48_41_49  # "CHAI": separates chain draws from other uses of a seed
_APPLY_STREAM = 0x4E_4F_49_53  # noise / hum phases when apply_chain gets no generator


def _range(name: str, value, lo: float, hi: float, unit: str) -> None:
    """A (low, high) pair inside [lo, hi] with low <= high."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"ChainConfig.{name} = {value!r}: need a (low, high) pair in {lo:g}..{hi:g} {unit}") from None
    if not (lo <= a <= b <= hi):
        raise ValueError(f"ChainConfig.{name} = ({a:g}, {b:g}) {unit}: allowed range is {lo:g}..{hi:g} {unit} "
                         "with low <= high")


def _choices(name: str, value, lo: float, hi: float, unit: str) -> None:
    """A non-empty tuple of values inside [lo, hi]."""
    if not isinstance(value, tuple) or not value:
        raise ValueError(f"ChainConfig.{name} = {value!r}: need a non-empty tuple of values in {lo:g}..{hi:g} {unit}")
    for v in value:
        if not lo <= float(v) <= hi:
            raise ValueError(f"ChainConfig.{name} contains {v!r} {unit}: allowed range is {lo:g}..{hi:g} {unit}")


@dataclass(frozen=True)
class ChainConfig:
    """Ranges of the recording chain. Pairs are (low, high), tuples are the choices; see the
    module docstring for the defaults and their sources. ``p_*`` are probabilities in [0, 1]."""

    highpass_hz: tuple[float, float] = (2.0, 20.0)
    highpass_orders: tuple[int, ...] = (1, 2)
    lowpass_hz: tuple[float, float] = (2000.0, 10000.0)
    lowpass_orders: tuple[int, ...] = (2, 3, 4)
    sample_rates_hz: tuple[int, ...] = REAL_RATES_HZ
    gain_error_db: tuple[float, float] = (-6.0, 6.0)
    p_invert: float = 0.5
    p_hum: float = 0.5
    mains_hz: tuple[float, ...] = (50.0, 60.0)
    hum_uv: tuple[float, float] = (1.0, 40.0)
    p_noise: float = 0.5
    noise_uv: tuple[float, float] = (0.5, 10.0)
    p_clip: float = 0.03
    clip_below_peak_db: tuple[float, float] = (1.0, 12.0)
    uv_per_lsb: tuple[float, ...] = REAL_UV_PER_LSB

    def __post_init__(self) -> None:
        _range("highpass_hz", self.highpass_hz, 0.1, 200.0, "Hz")
        _range("lowpass_hz", self.lowpass_hz, 500.0, 30000.0, "Hz")
        if float(self.highpass_hz[1]) * 4 > float(self.lowpass_hz[0]):
            raise ValueError(f"ChainConfig.highpass_hz high {self.highpass_hz[1]:g} Hz: must be at most a quarter "
                             f"of lowpass_hz low {self.lowpass_hz[0]:g} Hz")
        _choices("highpass_orders", self.highpass_orders, 1, 4, "")
        _choices("lowpass_orders", self.lowpass_orders, 1, 8, "")
        for name in ("highpass_orders", "lowpass_orders"):
            if any(int(v) != v for v in getattr(self, name)):
                raise ValueError(f"ChainConfig.{name} = {getattr(self, name)!r}: orders must be whole numbers")
        _choices("sample_rates_hz", self.sample_rates_hz, 1000, 96000, "Hz")
        if any(int(v) != v for v in self.sample_rates_hz):
            raise ValueError(f"ChainConfig.sample_rates_hz = {self.sample_rates_hz!r}: rates must be whole Hz")
        _range("gain_error_db", self.gain_error_db, -20.0, 20.0, "dB")
        for name in ("p_invert", "p_hum", "p_noise", "p_clip"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"ChainConfig.{name} = {v}: allowed range is 0..1")
        _choices("mains_hz", self.mains_hz, 40.0, 70.0, "Hz")
        _range("hum_uv", self.hum_uv, 0.0, 1000.0, "µV")
        _range("noise_uv", self.noise_uv, 0.0, 1000.0, "µV")
        _range("clip_below_peak_db", self.clip_below_peak_db, 0.0, 40.0, "dB")
        _choices("uv_per_lsb", self.uv_per_lsb, 0.01, 100.0, "µV/LSB")

    def draw(self, seed: int) -> "Chain":
        """One concrete chain, deterministic from ``seed`` (any int >= 0)."""
        if int(seed) < 0:
            raise ValueError(f"chain seed {seed} must be >= 0")
        rng = np.random.default_rng([int(seed), _CHAIN_STREAM])

        def loguniform(lo_hi):
            lo, hi = (float(v) for v in lo_hi)
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) if hi > lo else lo

        rate = int(rng.choice(self.sample_rates_hz))
        hp, lp = loguniform(self.highpass_hz), loguniform(self.lowpass_hz)
        hp_order, lp_order = int(rng.choice(self.highpass_orders)), int(rng.choice(self.lowpass_orders))
        clamped_from = None
        if lp > MAX_LOWPASS_FRACTION * rate:
            clamped_from, lp = lp, MAX_LOWPASS_FRACTION * rate
        gain_db = float(rng.uniform(*self.gain_error_db))
        inverted = bool(rng.random() < self.p_invert)
        mains = float(rng.choice(self.mains_hz))
        hum = float(rng.uniform(*self.hum_uv)) if rng.random() < self.p_hum else 0.0
        harmonics = tuple(float(h) for h in rng.uniform(0.05, 0.5, size=4) / np.arange(2, 6))
        noise = float(rng.uniform(*self.noise_uv)) if rng.random() < self.p_noise else 0.0
        clip = float(rng.uniform(*self.clip_below_peak_db)) if rng.random() < self.p_clip else None
        uv = float(rng.choice(self.uv_per_lsb))
        return Chain(seed=int(seed), sample_rate=rate, highpass_hz=round(hp, 4), highpass_order=hp_order,
                     lowpass_hz=round(lp, 3), lowpass_order=lp_order,
                     lowpass_clamped_from_hz=None if clamped_from is None else round(clamped_from, 3),
                     gain_error_db=round(gain_db, 4), inverted=inverted, mains_hz=mains, hum_uv=round(hum, 4),
                     hum_harmonics=tuple(round(h, 5) for h in harmonics), noise_uv=round(noise, 4),
                     clip_below_peak_db=None if clip is None else round(clip, 4), uv_per_lsb=uv)


@dataclass(frozen=True)
class Chain:
    """One drawn recording chain (Hz, µV, dB). ``hum_uv``/``noise_uv`` 0 = none,
    ``clip_below_peak_db`` None = no rails below int16 saturation. ``lowpass_clamped_from_hz``:
    the drawn low-pass edge when it had to be lowered to 0.45 × ``sample_rate``."""

    seed: int
    sample_rate: int
    highpass_hz: float
    highpass_order: int
    lowpass_hz: float
    lowpass_order: int
    lowpass_clamped_from_hz: float | None
    gain_error_db: float
    inverted: bool
    mains_hz: float
    hum_uv: float
    hum_harmonics: tuple[float, ...]
    noise_uv: float
    clip_below_peak_db: float | None
    uv_per_lsb: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hum_harmonics"] = list(self.hum_harmonics)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Chain":
        """The chain :meth:`to_dict` (or a recording's ``meta["chain"]``, which adds what applying
        it did) describes; keys that are not fields are ignored."""
        fields = {k: d[k] for k in cls.__dataclass_fields__}
        fields["hum_harmonics"] = tuple(fields["hum_harmonics"])
        return cls(**fields)

    def describe(self) -> str:
        """One line, e.g. for logs: rate, filters, gain, polarity, hum, noise, clipping, scale."""
        parts = [f"{self.sample_rate} Hz", f"HP {self.highpass_hz:.1f} Hz/{self.highpass_order}",
                 f"LP {self.lowpass_hz:.0f} Hz/{self.lowpass_order}", f"gain {self.gain_error_db:+.1f} dB",
                 "inverted" if self.inverted else "upright", f"{self.uv_per_lsb:g} µV/LSB"]
        if self.hum_uv:
            parts.append(f"hum {self.mains_hz:.0f} Hz {self.hum_uv:.1f} µV")
        if self.noise_uv:
            parts.append(f"noise {self.noise_uv:.1f} µV")
        if self.clip_below_peak_db is not None:
            parts.append(f"rails {self.clip_below_peak_db:.1f} dB below peak")
        return ", ".join(parts)


def _filters(chain: Chain, rate: int) -> tuple[np.ndarray, float]:
    """Second-order sections of the chain's band-pass at ``rate`` Hz, and the low-pass edge used."""
    from scipy import signal

    lp = min(chain.lowpass_hz, MAX_LOWPASS_FRACTION * rate)
    hp = signal.butter(chain.highpass_order, chain.highpass_hz, "highpass", fs=rate, output="sos")
    lo = signal.butter(chain.lowpass_order, lp, "lowpass", fs=rate, output="sos")
    return np.vstack([hp, lo]), lp


def apply_chain(rec: Recording, chain: Chain, rng: np.random.Generator | None = None) -> Recording:
    """``rec`` as recorded through ``chain`` (see the module docstring for the signal path).

    ``rng`` draws the noise and the hum phases; None derives them from ``chain.seed``, so the
    same chain on the same recording gives the same output.
    """
    from scipy import signal

    from edge.resample import resample

    if rng is None:
        rng = np.random.default_rng([chain.seed, _APPLY_STREAM])
    x = rec.pcm.astype(np.float64) * (float(rec.uv_per_lsb) * 10.0 ** (chain.gain_error_db / 20.0))
    if chain.inverted:
        x = -x
    sos, lp_used = _filters(chain, int(rec.sample_rate))
    if len(x):
        x, _ = signal.sosfilt(sos, x, zi=signal.sosfilt_zi(sos) * x[0])
    rate = int(chain.sample_rate)
    if rate != int(rec.sample_rate):
        x = resample(x, int(rec.sample_rate), rate)
    n = len(x)
    if chain.hum_uv:
        t = np.arange(n) / float(rate)
        hum = np.zeros(n)
        for k, rel in enumerate((1.0,) + tuple(chain.hum_harmonics), start=1):
            if k * chain.mains_hz < 0.5 * rate:
                hum += rel * np.sin(2 * np.pi * k * chain.mains_hz * t + rng.uniform(0, 2 * np.pi))
        x = x + chain.hum_uv * hum
    if chain.noise_uv:
        x = x + rng.standard_normal(n) * chain.noise_uv
    rails_uv = None
    if chain.clip_below_peak_db is not None and n:
        rails_uv = float(np.abs(x).max()) * 10.0 ** (-chain.clip_below_peak_db / 20.0)
        x = np.clip(x, -rails_uv, rails_uv)
    codes = np.rint(x / chain.uv_per_lsb)
    saturated = int(np.count_nonzero((codes < -32768) | (codes > 32767)))
    pcm = np.clip(codes, -32768, 32767).astype(np.int16)
    clipped = saturated
    if rails_uv is not None:
        rail_code = np.rint(rails_uv / chain.uv_per_lsb)
        clipped = int(np.count_nonzero(np.abs(codes) >= rail_code)) if rail_code > 0 else n
    meta = dict(rec.meta)
    meta["chain"] = {
        **chain.to_dict(),
        "source_rate_hz": int(rec.sample_rate), "source_uv_per_lsb": float(rec.uv_per_lsb),
        "lowpass_applied_hz": round(lp_used, 3),
        "rails_uv": None if rails_uv is None else round(rails_uv, 3),
        "clipped_samples": clipped, "saturated_samples": saturated,
    }
    return replace(rec, pcm=pcm, sample_rate=rate, uv_per_lsb=float(chain.uv_per_lsb), meta=meta)


def chained(rec: Recording, cfg: ChainConfig, seed: int) -> Recording:
    """``apply_chain(rec, cfg.draw(seed))``: a recording through a chain drawn from ``seed``."""
    return apply_chain(rec, cfg.draw(seed))
