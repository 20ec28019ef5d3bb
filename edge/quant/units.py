"""Per-unit measures: a motor unit potential's template and its discharge train.

Template measures (:func:`template_measures`), on a template in µV sampled at ``fs`` Hz:

- *Baseline*: the line through the medians of the template's first and last
  ``baseline_ms`` (removes the offset and slow drift the median average leaves).
- *Level*: ``h = max(level_rel · peak-to-peak, level_uv, noise_k · noise_uv)``, an amplitude
  criterion (the classical onset/end criteria are a slope or an amplitude threshold; an
  amplitude level relative to the potential's size is used here so that the criterion does
  not change with the gain, with an absolute floor, and above the template's own noise
  ``noise_uv`` when the caller knows it: an averaged template's ends carry the residue of
  the background, which at 10 µV would otherwise stretch the duration to the window's edge).
- *Onset / end*: on the template smoothed by a ``smooth_ms`` moving average (the slow initial
  and terminal phases are kept, the residual noise is not), walk outwards from the largest
  deflection over samples with |v| > h; a stretch of at least ``gap_ms`` below h ends the
  walk (an isoelectric interval). Onset is the first, end the last above-level sample
  reached. ``duration_ms = (end − onset) / fs``. The gap is 3 ms: a normal MUAP's slow
  return between its main spike and a broad, low terminal phase can stay under the level
  for 1–3 ms, and a 1 ms gap cut such a potential to its spike (2 ms instead of 10–15 ms,
  flipping with µV-sized differences).
- *Duration range*: the duration again with the level lowered and raised by ``range_db``
  (default 2 dB: h × 10^(∓range_db/20)), as (shortest, longest) ms, the nominal included. A
  low initial or terminal phase that lingers near the level makes the duration
  ill-conditioned: on the simulated QEMG benchmark, ±2 dB moves 30–42 % of the noise-free
  templates' durations by more than 1.5 ms (``benchmarks/quant.py``), so the range is
  reported beside the duration as its sensitivity to the criterion (not a confidence
  interval).
- *Amplitude*: peak-to-peak (max − min) between onset and end, µV.
- *Phases*: baseline crossings between onset and end + 1; a crossing counts when the signal
  passes from beyond +h to beyond −h or back (hysteresis h, so noise around zero does not
  count).
- *Turns*: peaks and troughs between onset and end with a prominence ≥ ``turn_uv`` (a slope
  reversal of at least ``turn_uv`` on both sides; 25 µV as in Stålberg's turns criterion
  for MUP analysis).
- *Area*: ∫|v| dt between onset and end, µV·ms; *thickness* = area / amplitude, ms.
- *Satellites*: above-level components (same smoothed criterion) after the end, separated
  from it by an isoelectric interval ≥ ``gap_ms``, whose own peak-to-peak is ≥ 2·h (late,
  time-locked components).

Firing (:func:`firing`): inter-discharge intervals (ISIs) between consecutive discharges.
Rate = 1 / the unit's period P (Hz). P starts at the median ISI and is refined three times:
an interval of 0.5–3.5 periods counts as k intervals, k its nearest whole number of periods
(k − 1 missed discharges), and P = the median of those intervals / k; shorter ones (a false
discharge splits an interval) are left out. A train whose intervals all lie within
0.5–1.5 × its median keeps P = the median ISI. The plain median ISI drifts up when a
decomposition misses a share of a unit's discharges (at 70 % found, about half of the
intervals are doubled): on simulated contractions the rate error's median fell from 0.55
to 0.09 Hz. ISI CV = SD / mean of the intervals within 0.5–1.5 × P. Fewer than 3 such
intervals: rate and CV are 0.

With the defaults (level 2 % of peak-to-peak, floor 10 µV, 2 × the template noise,
smoothing 0.5 ms, isoelectric gap 3 ms) the noise-free templates of simulator 1.5.0's normal
concentric units measure a median of 14.2 ms (10–90 %: 9.1–17.9 ms; 111 units of the QEMG
accuracy recordings; TA controls 9.35 ± 0.93 ms, RE §2: the simulated terminal phases are
long); the duration is the measure most sensitive to the level: the simulated MUAPs' low
initial and terminal phases lie near it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from edge.validation import check_ranges

__all__ = ["MeasureConfig", "TemplateMeasures", "template_measures", "median_template", "firing", "nearest",
           "regular_share", "turn_points"]


@dataclass(frozen=True)
class MeasureConfig:
    """Criteria of the template measures (module docstring)."""

    level_rel: float = 0.02   # fraction of peak-to-peak
    level_uv: float = 10.0    # µV floor of the level (template noise after median averaging)
    gap_ms: float = 3.0       # isoelectric interval that ends the potential, ms
    turn_uv: float = 25.0     # µV of a turn (slope reversal)
    baseline_ms: float = 1.5  # ms at each end of the template for the baseline
    noise_k: float = 2.0      # the level is at least this × the template's noise (µV), if given
    smooth_ms: float = 0.5    # moving average of the onset/end search, ms (0: none)
    range_db: float = 2.0     # level change of the duration range, dB (0: range = duration)

    def __post_init__(self) -> None:
        check_ranges(self, (("level_rel", 0.001, 0.5), ("level_uv", 0.0, 1000.0, "µV"), ("gap_ms", 0.05, 20.0, "ms"),
                            ("turn_uv", 0.1, 10000.0, "µV"), ("baseline_ms", 0.1, 20.0, "ms"), ("noise_k", 0.0, 20.0),
                            ("smooth_ms", 0.0, 5.0, "ms"), ("range_db", 0.0, 12.0, "dB")))


@dataclass(frozen=True)
class TemplateMeasures:
    """Measures of one template (units in the module docstring); ``onset``/``end``/``peak``
    are sample indices into the template."""

    amplitude_uv: float
    duration_ms: float
    phases: int
    turns: int
    area_uv_ms: float
    thickness_ms: float
    satellites: int
    onset: int
    end: int
    peak: int
    duration_range_ms: tuple[float, float] = (0.0, 0.0)


def _baseline(v: np.ndarray, n_edge: int) -> np.ndarray:
    n_edge = max(1, min(n_edge, len(v) // 4))
    a, b = float(np.median(v[:n_edge])), float(np.median(v[-n_edge:]))
    return v - np.linspace(a, b, len(v))


def _walk(above: np.ndarray, start: int, step: int, gap: int) -> int:
    """Last above-level index reached from ``start`` moving by ``step`` without a gap ≥ ``gap``."""
    last, i, run, n = start, start, 0, len(above)
    while 0 <= i < n:
        if above[i]:
            last, run = i, 0
        else:
            run += 1
            if run >= gap:
                break
        i += step
    return last


def turn_points(v: np.ndarray, turn_uv: float) -> np.ndarray:
    """Sorted indices of peaks and troughs of ``v`` with prominence ≥ ``turn_uv`` (µV)."""
    v = np.asarray(v, dtype=np.float64)
    p, _ = find_peaks(v, prominence=turn_uv)
    t, _ = find_peaks(-v, prominence=turn_uv)
    return np.sort(np.concatenate([p, t]))


def _crossings(v: np.ndarray, h: float) -> int:
    """Baseline crossings with hysteresis ±h."""
    s = np.where(v > h, 1, np.where(v < -h, -1, 0))
    s = s[s != 0]
    return int(np.count_nonzero(s[1:] != s[:-1])) if len(s) else 0


def template_measures(template_uv: np.ndarray, fs: float, cfg: MeasureConfig | None = None,
                      noise_uv: float = 0.0) -> TemplateMeasures:
    """Amplitude, duration, phases, turns, area, thickness and satellites of a template (µV).
    ``noise_uv``: the template's own noise σ (µV; 0 for a noise-free template), which raises
    the level (module docstring)."""
    cfg = cfg or MeasureConfig()
    v = _baseline(np.asarray(template_uv, dtype=np.float64), int(round(cfg.baseline_ms * fs / 1000.0)))
    n = len(v)
    if n < 3 or not np.all(np.isfinite(v)):
        raise ValueError(f"template of {n} samples (finite values needed, at least 3)")
    if not (math.isfinite(noise_uv) and noise_uv >= 0.0):
        raise ValueError(f"noise_uv = {noise_uv!r}: must be a finite value >= 0 µV")
    peak = int(np.argmax(np.abs(v)))
    h = max(cfg.level_rel * float(v.max() - v.min()), cfg.level_uv, cfg.noise_k * float(noise_uv))
    w = int(round(cfg.smooth_ms * fs / 1000.0))
    vs = np.convolve(v, np.ones(w) / w, mode="same") if w > 1 else v
    gap = max(1, int(round(cfg.gap_ms * fs / 1000.0)))

    def extent(level: float) -> tuple[np.ndarray, int, int]:
        """Samples above ``level``, and the onset and end walked out from the peak."""
        above = np.abs(vs) > level
        return above, _walk(above, peak, -1, gap), _walk(above, peak, 1, gap)

    above, onset, end = extent(h)
    spans = [end - onset]
    for f in (10.0 ** (-cfg.range_db / 20.0), 10.0 ** (cfg.range_db / 20.0)) if cfg.range_db > 0 else ():
        _, a, b = extent(h * f)
        spans.append(b - a)
    seg = v[onset:end + 1]
    amp = float(seg.max() - seg.min())
    area = float(np.sum(np.abs(seg)) * 1000.0 / fs)
    phases = _crossings(seg, h) + 1
    turns = len(turn_points(seg, cfg.turn_uv))
    sats, i = 0, end + 1
    while i < n:  # later components beyond an isoelectric interval
        j = i + int(np.argmax(above[i:])) if above[i:].any() else n
        if j >= n:
            break
        k = _walk(above, j, 1, gap)
        comp = v[j:k + 1]
        if float(comp.max() - comp.min()) >= 2.0 * h:
            sats += 1
        i = k + 1
    return TemplateMeasures(amplitude_uv=amp, duration_ms=(end - onset) * 1000.0 / fs, phases=phases,
                            turns=turns, area_uv_ms=area, thickness_ms=area / amp if amp > 0 else 0.0,
                            satellites=sats, onset=onset, end=end, peak=peak,
                            duration_range_ms=(min(spans) * 1000.0 / fs, max(spans) * 1000.0 / fs))


def median_template(stack: np.ndarray) -> tuple[np.ndarray, float]:
    """A unit's template from its aligned discharges ``stack`` (N × L, µV): the sample-wise
    median (computed in the stack's dtype, returned as float64), and that median's noise σ
    (µV): 1.2533 × the robust spread across discharges (1.4826 × MAD, median over the
    samples) / √N."""
    s = np.asarray(stack)
    med = np.median(s, axis=0)
    mad = np.median(np.abs(s - med), axis=0)
    return med.astype(np.float64), float(1.2533 * 1.4826 * np.median(mad) / math.sqrt(len(s)))


def nearest(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """For each element of ``a``, the nearest element of the sorted, non-empty ``b``."""
    if len(b) == 1:
        return np.full(len(a), b[0])
    pos = np.clip(np.searchsorted(b, a), 1, len(b) - 1)
    lo, hi = b[pos - 1], b[pos]
    return np.where(np.abs(a - lo) < np.abs(a - hi), lo, hi)


def regular_share(times) -> float:
    """Share of a train's intervals within 0.5–1.5 × its median interval (0 with fewer than
    3 intervals): ~0.9 for one voluntary unit, ~0.35 for Poisson-like crossings."""
    isi = np.diff(np.sort(np.asarray(times, dtype=np.float64)))
    if len(isi) < 3:
        return 0.0
    med = np.median(isi)
    return float(np.mean((isi >= 0.5 * med) & (isi <= 1.5 * med)))


def firing(times_s) -> tuple[float, float]:
    """(mean rate Hz, ISI CV) of a discharge train (module docstring); (0, 0) if too few."""
    t = np.sort(np.asarray(times_s, dtype=np.float64))
    if len(t) < 4:
        return 0.0, 0.0
    isi = np.diff(t)
    p = float(np.median(isi))
    for _ in range(3):  # the period, with intervals of k missed-discharge periods counted as k
        if p <= 0:
            break
        k = np.floor(isi / p + 0.5)  # the nearest whole number of periods
        ok = (k >= 1) & (k <= 3)
        if np.count_nonzero(ok) < 3:
            break
        p = float(np.median(isi[ok] / k[ok]))
    keep = isi[(isi >= 0.5 * p) & (isi <= 1.5 * p)]
    if len(keep) < 3 or keep.mean() <= 0 or p <= 0:
        return 0.0, 0.0
    m = float(keep.mean())
    return 1.0 / p, float(keep.std() / m)
