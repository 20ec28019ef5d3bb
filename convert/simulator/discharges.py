"""Discharge (firing) models: when potentials occur, and how their amplitude changes.

Each function takes a ``numpy.random.Generator`` and a duration in seconds and returns event
times in seconds (sorted, within [0, duration)); burst models also return amplitude factors.
Ranges are the callers' (see :mod:`convert.simulator.scenes`); this module only shapes the
timing statistics: regular, irregular, constant, waxing/waning, grouped, decrementing.
"""

from __future__ import annotations

import numpy as np


def regular(rng: np.random.Generator, duration_s: float, rate_hz: float, cv: float,
            slowing: float = 0.0) -> np.ndarray:
    """Regular train (fibrillations, positive sharp waves): intervals 1/rate with Gaussian
    jitter of coefficient of variation ``cv``; the rate falls linearly by the fraction
    ``slowing`` over the train (fibrillations "may slow over seconds before stopping", CW §2)."""
    times = []
    t = rng.uniform(0.0, 1.0 / rate_hz)
    while t < duration_s:
        times.append(t)
        r = rate_hz * (1.0 - slowing * t / max(duration_s, 1e-9))
        t += max(1.0 / r * (1.0 + cv * rng.standard_normal()), 0.2 / r)
    return np.asarray(times)


def constant(rng: np.random.Generator, duration_s: float, rate_hz: float, jitter_s: float) -> np.ndarray:
    """Machine-like constant-rate train (complex repetitive discharges): a fixed period with
    only ``jitter_s`` of timing jitter, abrupt start and stop."""
    period = 1.0 / rate_hz
    t0 = rng.uniform(0.0, min(period, 0.05))
    times = np.arange(t0, duration_s, period)
    return np.sort(times + rng.normal(0.0, jitter_s, len(times)))


def poisson(rng: np.random.Generator, duration_s: float, rate_hz: float, dead_time_s: float = 0.0) -> np.ndarray:
    """Irregular (Poisson with dead time) train: fasciculations, MEPPs, insertional spikes."""
    mean_gap = max(1.0 / rate_hz - dead_time_s, 1e-6)
    n = int(duration_s * rate_hz * 1.5 + 20)
    gaps = dead_time_s + rng.exponential(mean_gap, n)
    times = np.cumsum(gaps) - rng.uniform(0.0, gaps[0])
    while times[-1] < duration_s:  # rare: draw more
        more = times[-1] + np.cumsum(dead_time_s + rng.exponential(mean_gap, n))
        times = np.concatenate([times, more])
    return times[(times >= 0.0) & (times < duration_s)]


def bursty(rng: np.random.Generator, duration_s: float, rate_hz: float, cv: float,
           min_interval_s: float) -> np.ndarray:
    """Irregular renewal train with log-normal intervals of coefficient of variation ``cv``
    and a hard minimum interval (endplate spikes: irregular, with shorter minimum intervals
    than fibrillations, CW §2 "Endplate noise / spikes", Partanen 2013)."""
    sigma = np.sqrt(np.log1p(cv ** 2))
    mean = 1.0 / rate_hz
    mu = np.log(mean) - 0.5 * sigma ** 2
    n = int(duration_s * rate_hz * 2 + 20)
    gaps = np.maximum(rng.lognormal(mu, sigma, n), min_interval_s)
    times = np.cumsum(gaps) - rng.uniform(0.0, gaps[0])
    return times[(times >= 0.0) & (times < duration_s)]


def rate_profile_train(rate_hz: np.ndarray, step_s: float, rng: np.random.Generator,
                       cv: float = 0.0) -> np.ndarray:
    """Events of a train whose instantaneous rate follows ``rate_hz`` sampled every ``step_s``:
    an event whenever the integrated rate crosses an integer (integrate-and-fire), with an
    optional interval jitter ``cv``."""
    phase = np.cumsum(rate_hz) * step_s
    phase = phase - rng.uniform(0.0, 1.0)
    k = np.arange(np.ceil(max(phase[0], 0.0)), np.floor(phase[-1]) + 1)
    t = np.interp(k, phase, np.arange(len(phase)) * step_s)
    if cv > 0.0 and len(t) > 1:
        t = t + rng.normal(0.0, cv, len(t)) / np.interp(t, np.arange(len(phase)) * step_s, rate_hz)
        t = np.sort(t)
    return t[t >= 0.0]


def wax_wane(rng: np.random.Generator, duration_s: float, min_rate_hz: float, peak_rate_hz: float,
             rise_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """One myotonic discharge: rate and amplitude wax to a peak at ``rise_frac`` of the
    discharge, then wane ("dive bomber"; AANEM: amplitude and frequency must wax and wane,
    CW §2 "Myotonic discharge"). Returns (times_s, amplitude factors 0.45..1)."""
    step = 1e-3
    x = np.arange(0.0, duration_s, step) / duration_s
    # Smooth unimodal bump with its maximum at rise_frac.
    a = max(rise_frac, 0.05)
    bump = np.where(x < a, np.sin(0.5 * np.pi * x / a) ** 2, np.cos(0.5 * np.pi * (x - a) / (1 - a)) ** 2)
    rate = min_rate_hz + (peak_rate_hz - min_rate_hz) * bump
    times = rate_profile_train(rate, step, rng, cv=0.01)
    amp = 0.45 + 0.55 * np.interp(times, np.arange(len(x)) * step, bump)
    return times, amp


def grouped(rng: np.random.Generator, duration_s: float, burst_rate_hz: float, burst_cv: float,
            spikes_per_burst: tuple[int, int], intra_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Grouped discharges (myokymia): semi-rhythmic bursts at ``burst_rate_hz`` (interval CV
    ``burst_cv``), each a short run of spikes at ``intra_rate_hz``. Returns (times_s, burst index)."""
    onsets = regular(rng, duration_s, burst_rate_hz, burst_cv)
    times, which = [], []
    period = 1.0 / intra_rate_hz
    for b, t0 in enumerate(onsets):
        k = int(rng.integers(spikes_per_burst[0], spikes_per_burst[1] + 1))
        ts = t0 + period * np.arange(k) * (1.0 + rng.normal(0.0, 0.03, k))
        times.append(ts)
        which.append(np.full(k, b))
    if not times:
        return np.zeros(0), np.zeros(0, dtype=int)
    t = np.concatenate(times)
    w = np.concatenate(which)
    keep = t < duration_s
    return t[keep], w[keep]


def decrementing(rng: np.random.Generator, duration_s: float, start_rate_hz: float,
                 end_rate_hz: float, end_amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """High-frequency burst with waning rate and decrementing amplitude (neuromyotonia:
    >150 Hz for 0.5–2 s, decrementing, abrupt start/stop, CW §2 "Neuromyotonic discharge").
    Returns (times_s, amplitude factors from 1 down to ``end_amplitude``)."""
    step = 1e-4
    x = np.arange(0.0, duration_s, step) / duration_s
    rate = start_rate_hz + (end_rate_hz - start_rate_hz) * x
    times = rate_profile_train(rate, step, rng, cv=0.01)
    amp = end_amplitude ** (times / duration_s)
    return times, amp


def renewal_train(rng: np.random.Generator, rate_hz: np.ndarray, step_s: float, cv) -> np.ndarray:
    """Voluntary firing: a renewal train whose rate follows ``rate_hz`` (sampled every
    ``step_s``; 0 = silent) and whose intervals vary with coefficient of variation ``cv``
    (scalar or per step): each interval ends when the integrated rate has grown by a draw of
    N(1, cv) (clipped to 0.3–2). Unlike :func:`rate_profile_train`'s jitter this keeps the
    intervals independent, as for a motoneuron driven by synaptic noise (RE §2)."""
    rate = np.asarray(rate_hz, dtype=float)
    phase = np.concatenate([[0.0], np.cumsum(rate) * step_s])
    phase = phase + np.arange(len(phase)) * 1e-12  # strictly increasing for interp
    grid = np.arange(len(phase)) * step_s
    total = phase[-1]
    n = int(total * 1.3 + 10)
    cv_arr = np.broadcast_to(np.asarray(cv, dtype=float), rate.shape)
    # Interval k's CV is taken where a jitter-free train would fire it.
    start = rng.uniform(0.0, 1.0)
    t0 = np.interp(start + np.arange(n), phase, grid)
    cvk = np.interp(t0, grid[:-1], cv_arr) if len(cv_arr) else np.zeros(n)
    theta = np.clip(1.0 + cvk * rng.standard_normal(n), 0.3, 2.0)
    crossings = start + np.concatenate([[0.0], np.cumsum(theta[1:])])
    crossings = crossings[crossings < total]
    return np.interp(crossings, phase, grid)
