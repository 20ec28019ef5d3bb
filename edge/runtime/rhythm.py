"""Rhythm check: a call of a *regular* discharge needs a regular train in the signal, and a
call of a *sparse* one (fasciculation) may not sit on a voluntary unit's steady train.

Fibrillation potentials and positive sharp waves fire **regularly** (0.5–15 Hz,
``clinical-waveforms.md`` §2); voluntary motor units fire with an interval CV of 10–35 %
(``real-emg.md`` §2). The classifier
sees 1 s of features: it cannot hear regularity over several seconds, and a lone, slow
voluntary unit through a narrow recording chain has been called positive sharp waves with
confidence 0.98. This stage listens to the last ``context_s`` seconds of the (calibrated)
signal whenever the model calls one of the regular classes, and withholds the call when the
potentials there fire irregularly. It never adds evidence; it only removes a call that the
signal's own rhythm contradicts.

Config :class:`RhythmConfig`; state :class:`RhythmGuard` (a ring of the last ``context_s`` of
samples); process :meth:`RhythmGuard.check` for one window. The steps, on the context:

1. **Detection band** (:func:`band_filter`): 2nd-order Butterworth band-pass
   ``band_lo_hz``–``band_hi_hz`` (upper edge at most 0.4 × the sample rate), causal
   (``scipy.signal.sosfilt``); the guard filters each sample once as it arrives and keeps
   ``|band|`` of the last ``context_s`` (a segment's filter starts in the steady state of its
   first sample; :func:`detect`, for a signal at hand, starts at the signal's): the sharp phases of single-fibre potentials,
   positive sharp waves and MUAPs, without baseline drift or the slow negative tail of a PSW.
2. **Potentials** (:func:`band_peaks`): local maxima of ``|band|`` at least ``threshold_sigma`` × σ,
   σ = median(|band|) / 0.6745 (the robust noise estimate of spike sorting; the median of at
   most ``sigma_samples`` evenly spaced samples), at least
   ``dead_ms`` apart. Either polarity counts, and the threshold is relative to the noise, so
   the result does not depend on the µV per LSB or the sign convention.
3. **Trains by size** (:func:`size_groups`): sorted by height, potentials split where one is
   more than ``group_ratio`` times the next smaller: one fibre's or one unit's discharges have
   near-equal heights, and potentials of different sizes belong to different sources (a
   fibrillating fibre under a voluntary contraction, a second smaller fibre).
4. **Regularity** (:func:`pair_differences`, :func:`regular_pairs`): in each train, each pair
   of successive intervals ``(a, b)`` is *regular* when ``|b − a| ≤ tolerance · (a + b) / 2 + abs_tolerance_ms``, or
   when one is twice the other within the same tolerance (one discharge missed by the
   detection). Successive intervals, not the train's CV: a fibrillating fibre may slow over
   seconds before it stops (``clinical-waveforms.md``) and stays regular from one interval to
   the next. With ``tolerance`` 0.06, a train with interval CV 3 % gives about 0.84 regular
   pairs (CV 1 %: all), a voluntary unit at CV 10 % about 0.33 and at CV 12 % about 0.28
   (independent Gaussian intervals).
5. **Verdict** (:func:`verdict`): a train with at least ``min_pairs`` pairs is *decided*:
   regular when its successive variability (:func:`successive_variability`, a robust estimate
   of the interval CV from successive pairs) is below ``irregular_cv`` (0.07, between the
   ≤ 3–4 % of regular discharges, fibrillating fibres and the continuous single discharges of
   ``clinical-waveforms.md``, and a voluntary unit's ≥ 10 %), else irregular — but only a train whose median height is at least ``decide_sigma`` × σ and whose median
   interval is at least ``min_interval_ms`` may be decided irregular: near the threshold,
   missed discharges and noise peaks break a regular train's intervals, so a weak train can
   show regularity but not its absence; potentials closer than 20 ms (50 Hz, faster than
   motor units and fibres fire, ``clinical-waveforms.md`` §2) are not one source's train; and
   neither are potentials whose intervals spread with a robust CV (:func:`interval_spread`)
   above ``single_train_spread``: one unit's intervals cluster around its period (interval CV
   10–35 %, ``real-emg.md``), while several regular fibres of one size merged into one train
   give intervals spread almost exponentially (robust CV ≥ 0.5 for three or more), whose
   successive pairs are irregular although every fibre fires regularly.
   The window's call is withheld (``irregular``) only when some train is decided irregular,
   none is decided regular, no smaller train (``2 ≤ pairs < min_pairs``) looks regular so far
   (a share of at least ``regular_share`` of its pairs regular) and no train's latest
   ``tail_pairs`` pairs are all regular (a source that has just begun to fire regularly, e.g.
   fibrillation after end-plate spikes of the same size): a slow fibrillation under a
   contraction may not yet have ``min_pairs`` pairs in the context, and it must keep its call.
   Otherwise the call stands (``regular`` or ``undecided``, e.g. too few potentials to judge).
   With 4 s of independent Gaussian intervals a train is judged irregular with probability
   0–1 % at CV 3 %, 0.3–18 % at CV 5 % (15 and 3 Hz), 26–49 % at 7 %, 77–90 % at 10 % and
   85–98 % at 12 % (``tests/edge/test_runtime_rhythm.py`` checks the ends).

**Sparse calls.** A fasciculation potential fires spontaneously, irregularly and sparsely:
seconds to minutes apart (``clinical-waveforms.md`` §2), and it is judged at rest. A window
called fasciculation is checked the same way: a strong, one-source train of at least
``min_pairs`` + 2 potentials in the context (≥ 2.5 Hz) firing irregularly is a voluntary unit,
not a fasciculating one, and the call is withheld. For these calls the train must also fire at
a voluntary unit's rate, a median interval of at least ``sparse_min_interval_ms`` (50 ms:
≤ 20 Hz; units fire 7–15 Hz at low to moderate effort, ``real-emg.md`` §2), so that the bursts
of a neighbouring myokymic discharge (30–60 Hz inside a burst, ``clinical-waveforms.md`` §2)
do not count as one.

A withheld window passes on no evidence for the checked classes: their posterior mass moves to
the normal classes in proportion (to ``voluntary_muap`` when the model gave the normal classes
nothing: an irregular train is what voluntary activity sounds like). It is counted
(``PipelineCounters.irregular_windows``). Computed in float64: like the open-set guard this is
a decision, not a signal stage a firmware port must match bit for bit.

Not checked: complex repetitive discharges, although uniform in rate: a complex holds several
peaks of near-equal size and which of them passes the detection varies from discharge to
discharge, so their trains read irregular (38 % of simulated CRD contexts in a trial).

Known limits: two fibres of near-equal size whose merged intervals happen to cluster (close
rates, half a period apart) read as one irregular train, and their call is withheld (0.5 % of
4 s contexts of two merged 2–15 Hz fibres in a simulation). A very regular voluntary unit (the continuous single discharges of ``clinical-waveforms.md``,
CV ≈ 3.5 %) passes as regular: rhythm cannot tell it from a fibrillating fibre.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from edge.validation import check_ranges

#: The classes defined by their regular firing (clinical-waveforms.md §2).
REGULAR_CLASSES = ("fibrillation", "positive_sharp_wave")
#: The classes defined by sparse, irregular firing: fasciculation potentials come seconds to
#: minutes apart ("observation for up to 90 s may be required", clinical-waveforms.md §2).
SPARSE_CLASSES = ("fasciculation",)

REGULAR, IRREGULAR, UNDECIDED = "regular", "irregular", "undecided"


@dataclass(frozen=True)
class RhythmConfig:
    """Parameters of the rhythm check (module docstring)."""

    context_s: float = 4.0  # s of signal judged, ending at the window's end
    band_lo_hz: float = 150.0  # detection band, Hz
    band_hi_hz: float = 3000.0  # Hz; at most 0.4 × the sample rate is used
    threshold_sigma: float = 6.0  # potential threshold, × the band's robust noise σ
    dead_ms: float = 3.0  # ms between potentials (one potential's phases count once)
    group_ratio: float = 1.25  # height ratio that separates trains
    tolerance: float = 0.06  # relative difference of successive intervals that is regular
    abs_tolerance_ms: float = 0.5  # ms added to the tolerance (timing jitter of a peak)
    min_pairs: int = 8  # interval pairs for a train to be judged
    irregular_cv: float = 0.07  # successive variability (fraction) from which a train is irregular
    tail_pairs: int = 4  # latest pairs all regular: the train may be turning regular, not judged
    regular_share: float = 0.75  # share of regular pairs that makes a short train look regular
    decide_sigma: float = 12.0  # median height (× σ) a train needs to be judged irregular
    min_interval_ms: float = 20.0  # median interval (ms) a train needs to be judged irregular
    single_train_spread: float = 0.3  # robust interval CV above which a train is several sources
    sigma_samples: int = 40_000  # samples the noise median is taken over (evenly spaced)
    classes: tuple[str, ...] = REGULAR_CLASSES + SPARSE_CLASSES  # calls checked
    sparse_classes: tuple[str, ...] = SPARSE_CLASSES  # of those, the sparse ones (module docstring)
    sparse_min_interval_ms: float = 50.0  # median interval (ms) of a train that contradicts a sparse call

    def __post_init__(self) -> None:
        check_ranges(self, [
            ("context_s", 1.0, 30.0, "s"), ("band_lo_hz", 10.0, 1000.0, "Hz"), ("band_hi_hz", 500.0, 20000.0, "Hz"),
            ("threshold_sigma", 2.0, 50.0), ("dead_ms", 0.5, 50.0, "ms"), ("group_ratio", 1.01, 4.0),
            ("tolerance", 0.0, 0.5), ("abs_tolerance_ms", 0.0, 5.0, "ms"), ("min_pairs", 2, 1000, "", True),
            ("tail_pairs", 1, 1000, "", True),
            ("regular_share", 0.0, 1.0), ("decide_sigma", 2.0, 100.0), ("irregular_cv", 0.0, 1.0),
            ("min_interval_ms", 0.0, 1000.0, "ms"), ("single_train_spread", 0.0, 10.0),
            ("sparse_min_interval_ms", 0.0, 1000.0, "ms"),
            ("sigma_samples", 100, 10_000_000, "", True),
        ])
        if self.band_lo_hz >= self.band_hi_hz:
            raise ValueError(f"band_lo_hz={self.band_lo_hz} must be below band_hi_hz={self.band_hi_hz}")
        if not self.classes:
            raise ValueError("classes must name at least one class")


@lru_cache(maxsize=8)
def _band_sos(lo_hz: float, hi_hz: float, fs: float) -> np.ndarray:
    # Imported here: scipy.signal adds ~0.5 s to the service's start-up, before its signal
    # handlers are installed, and most streams never call a regular class.
    from scipy.signal import butter

    return butter(2, [lo_hz, hi_hz], btype="bandpass", fs=fs, output="sos")


def band_sos(fs: float, cfg: RhythmConfig) -> np.ndarray | None:
    """The detection band's second-order sections at ``fs`` Hz (None: no band below 0.4 × fs)."""
    hi = min(cfg.band_hi_hz, 0.4 * fs)
    return None if hi <= cfg.band_lo_hz else _band_sos(float(cfg.band_lo_hz), float(hi), float(fs))


def band_filter(sos: np.ndarray, x: np.ndarray, zi: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``|band|`` of ``x`` and the filter state after it. ``zi`` None starts in the steady state
    of ``x``'s first sample: a cold start on a baseline offset rings like a burst of potentials."""
    from scipy.signal import sosfilt, sosfilt_zi

    x = np.asarray(x, dtype=np.float64)
    if zi is None:
        zi = sosfilt_zi(sos) * x[0]
    y, zi = sosfilt(sos, x, zi=zi)
    return np.abs(y), zi


def detect(x: np.ndarray, fs: float, cfg: RhythmConfig) -> tuple[np.ndarray, np.ndarray]:
    """Potentials in ``x`` (any scale) at ``fs`` Hz: their times (s) and heights (× σ)."""
    sos = band_sos(fs, cfg)
    if sos is None or np.size(x) < 16:
        return np.zeros(0), np.zeros(0)
    return band_peaks(band_filter(sos, x)[0], fs, cfg)


def band_peaks(band: np.ndarray, fs: float, cfg: RhythmConfig) -> tuple[np.ndarray, np.ndarray]:
    """Potentials in ``band`` (``|band-passed signal|`` at ``fs`` Hz): times (s, from its first
    sample) and heights (× σ). σ is the median of at most ``sigma_samples`` evenly spaced
    samples / 0.6745 (every k-th: the same robust estimate, a fifth of the time at 44.1 kHz)."""
    from scipy.signal import find_peaks

    band = np.asarray(band, dtype=np.float64)
    if band.size < 16:
        return np.zeros(0), np.zeros(0)
    step = max(1, -(-band.size // cfg.sigma_samples))
    sigma = float(np.median(band[::step])) / 0.6745
    if sigma <= 0.0:
        return np.zeros(0), np.zeros(0)
    thr = cfg.threshold_sigma * sigma
    # Samples below the threshold cannot be (or neighbour-veto) a peak above it: zeroing them
    # leaves the same peaks and spares find_peaks the noise's local maxima (a third of the samples).
    peaks, props = find_peaks(np.where(band >= thr, band, 0.0), height=thr,
                              distance=max(1, int(round(cfg.dead_ms * 1e-3 * fs))))
    return peaks / fs, props["peak_heights"] / sigma


def size_groups(heights: np.ndarray, ratio: float) -> list[np.ndarray]:
    """Indices of ``heights`` split into trains of similar size (module docstring, step 3)."""
    h = np.asarray(heights, dtype=np.float64)
    if h.size == 0:
        return []
    order = np.argsort(h)
    cuts = np.flatnonzero(h[order][1:] > ratio * h[order][:-1]) + 1
    return [np.sort(g) for g in np.split(order, cuts)]


def pair_differences(times: np.ndarray, cfg: RhythmConfig) -> np.ndarray:
    """For each successive-interval pair ``(a, b)`` of one train (times in s, sorted), in time
    order, ``max(|b − a| − abs_tolerance_ms, 0) / ((a + b) / 2)``, the smallest over the pair
    as it is and with one discharge missed in ``a`` or in ``b`` (that interval halved): how far
    the pair is from regular, as a fraction (module docstring, step 4)."""
    iv = np.diff(np.asarray(times, dtype=np.float64))
    if iv.size < 2:
        return np.zeros(0)
    a, b = iv[:-1], iv[1:]
    slack = cfg.abs_tolerance_ms * 1e-3
    d = np.full(a.size, np.inf)
    for ka, kb in ((1, 1), (2, 1), (1, 2)):  # equal, or one discharge missed in a or in b
        x, y = a / ka, b / kb
        d = np.minimum(d, np.maximum(np.abs(y - x) - slack, 0.0) / ((x + y) / 2))
    return d


def regular_pairs(times: np.ndarray, cfg: RhythmConfig) -> np.ndarray:
    """For each successive-interval pair of one train, whether it is regular: its
    :func:`pair_differences` at most ``tolerance`` (module docstring, step 4)."""
    return pair_differences(times, cfg) <= cfg.tolerance


def _variability(d: np.ndarray) -> float:
    # The median of |d| for d ~ N(0, 2c²) is 0.954 c.
    return float(np.median(d)) / 0.954 if d.size else float("nan")


def successive_variability(times: np.ndarray, cfg: RhythmConfig) -> float:
    """Robust estimate of a train's interval-to-interval variability (a fraction; module
    docstring, step 4): the median of its :func:`pair_differences` divided by 0.954, the median
    of ``|d|`` for ``d`` ~ N(0, 2c²): for independent intervals of CV ``c`` it estimates ``c``.
    NaN with fewer than one pair."""
    return _variability(pair_differences(times, cfg))


def interval_spread(intervals: np.ndarray) -> float:
    """Robust coefficient of variation of intervals: 1.4826 · MAD / median (a few missed
    discharges, which double an interval, do not move it)."""
    iv = np.asarray(intervals, dtype=np.float64)
    med = float(np.median(iv))
    return 1.4826 * float(np.median(np.abs(iv - med))) / med if med > 0 else float("inf")


def verdict(times: np.ndarray, heights: np.ndarray, cfg: RhythmConfig, min_interval_ms: float | None = None) -> str:
    """REGULAR, IRREGULAR or UNDECIDED for potentials at ``times`` (s) with ``heights``;
    ``min_interval_ms`` (default ``cfg.min_interval_ms``): the median interval a train needs to
    be judged irregular."""
    min_iv = cfg.min_interval_ms if min_interval_ms is None else float(min_interval_ms)
    times = np.asarray(times, dtype=np.float64)
    irregular = False
    heights = np.asarray(heights, dtype=np.float64)
    for g in size_groups(heights, cfg.group_ratio):
        d = pair_differences(times[g], cfg)
        ok = d <= cfg.tolerance
        if ok.size >= cfg.min_pairs and _variability(d) < cfg.irregular_cv:
            return REGULAR
        if ok.size >= cfg.tail_pairs and ok[-cfg.tail_pairs:].all():
            return UNDECIDED  # it has just turned regular: a new regular source, not yet judged
        if ok.size >= cfg.min_pairs:
            iv = np.diff(times[g])
            irregular = irregular or (float(np.median(heights[g])) >= cfg.decide_sigma
                                      and float(np.median(iv)) * 1e3 >= min_iv
                                      and interval_spread(iv) <= cfg.single_train_spread)
        elif ok.size >= 2 and ok.mean() >= cfg.regular_share:
            return UNDECIDED  # a slow train that may yet prove regular keeps the call
    return IRREGULAR if irregular else UNDECIDED


def _put(ring: np.ndarray, at: int, x: np.ndarray) -> None:
    """Write ``x`` (at most the ring's length) into circular ``ring`` from position ``at``."""
    first = min(x.size, ring.size - at)
    ring[at:at + first] = x[:first]
    ring[:x.size - first] = x[first:]


def _get(ring: np.ndarray, at: int, n: int) -> np.ndarray:
    """``n`` (≤ the ring's length) consecutive values of circular ``ring`` from position ``at``."""
    if at + n <= ring.size:
        return ring[at:at + n]
    return np.concatenate((ring[at:], ring[:at + n - ring.size]))


class RhythmGuard:
    """The rhythm check of one stream (module docstring).

    ``labels``: the bundle's classes in model output order, ``pathological`` its pathological
    ones (the rest are normal); ``sample_rate``: the stream's, Hz.
    Feed every calibrated sample with :meth:`samples` (in stream order, ``first_index`` the
    stream index of its first sample) and ask :meth:`check` for each window.
    """

    def __init__(self, labels: Sequence[str], pathological: Sequence[str], sample_rate: float,
                 config: RhythmConfig | None = None) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate={sample_rate} must be > 0 Hz")
        self.config = config or RhythmConfig()
        self.labels = tuple(labels)
        self.rate = float(sample_rate)
        self._checked = np.array([lab in self.config.classes for lab in self.labels])
        self._sparse = np.array([lab in self.config.sparse_classes for lab in self.labels])
        self._normal = np.array([lab not in set(pathological) for lab in self.labels])
        self._fallback = self.labels.index("voluntary_muap") if "voluntary_muap" in self.labels else None
        self._size = max(16, int(round(self.config.context_s * self.rate)))
        # |band| of the calibrated samples, filtered as they arrive (each sample once; the
        # state carries across blocks): a check then only finds the peaks.
        self._raw = np.zeros(self._size, dtype=np.int16)  # calibrated samples, circular (index k at k mod size)
        self._ring = np.zeros(self._size, dtype=np.float32)  # their |band|, same layout
        # Designed here (the service builds the pipeline after installing its signal handlers;
        # importing scipy.signal at module import delayed its start-up).
        self._sos = band_sos(self.rate, self.config)
        self.reset(0)  # _end: stream index one past the newest sample; _held: samples in the rings

    def reset(self, first_index: int = 0) -> None:
        """Forget the signal (a new segment starts at ``first_index``)."""
        self._end = int(first_index)
        self._held = 0
        self._zi = None
        self._filtered = int(first_index)  # stream index up to which the band ring is filtered

    def samples(self, first_index: int, x: np.ndarray) -> None:
        """Take a block of calibrated int16 samples whose first is stream index ``first_index``.
        Only copied into the raw ring here: they are filtered when a check needs them, each
        sample at most once while checks follow each other (most streams never call a regular
        class and never pay for the filter)."""
        if int(first_index) != self._end:
            self.reset(int(first_index))
        x = np.asarray(x).reshape(-1)[-self._size:]
        if x.size == 0:
            return
        _put(self._raw, (self._end + np.size(x) - x.size) % self._size, x)
        self._end += x.size
        self._held = min(self._size, self._held + x.size)

    def _filter_to_end(self) -> None:
        """Bring the band ring up to the newest sample: filter what arrived since the last check
        with the filter's state, or, after more than a context without a check, the held samples
        afresh (the filter starting in the steady state of the first)."""
        if self._filtered >= self._end:
            return
        if self._sos is None:
            return
        start = self._filtered
        if self._zi is None or self._end - start > self._held:
            start, self._zi = self._end - self._held, None
        raw = _get(self._raw, start % self._size, self._end - start)
        band, self._zi = band_filter(self._sos, raw, self._zi)
        _put(self._ring, start % self._size, band.astype(np.float32))
        self._filtered = self._end

    def context(self, end: int) -> np.ndarray:
        """``|band|`` of the held samples before stream index ``end`` (at most ``context_s``)."""
        self._filter_to_end()
        stop = min(int(end), self._end)
        start = max(self._end - self._held, stop - self._size)
        if stop <= start or self._sos is None:
            return np.zeros(0)
        return _get(self._ring, start % self._size, stop - start).astype(np.float64)

    def check(self, probs: np.ndarray, end: int) -> str:
        """Verdict for a window ending at stream index ``end`` whose posterior is ``probs``:
        UNDECIDED when the model does not call a checked class (nothing to check)."""
        k = int(np.argmax(probs))
        if not self._checked[k]:
            return UNDECIDED
        times, heights = band_peaks(self.context(end), self.rate, self.config)
        return verdict(times, heights, self.config,
                       self.config.sparse_min_interval_ms if self._sparse[k] else None)

    def withhold(self, probs: np.ndarray) -> np.ndarray:
        """The posterior of a withheld window: the checked classes' mass moved to the normal
        classes in proportion (to ``voluntary_muap`` when they have none)."""
        p = np.asarray(probs, dtype=np.float64).copy()
        mass = float(p[self._checked].sum())
        p[self._checked] = 0.0
        normal = float(p[self._normal].sum())
        if normal > 1e-9:
            p[self._normal] += mass * p[self._normal] / normal
        elif self._fallback is not None:
            p[self._fallback] += mass
        else:
            p[int(np.argmax(~self._checked))] += mass
        return p
