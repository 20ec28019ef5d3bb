"""Discharge trains (times in s, rates in Hz) and their rendering into a signal (µV).

Every train generator takes a ``numpy.random.Generator`` and returns sorted discharge times
within ``[start_s, end_s)``. Interval variability is stated as a coefficient of variation (CV,
standard deviation / mean of the inter-discharge intervals).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from convert.altsim._check import check_range


def regular(rng: np.random.Generator, rate_hz: float, start_s: float, end_s: float, cv: float = 0.01,
            slowing: float = 0.0) -> np.ndarray:
    """A regular pacemaker: intervals ``1/rate_hz`` with Gaussian jitter of ``cv`` (fraction of
    the interval), lengthening linearly by the fraction ``slowing`` from start to end (a
    fibrillating fibre may slow before it stops). The first discharge falls at a random phase
    of the first interval."""
    check_range("rate_hz", rate_hz, 0.01, 2000.0)
    check_range("cv", cv, 0.0, 0.5)
    check_range("slowing", slowing, 0.0, 5.0)
    span = end_s - start_s
    base = 1.0 / rate_hz
    t = start_s + rng.uniform(0.0, base)
    out = []
    while t < end_s:
        out.append(t)
        mean = base * (1.0 + slowing * (t - start_s) / span) if span > 0 else base
        t += max(mean * (1.0 + cv * rng.standard_normal()), 0.2 * mean)
    return np.asarray(out)


def renewal(rng: np.random.Generator, rate_hz: float, cv: float, start_s: float, end_s: float,
            drive: Callable[[float], float] | None = None, refractory_s: float = 0.0) -> np.ndarray:
    """A renewal train with gamma-distributed intervals of mean ``1/rate_hz`` and CV ``cv``
    (shape ``1/cv^2``). ``drive(t)``, if given, multiplies the rate at each discharge (a common
    slow modulation). ``refractory_s`` is the shortest interval. The first discharge falls at a
    random phase of the first interval."""
    check_range("rate_hz", rate_hz, 0.01, 2000.0)
    check_range("cv", cv, 0.01, 3.0)
    shape = 1.0 / cv**2
    t = start_s + rng.uniform(0.0, 1.0 / rate_hz)
    out = []
    while t < end_s:
        out.append(t)
        r = rate_hz * (drive(t) if drive is not None else 1.0)
        t += max(rng.gamma(shape, 1.0 / (shape * r)), refractory_s)
    return np.asarray(out)


def poisson(rng: np.random.Generator, rate_hz: float, start_s: float, end_s: float,
            refractory_s: float = 0.0) -> np.ndarray:
    """Irregular discharges: exponential intervals of mean ``1/rate_hz`` (plus ``refractory_s``)."""
    check_range("rate_hz", rate_hz, 1e-4, 1e5)
    out, t = [], start_s + rng.exponential(1.0 / rate_hz)
    while t < end_s:
        out.append(t)
        t += refractory_s + rng.exponential(1.0 / rate_hz)
    return np.asarray(out)


def from_rate(rng: np.random.Generator, rate_of_t: Callable[[np.ndarray], np.ndarray], start_s: float,
              end_s: float, cv: float = 0.0, dt_s: float = 1e-4) -> np.ndarray:
    """Discharges of a pacemaker whose rate (Hz) follows ``rate_of_t(t)``: a discharge each time
    the integrated rate passes a whole number (first one at ``start_s``), each interval jittered
    by ``cv``."""
    t = np.arange(start_s, end_s, dt_s)
    phase = np.concatenate([[0.0], np.cumsum(rate_of_t(t[:-1]) * dt_s)])
    marks = np.arange(0.0, phase[-1], 1.0)
    times = np.interp(marks, phase, t)
    if cv > 0 and len(times) > 1:
        iv = np.diff(times) * (1.0 + cv * rng.standard_normal(len(times) - 1))
        times = start_s + np.concatenate([[0.0], np.cumsum(np.maximum(iv, 1e-4))])
        times = times[times < end_s]
    return times


def render(n_samples: int, fs_hz: float, times_s: Sequence[float], waveforms: Sequence[np.ndarray] | np.ndarray,
           gains: Sequence[float] | None = None) -> np.ndarray:
    """Sum of waveforms (µV) placed with their first sample at each discharge time.

    ``waveforms``: one array for all discharges, or one per discharge. ``gains``: per-discharge
    amplitude factors (default 1). Discharges are placed to the nearest sample; a waveform
    running past the end is cut.
    """
    out = np.zeros(n_samples)
    single = isinstance(waveforms, np.ndarray) and waveforms.ndim == 1
    for k, t in enumerate(times_s):
        w = waveforms if single else waveforms[k]
        g = 1.0 if gains is None else gains[k]
        i = int(round(t * fs_hz))
        if i >= n_samples or i + len(w) <= 0:
            continue
        a, b = max(i, 0), min(i + len(w), n_samples)
        out[a:b] += g * w[a - i:b - i]
    return out
