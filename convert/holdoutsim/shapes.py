"""Waveform shapes (µV against time in ms), independent of any other generator in the kit.

Motor unit and fibre potentials are sums of Hermite–Rodrigues (HR) basis functions, the
classic parametric MUAP shape model (Lo Conte et al. 1994)::

    HR0(u) = exp(-u²)          HR1(u) = u·exp(-u²)          HR2(u) = (1 - 2u²)·exp(-u²)

with ``u = (t - lag) / width``. A first-order function is biphasic, a second-order one
triphasic; mixing several with random signs, widths and lags gives serrated and polyphasic
potentials. Sign convention: the arrays hold the voltage at the needle (negative is negative;
clinical displays draw it upwards).

Every shape is returned sampled at ``fs`` Hz on a time axis centred on 0 (the event time) and
scaled to the asked peak-to-peak amplitude in µV.
"""

from __future__ import annotations

import numpy as np

#: An HR function of width ``w`` is below 2 % of its peak beyond ``|t| > SUPPORT * w``.
SUPPORT = 2.0


def hr(t_ms: np.ndarray, order: int, width_ms: float, lag_ms: float = 0.0) -> np.ndarray:
    """Hermite–Rodrigues function of ``order`` 0, 1 or 2 at times ``t_ms`` (peak magnitude ~1)."""
    if order not in (0, 1, 2):
        raise ValueError(f"order = {order}: allowed 0, 1 or 2")
    if not width_ms > 0:
        raise ValueError(f"width_ms = {width_ms}: must be > 0 ms")
    u = (np.asarray(t_ms, float) - lag_ms) / width_ms
    g = np.exp(-u * u)
    if order == 0:
        return g
    if order == 1:
        return u * g * np.sqrt(2 * np.e)  # peak 1 at u = 1/sqrt(2)
    return (1 - 2 * u * u) * g


def time_axis(fs: float, half_ms: float) -> np.ndarray:
    """Sample times (ms) from ``-half_ms`` to ``+half_ms`` at ``fs`` Hz, 0 included."""
    n = int(np.ceil(half_ms * fs / 1000.0))
    return np.arange(-n, n + 1) * (1000.0 / fs)


def scale_pp(x: np.ndarray, amp_uv: float) -> np.ndarray:
    """``x`` scaled to a peak-to-peak amplitude of ``amp_uv`` µV."""
    pp = float(x.max() - x.min())
    return x * (amp_uv / pp) if pp > 0 else x


def muap(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float, n_extra: int,
         extra_weight: float = 0.4) -> np.ndarray:
    """A motor unit potential: one main HR1/HR2 component plus ``n_extra`` smaller ones.

    amp_uv: peak-to-peak amplitude (µV). duration_ms: total duration (ms), the span over which
    the components lie. n_extra: added components (0–1 gives a bi/triphasic normal-looking
    unit; 3–7 a polyphasic, serrated one). extra_weight: typical relative size of the added ones.
    The main component's width is a fifth of the duration (its support ±2 widths then covers
    ~80 % of it); added ones are 0.2–0.7 of that width at lags spread over the duration.
    """
    t = time_axis(fs, 0.75 * duration_ms + 1.0)
    w0 = duration_ms / 5.0
    # main component: negative-going spike (order 2 inverted = +,-,+ ; order 1 = -,+ biphasic)
    order = int(rng.choice([1, 2], p=[0.35, 0.65]))
    x = -hr(t, order, w0) if order == 2 else hr(t, 1, w0 * 0.8)
    half = duration_ms / 2.0
    for _ in range(n_extra):
        w = w0 * rng.uniform(0.2, 0.7)
        lag = rng.uniform(-(half - SUPPORT * w), half - SUPPORT * w) if half > SUPPORT * w else 0.0
        a = extra_weight * rng.uniform(0.4, 1.2) * rng.choice([-1.0, 1.0])
        x = x + a * hr(t, int(rng.integers(0, 3)), w, lag)
    return scale_pp(x, amp_uv)


def fibre_spike(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float,
                initial_positive: bool = True) -> np.ndarray:
    """A single-fibre spike (fibrillation, myotonic type 1): bi- or triphasic, 1–5 ms.

    Initial-positive form (recorded away from the origin): ``-HR2`` (+,−,+) mixed with ``-HR1``
    (+,−) at a random ratio; initial-negative (at the site of origin): the sign of the HR1 part
    flipped and the leading positive lobe removed. duration_ms: total duration (ms).
    """
    t = time_axis(fs, duration_ms)
    w = duration_ms / (2 * SUPPORT + 0.5)
    tri = rng.uniform(0.3, 1.0)  # share of the triphasic part
    if initial_positive:
        x = -tri * hr(t, 2, w) - (1 - tri) * hr(t, 1, w)
    else:
        x = -tri * hr(t, 0, w * 0.8) + (1 - tri) * hr(t, 1, w)
    return scale_pp(x, amp_uv)


def positive_sharp_wave(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float) -> np.ndarray:
    """A positive sharp wave: a fast positive step, then a long low negative return (10–30 ms).

    Positive phase: rise time constant 0.2–0.6 ms, fall 0.8–2 ms (biexponential). Negative phase:
    an exponential-like slow lobe ``s·exp(1 - s)`` (``s = t/τ``) with τ set so the potential has
    returned to baseline by ``duration_ms``; its depth is 10–35 % of the positive peak (our choice:
    the reference says only "long low negative phase").
    """
    t = time_axis(fs, duration_ms)
    tp = np.clip(t, 0, None)
    rise, fall = rng.uniform(0.2, 0.6), rng.uniform(0.8, 2.0)
    pos = np.where(t >= 0, np.exp(-tp / fall) - np.exp(-tp / rise), 0.0)
    pos /= pos.max()
    tau = duration_ms / 6.0
    s = np.clip(t - 0.5 * fall, 0, None) / tau
    neg = s * np.exp(1 - s)
    x = pos - rng.uniform(0.10, 0.35) * neg
    return scale_pp(x, amp_uv)


def endplate_potential(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float) -> np.ndarray:
    """Miniature end-plate potential: a short monophasic negative transient (peak ``-amp_uv``).

    Shape ``-s·exp(1 - s)`` with a fast rise; duration_ms: time to fall below ~5 % (ms).
    """
    t = time_axis(fs, duration_ms)
    tau = duration_ms / 5.0
    s = np.clip(t, 0, None) / tau
    return -amp_uv * s * np.exp(1 - s)


def endplate_spike(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float) -> np.ndarray:
    """End-plate spike: biphasic with an **initial negative** phase, 2–5 ms.

    A negative HR0 lobe followed by a wider, smaller positive HR0 lobe (20–60 % of it, our choice).
    """
    t = time_axis(fs, duration_ms)
    w = duration_ms / 6.0
    x = -hr(t, 0, w, -w) + rng.uniform(0.2, 0.6) * hr(t, 0, 1.5 * w, 1.5 * w)
    return scale_pp(x, amp_uv)


def complex_potential(rng: np.random.Generator, fs: float, amp_uv: float, duration_ms: float,
                      n_spikes: int) -> np.ndarray:
    """A serrated, polyphasic complex: ``n_spikes`` fibre-like HR spikes at fixed lags (CRD).

    Each spike 0.5–2 ms wide (our choice), random sign and size, lags spread over ``duration_ms``.
    """
    t = time_axis(fs, 0.6 * duration_ms + 2.0)
    x = np.zeros_like(t)
    lags = np.sort(rng.uniform(-duration_ms / 2, duration_ms / 2, n_spikes))
    for lag in lags:
        w = rng.uniform(0.5, 2.0) / (2 * SUPPORT)
        order = int(rng.integers(1, 3))
        x += rng.uniform(0.3, 1.0) * rng.choice([-1.0, 1.0]) * hr(t, order, w, lag)
    return scale_pp(x, amp_uv)


def first_extremum_sign(x: np.ndarray, frac: float = 0.2) -> int:
    """Sign (+1/-1) of the first sample whose magnitude reaches ``frac`` of the peak magnitude."""
    thr = frac * float(np.max(np.abs(x)))
    i = int(np.argmax(np.abs(x) >= thr))
    return 1 if x[i] > 0 else -1
