"""Discharge times (s): gamma-interval renewal trains, time-rescaled for changing rates.

A gamma renewal process with coefficient of variation ``cv`` has shape ``k = 1/cv²``; its
intervals are drawn in *operational time* (mean 1) and mapped to real time through the
integrated rate ``Λ(t) = ∫ r``, so a rate that changes along the clip (waxing and waning,
a slowing fibrillation, a common drive) keeps the same regularity at every rate.
"""

from __future__ import annotations

import numpy as np


def _check(rate_hz, cv: float) -> None:
    if np.any(np.asarray(rate_hz) <= 0):
        raise ValueError(f"rate_hz = {np.min(rate_hz)}: rates must be > 0 Hz")
    if not 0 < cv <= 2:
        raise ValueError(f"cv = {cv}: allowed range is 0 < cv <= 2")


def gamma_intervals(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """``n`` gamma intervals of mean 1 and coefficient of variation ``cv``."""
    k = 1.0 / (cv * cv)
    return rng.gamma(k, 1.0 / k, size=n)


def renewal_train(rng: np.random.Generator, t0_s: float, t1_s: float, rate_hz, cv: float,
                  dt_s: float = 1e-3, refractory_s: float = 0.0, random_phase: bool = True) -> np.ndarray:
    """Discharge times in ``[t0_s, t1_s)`` of a gamma renewal train.

    rate_hz: a constant (Hz) or a callable ``rate(t_s) -> Hz`` (vectorised), evaluated on a grid
    of ``dt_s``. cv: interval coefficient of variation. refractory_s: intervals shorter than this
    are lengthened to it. random_phase: the first discharge falls anywhere in the first interval
    (a train already running); otherwise it is at ``t0_s`` (an abrupt start).
    """
    if t1_s <= t0_s:
        return np.zeros(0)
    grid = np.arange(t0_s, t1_s + dt_s, dt_s)
    r = np.asarray(rate_hz(grid), float) if callable(rate_hz) else np.full(grid.shape, float(rate_hz))
    _check(r, cv)
    lam = np.concatenate([[0.0], np.cumsum(0.5 * (r[1:] + r[:-1]) * dt_s)])  # Λ(t) on the grid
    total = lam[-1]
    n = int(total + 6 * np.sqrt(total + 1) * max(cv, 0.2) + 10)
    steps = gamma_intervals(rng, n, cv)
    first = rng.uniform(0, steps[0]) if random_phase else 0.0
    op = first + np.concatenate([[0.0], np.cumsum(steps[1:])])
    while op[-1] < total:  # rare: draw more
        more = gamma_intervals(rng, n, cv)
        op = np.concatenate([op, op[-1] + np.cumsum(more)])
    op = op[op < total]
    times = np.interp(op, lam, grid)
    if refractory_s > 0 and len(times) > 1:
        gaps = np.maximum(np.diff(times), refractory_s)
        times = times[0] + np.concatenate([[0.0], np.cumsum(gaps)])
        times = times[times < t1_s]
    return times


def regular_train(rng: np.random.Generator, t0_s: float, t1_s: float, rate_hz: float,
                  jitter_cv: float = 0.0, random_phase: bool = False) -> np.ndarray:
    """A near-constant-rate train: intervals ``1/rate_hz`` with Gaussian jitter of ``jitter_cv``
    (fraction of the interval). Starts at ``t0_s`` unless ``random_phase``."""
    if rate_hz <= 0:
        raise ValueError(f"rate_hz = {rate_hz}: must be > 0 Hz")
    if not 0 <= jitter_cv < 0.3:
        raise ValueError(f"jitter_cv = {jitter_cv}: allowed range is 0 <= x < 0.3")
    period = 1.0 / rate_hz
    n = int((t1_s - t0_s) * rate_hz) + 2
    gaps = period * (1 + jitter_cv * rng.standard_normal(n))
    start = t0_s + (rng.uniform(0, period) if random_phase else 0.0)
    times = start + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    return times[(times >= t0_s) & (times < t1_s)]


def interval_cv(times: np.ndarray) -> float:
    """Coefficient of variation of the intervals of ``times`` (nan with < 3 discharges)."""
    d = np.diff(np.sort(np.asarray(times, float)))
    return float(d.std() / d.mean()) if len(d) >= 2 and d.mean() > 0 else float("nan")
