"""``quantify``: voluntary needle EMG → motor units with their measures (QEMG).

Stages, each its own module: :mod:`.upsample` (input below ``analysis_rate_hz``, 10 kHz,
read interpolated to it: on a 4 kHz grid units split into fragments), :mod:`.bands` (display
2 Hz–10 kHz and detection 300 Hz–3 kHz bands), :mod:`.chunks` (blocks with overlap: memory
stays flat on long input), :mod:`.decompose` (threshold, template learning, peel-off),
:mod:`.units` (template and firing measures). The passes over the input:

0. robust noise σ of the detection band (median over blocks), the detection threshold;
1. candidates, a uniform reservoir of their waveforms, and the interference-pattern counts;
2. template learning on the reservoir, then peel-off over the whole input, repeated
   ``context_passes`` times with the previous pass's trains as firing context; trains that
   are fragments of one unit are joined. With ``DecomposeConfig.refine`` (opt-in, measured
   with ``join_residual=0.03, join_noise=1.0``; why it is not the default, in
   :class:`~.decompose.DecomposeConfig`) the trains passing as units (criteria below) are
   cleaned of the discharges that break their rhythm (:func:`~.decompose.regular_train`: a
   unit does not fire twice within half its interval), and the peel-off is repeated with each
   found unit's own detection-band template (the median of up to 300 of its discharges,
   aligned: the learned templates include mixtures of two similar units and duplicates of
   one, which deal a unit's discharges at random) and its train as firing context, plus the
   learned templates whose discharges did not go to a unit and whose train is rhythmic (≤ 5 %
   of intervals under 0.35 × its median); what the rhythm cleaning removed from a train is a
   unit of its own when it has a rhythm of its own (two units of one shape,
   :func:`_unit_trains`); then the discharges of two found units of one shape are re-dealt
   between them by their rhythms, and each found unit's gaps (two or more periods without a
   discharge) are filled from the trains of similar templates by its rhythm (:mod:`.gaps`),
   and the slots its rhythm still leaves empty are searched for its template on what the
   peel-off left of the detection band (:mod:`.slots`: superpositions the peel-off explained
   by another unit alone); the discharge times and firing measures, not the templates;
3. the display-band template of each unit: the sample-wise median of its ``max_average`` (400)
   most isolated discharges (farthest from any other detected potential), each with the
   other found units' first templates subtracted where they fired in its window
   (:func:`_cleaned`), then its measures, with the level above the template's noise.

A found unit must have ≥ ``min_discharges`` discharges, a regular train (≥ ``min_regular``
of its intervals within 0.5–1.5 × the median interval; a voluntary unit's interval CV is
0.1–0.35; for Poisson-like noise crossings this share is ~0.35), an interval CV of at least ``min_isi_cv``
(fibrillations, positive sharp waves and complex repetitive discharges fire with CV < 0.04:
"machine-like", RE §2; they are not voluntary units) and a median rate within
``rate_range_hz``. A unit whose discharges are time-locked to a unit with more discharges
(≥ half of them at one lag within 10 ms, ±0.25 ms: two templates of one polyphasic potential)
is dropped, and so is a unit whose template is smaller than ``min_amplitude_uv`` peak to
peak (100 µV: the potentials of distant units, 15–120 µV through a concentric needle in the
simulator, make the never-quiet baseline of a contraction, RE §1.1). The train a unit is
reported with (after separation, gap filling and the slot search, its times at the
template's peak and inside the recording) is held to the count, rate (of
:func:`~.units.firing`) and CV criteria again (:func:`_reportable`): a unit it fails is not
reported. Bad input (too short, non-finite, clipped, no potentials, no regular unit)
gives an empty result with a ``reason``; it never invents units.

Amplitudes are µV: samples × ``uv_per_lsb`` (the source's calibration, :mod:`edge.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from edge.calibration import check_uv_per_lsb
from edge.validation import check_ranges

from .bands import BandConfig
from .chunks import decimation, windows
from .decompose import (DecomposeConfig, Peeler, _center, _match, best_shifts, candidates, learn_templates,
                        noise_sigma, regular_train, residual_share)
from .gaps import GapConfig, fill_gaps, separate
from .slots import SlotConfig, fill_slots
from .measures import RecordingMeasures, UnitMeasures
from .units import MeasureConfig, firing, median_template, nearest, regular_share, template_measures, turn_points
from .upsample import Upsampled

__all__ = ["QuantConfig", "QuantResult", "quantify", "recruitment_rate"]


@dataclass(frozen=True)
class QuantConfig:
    """Everything :func:`quantify` can be told (stage configs plus the unit criteria)."""

    bands: BandConfig = field(default_factory=BandConfig)
    decompose: DecomposeConfig = field(default_factory=DecomposeConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    gaps: GapConfig = field(default_factory=GapConfig)
    slots: SlotConfig = field(default_factory=SlotConfig)
    block_s: float = 4.0             # block length of the chunked passes, s
    pre_ms: float = 15.0             # display template before the alignment point, ms
    post_ms: float = 25.0            # and after it, ms
    max_average: int = 400           # discharges in a unit's median template (fewer: noisier ends)
    min_discharges: int = 10
    min_regular: float = 0.5
    min_isi_cv: float = 0.05         # below: machine-like (fibrillation, CRD), not voluntary
    min_amplitude_uv: float = 100.0  # smaller templates are distant units (blunt, RE §1.1), not measured
    rate_range_hz: tuple[float, float] = (4.0, 50.0)  # onset 132 ± 32 ms (~7.6 Hz, CW §2): < 4 Hz is no steady unit
    min_duration_s: float = 1.0
    clip_share: float = 0.001        # share of samples at the rails that makes input "clipped"
    interference_turn_uv: float = 100.0  # turn criterion of the interference pattern (Willison)
    analysis_rate_hz: float = 10_000.0   # slower whole-Hz input is interpolated to this rate (.upsample; 0: never)

    def __post_init__(self) -> None:
        check_ranges(self, (("block_s", 0.2, 600.0, "s"), ("pre_ms", 2.0, 100.0, "ms"), ("post_ms", 2.0, 100.0, "ms"),
                            ("max_average", 3, 100_000, "", True), ("min_discharges", 3, 100_000, "", True),
                            ("min_regular", 0.0, 1.0), ("min_isi_cv", 0.0, 1.0), ("min_amplitude_uv", 0.0, 10_000.0, "µV"),
                            ("min_duration_s", 0.05, 3600.0, "s"), ("clip_share", 0.0, 1.0),
                            ("interference_turn_uv", 1.0, 10_000.0, "µV")))
        if self.analysis_rate_hz != 0 and not (2000.0 <= self.analysis_rate_hz <= 200_000.0
                                               and float(self.analysis_rate_hz).is_integer()):
            raise ValueError(f"QuantConfig.analysis_rate_hz = {self.analysis_rate_hz!r}: 0 (off) or a whole "
                             "number of Hz in 2000..200000")
        a, b = self.rate_range_hz
        if not (0.1 <= a < b <= 200.0):
            raise ValueError(f"QuantConfig.rate_range_hz = {self.rate_range_hz!r}: need 0.1 <= low < high <= 200 Hz")


@dataclass
class QuantResult:
    """A recording's QEMG: the measures, per-unit display templates and aligned discharges
    (µV, for plots), each template's duration markers (onset, end: ms on the templates' time
    axis, whose first sample is at ``template_t0_ms``), and part B's ``reference`` and
    ``pattern`` (None until available)."""

    measures: RecordingMeasures
    templates: list[np.ndarray] = field(default_factory=list)
    discharges: list[np.ndarray] = field(default_factory=list)
    template_t0_ms: float = 0.0
    markers_ms: list[tuple[float, float]] = field(default_factory=list)
    reference: dict | None = None
    pattern: dict | None = None
    muscle: str | None = None

    @property
    def units(self) -> list[UnitMeasures]:
        return self.measures.units

    def summary(self) -> dict:
        m = self.measures
        u = m.units
        mean = (lambda f: round(float(np.mean([f(x) for x in u])), 3) if u else None)
        return {
            "n_units": len(u),
            "mean_amplitude_uv": mean(lambda x: x.amplitude_uv),
            "mean_duration_ms": mean(lambda x: x.duration_ms),
            "mean_phases": mean(lambda x: x.phases),
            "mean_turns": mean(lambda x: x.turns),
            "polyphasic_share": mean(lambda x: x.phases > 4),
            "mean_firing_rate_hz": mean(lambda x: x.firing_rate_hz),
            "recruitment_hz": m.recruitment_hz,
            "interference": m.interference,
            "reason": m.reason,
            "sample_rate_hz": m.sample_rate_hz,
            "input_rate_hz": m.recorded_rate_hz,
            "duration_s": m.duration_s,
            "muscle": self.muscle,
        }

    def to_json(self) -> dict:
        """The JSON document of ``emg-edge quantify``: motor_units, summary, reference, pattern."""
        units = []
        for x in self.measures.units:
            d = x.to_dict()
            for k in ("firing_rate_hz", "isi_cv", "amplitude_uv", "duration_ms", "area_uv_ms", "thickness_ms"):
                d[k] = round(float(d[k]), 4)
            units.append(d)
        return {"motor_units": units, "summary": self.summary(), "reference": self.reference, "pattern": self.pattern}


def recruitment_rate(first_times_s, t_recruit_s: float) -> float | None:
    """Firing rate (Hz) of a unit around ``t_recruit_s``, the moment the next unit starts: from
    its intervals in the second before (and 0.25 s after); None with fewer than 3 intervals."""
    t = np.asarray(first_times_s, dtype=np.float64)
    near = t[(t >= t_recruit_s - 1.0) & (t <= t_recruit_s + 0.25)]
    rate, _ = firing(near) if len(near) >= 4 else (0.0, 0.0)
    return round(rate, 3) if rate > 0 else None


def _empty(reason: str, fs: float, dur: float, interference=None) -> QuantResult:
    return QuantResult(RecordingMeasures([], None, interference, reason, float(fs), float(dur)))


def _short_share(u: np.ndarray) -> float:
    """Share of a train's intervals shorter than 0.35 × its median interval: ~0 for one
    unit's discharges however many are missing (they are whole numbers of its period apart),
    ~0.2 for two independent units (their union's intervals are nearly exponential)."""
    isi = np.diff(u)
    return float(np.mean(isi < 0.35 * np.median(isi))) if len(isi) >= 3 else 1.0


#: Two fragments' templates this close (residual share at the best shift within ± the
#: template's half-width) are one potential aligned at two points: the joined train is
#: put on one alignment (:func:`_merge_fragments`).
ALIGN_SHARE = 0.3

#: Two fragments joined by their rhythm alone may share this share of the smaller one's
#: discharges (a potential matched by both, counted once; :func:`_merge_fragments`).
RHYTHM_SHARED = 0.02


def _merge_fragments(trains: list[np.ndarray], fs: float, templates: np.ndarray | None = None,
                     similar: float = 0.15, short: float = 0.07, q: int = 1) -> list[np.ndarray]:
    """Join trains that are fragments of one unit (its discharges split between templates),
    pair by pair, most regular union first (pairs whose templates align, below, before the
    others). Either their union is regular (≥ 0.8 of intervals within 0.5–1.5 × the median),
    clearly more regular than either (+0.15) and they share at most :data:`RHYTHM_SHARED` of
    the smaller one's discharges (within 1 ms, counted once; was none: one potential matched
    by both kept two fragments of 109 and 150 discharges apart; simulated benchmark:
    discharges matched 0.824 → 0.830, held-out 0.837 → 0.839); or (``templates[i]`` the
    detection-band template of train i) their templates match within ``similar`` of their
    energy (at the best shift within ± the half-width, below), they share at most 10 % of the
    smaller one's discharges (one potential matched by both, counted once) and at most
    ``short`` of their union's intervals are shorter than 0.35 × its median
    (:func:`_short_share`): a unit dealt at random to three near-identical templates leaves
    pairs whose union is still far from regular, but few discharges too close (those are
    other units' potentials matched by a fragment's template; two independent units give
    ~0.2; ``short`` 0.03 → 0.07 on simulator 1.7.0: discharges matched 0.830 → 0.839,
    held-out 0.839 → 0.853, units found 0.911 → 0.924 and 0.964 → 0.976).

    A unit may be learned twice, centred on different phases of its potential (two lobes of
    similar size, more than the ±``K`` matching shift apart): its fragments then carry
    discharge indices that differ by that offset. Before a pair is compared, the smaller
    train is moved to the larger one's alignment by the best shift between their templates
    within ± the half-width (:func:`~.decompose.best_shift`, when their residual there is
    ≤ :data:`ALIGN_SHARE`; ``q``: input samples per template sample), so a joined train keeps
    one time per discharge (simulated benchmark: amplitude within 10 % for 97 → 100 % of
    found units, discharges matched 0.76 → 0.78). A joined train keeps every member's
    template with its offset, and two trains are compared by their closest pair of members:
    a unit learned on three lobes has fragments whose outer templates overlap too little to
    match (lobes 2 ms apart) but each matches the middle one; and the similarity is taken at
    that shift, not within the ±K matching shift only, so fragments on two lobes are joined
    by their shape too (simulator 1.7.0, benchmark seeds: discharges matched 0.808 → 0.824,
    held-out 0.834 → 0.837)."""
    keep = [i for i, t in enumerate(trains) if len(t) >= 3]
    trains = [trains[i] for i in keep]
    own = max(1, int(0.001 * fs))
    H = 0 if templates is None else templates.shape[1] // 2
    # Each train's templates: (template index, offset in template samples from the member's
    # alignment to the train's); a joined train keeps all its members, so a fragment aligned
    # on a third lobe still finds the member it matches.
    members = None if templates is None else [[(k, 0)] for k in range(len(keep))]
    shift = None
    if templates is not None:
        shift = best_shifts(np.asarray(templates, dtype=np.float64)[keep], H)

    def pair(i: int, j: int) -> tuple[int, int, float]:
        """(the larger train, the shift (template samples) that puts the smaller one on its
        alignment, the residual share of the closest pair of their member templates at the
        best shift within ± the half-width; inf without templates)."""
        big, small = (i, j) if len(trains[i]) >= len(trains[j]) else (j, i)
        if members is None:
            return big, 0, float("inf")
        best = (float("inf"), 0)
        for a, oa in members[big]:
            for b, ob in members[small]:
                share, k = shift[a][b]
                if share < best[0]:
                    best = (share, k + oa - ob)
        return big, (best[1] if best[0] <= ALIGN_SHARE else 0), best[0]

    def judge(i: int, j: int) -> tuple | None:
        """(order key, the union, the larger train is i, shift) if trains i and j join, else None."""
        big, k, share = pair(i, j)
        small = j if big == i else i
        u = np.sort(np.concatenate([trains[big], trains[small] + q * k]))
        close = np.diff(u) <= own
        n_small = min(len(trains[i]), len(trains[j]))
        if close.sum() > 0.1 * n_small:
            return None
        u = u[np.concatenate([[True], ~close])]  # a potential matched by both, once
        r = regular_share(u)
        join = close.sum() <= RHYTHM_SHARED * n_small and r >= 0.8 and r > max(reg[i], reg[j]) + 0.15
        if not join and members is not None:
            join = _short_share(u) <= short and share <= similar
        # a pair whose alignment is known first: joined by its rhythm alone, a misaligned
        # pair would hide the member that aligns a third fragment
        return ((share <= ALIGN_SHARE, r), u, big == i, k) if join else None

    # a pair's verdict depends on its two trains only: kept until one of them is joined
    uid = list(range(len(trains)))
    next_uid = len(trains)
    cache: dict[tuple[int, int], tuple | None] = {}
    reg = [regular_share(t) for t in trains]
    while len(trains) > 1:
        best = None
        for i in range(len(trains)):
            for j in range(i + 1, len(trains)):
                key = (uid[i], uid[j])
                if key not in cache:
                    cache[key] = judge(i, j)
                v = cache[key]
                if v is not None and (best is None or v[0] > best[0]):
                    best = (v[0], i, j, v[1], i if v[2] else j, v[3])
        if best is None:
            break
        _, i, j, u, big, k = best
        if members is not None:
            small = j if big == i else i
            members = ([m for n, m in enumerate(members) if n not in (i, j)]
                       + [members[big] + [(b, ob + k) for b, ob in members[small]]])
        trains = [t for n, t in enumerate(trains) if n not in (i, j)] + [u]
        reg = [r for n, r in enumerate(reg) if n not in (i, j)] + [regular_share(u)]
        uid = [x for n, x in enumerate(uid) if n not in (i, j)] + [next_uid]
        next_uid += 1
    return trains


#: Share of regular intervals for a train split off another (a second unit of the same shape).
SPLIT_REGULAR = 0.7


def _unit_trains(units: list, q: int, fs: float, T: np.ndarray, cfg: QuantConfig,
                 clean: bool = True) -> list[np.ndarray]:
    """The peel-off's trains (decimated grid) as units on the input's grid: fragments joined,
    the unit criteria of the module docstring (count, regularity, rate, CV, not locked), each
    train cleaned by :func:`~.decompose.regular_train`. What the cleaning removed is a unit
    of its own when it is one (≥ ``SPLIT_REGULAR`` of its intervals regular): two units
    whose potentials the detection band cannot tell apart, told apart by their rhythms. A
    train failing the criteria with at least twice ``min_discharges`` is tried the same way
    at twice its median interval. ``clean=False``: the criteria alone (no cleaning, no split)."""
    lo_rate, hi_rate = cfg.rate_range_hz

    def unit(idx: np.ndarray) -> bool:
        if len(idx) < cfg.min_discharges:
            return False
        t = idx / fs
        isi = np.median(np.diff(t))
        if not (1.0 / hi_rate <= isi <= 1.0 / lo_rate) or regular_share(t) < cfg.min_regular:
            return False
        return firing(t)[1] >= cfg.min_isi_cv

    def rhythm(idx: np.ndarray, isi: float) -> np.ndarray:
        return regular_train(idx, isi) if len(idx) >= 4 else idx

    found = []
    for idx in _merge_fragments([q * np.unique(np.asarray(u, dtype=np.int64)) for u in units], fs, T, q=q):
        if not clean:
            if unit(idx):
                found.append(idx)
            continue
        isi = float(np.median(np.diff(idx))) if len(idx) >= 2 else 0.0
        if unit(idx):
            kept = rhythm(idx, isi)
        elif len(idx) >= 2 * cfg.min_discharges:
            # two units of one shape dealt to one template: their union's median interval is
            # about half of either's; the rhythm at twice it is one of them
            kept = rhythm(idx, 2.0 * isi)
            if not (unit(kept) and regular_share(kept / fs) >= SPLIT_REGULAR):
                continue
        else:
            continue
        found.append(kept)
        rest = np.setdiff1d(idx, kept)
        rest = rhythm(rest, float(np.median(np.diff(rest))) if len(rest) >= 2 else 0.0)
        if unit(rest) and regular_share(rest / fs) >= SPLIT_REGULAR:
            found.append(rest)
    return _drop_locked(found, fs)


#: A learned template's train with at most this share of intervals under 0.35 × its median
#: is one unit's (fragment), whatever share of its discharges it missed (:func:`_short_share`).
RHYTHMIC_SHORT = 0.05


def _unused(units: list, found: list[np.ndarray], q: int, fs: float, min_members: int) -> list[int]:
    """Indices of the peel-off's templates with ≥ ``min_members`` discharges (decimated grid)
    of which fewer than half are in a found train (input grid, within 0.25 ms) and whose
    train is rhythmic (:data:`RHYTHMIC_SHORT`)."""
    if not found:
        return list(range(len(units)))
    every = np.sort(np.concatenate(found))
    tol = max(1, int(round(0.00025 * fs)))
    out = []
    for j, u in enumerate(units):
        g = q * np.asarray(u, dtype=np.int64)
        if len(g) == 0:
            continue
        near = np.abs(nearest(every, g) - g)
        if (len(g) >= min_members and np.count_nonzero(near <= tol) < 0.5 * len(g)
                and _short_share(np.unique(g)) <= RHYTHMIC_SHORT):
            out.append(j)
    return out


def _snippets(x, fs: float, cfg: QuantConfig, block: int, margin: int, scale: float, picks: list[np.ndarray],
              band: str, before: int, after: int) -> list[list[np.ndarray]]:
    """Per unit, the snippets ``[g - before, g + after]`` around each of its picks ``g``, cut
    from the streamed windows of ``band``: ``"detect"`` (picks on the decimated detection-band
    grid; float64, as matched) or ``"display"`` (picks on the input grid; float32, as
    averaged). A pick is cut from the window that owns it; one too near that window's ends for
    the snippet is skipped."""
    dtype = np.float64 if band == "detect" else np.float32
    out: list[list[np.ndarray]] = [[] for _ in picks]
    for w in windows(x, fs, cfg.bands, block, margin, scale):
        if band == "detect":
            base, lo, hi, sig = w.dstart, w.dlo, w.dhi, w.detect
        else:
            base, lo, hi, sig = w.start, w.lo, w.hi, w.display
        for u, p in enumerate(picks):
            for g in p[(p >= base + lo) & (p < base + hi)]:
                b = int(g) - base
                if b - before >= 0 and b + after + 1 <= len(sig):
                    out[u].append(sig[b - before:b + after + 1].astype(dtype))
    return out


def _unit_templates(x, fs: float, cfg: QuantConfig, block: int, margin: int, scale: float, trains: list[np.ndarray],
                    q: int, H: int, K: int, n_max: int = 300) -> np.ndarray:
    """Detection-band template of each train (input-grid indices): the sample-wise median of
    up to ``n_max`` of its discharges (spread over the recording), each aligned to the first
    median at its best shift within ±K, centred on its largest deflection."""
    L = 2 * H + 1
    picks = [np.unique(np.asarray(t, dtype=np.int64)[np.linspace(0, len(t) - 1, min(n_max, len(t))).astype(int)] // q)
             for t in trains]
    snips = _snippets(x, fs, cfg, block, margin, scale, picks, "detect", H + K, H + K)
    out = []
    for s in snips:
        if len(s) < 3:
            out.append(np.zeros(L))
            continue
        S = np.stack(s)
        t0 = np.median(S[:, K:K + L], axis=0)
        _, k, _, _, _ = _match(S, t0[None, :], np.array([t0 @ t0]))
        out.append(_center(np.median(S[np.arange(len(S))[:, None], k[:, None] + np.arange(L)[None, :]], axis=0), K))
    return np.stack(out)


def _locked(a: np.ndarray, b: np.ndarray, fs: float, share: float = 0.5) -> bool:
    """True if ≥ ``share`` of train ``a`` follows or precedes train ``b`` at one lag (±0.25 ms)
    within 10 ms (sample indices at ``fs``)."""
    if len(a) == 0 or len(b) < 2:
        return False
    win, tol = int(0.010 * fs), max(1, int(0.00025 * fs))
    lag = a - nearest(b, a)
    lag = lag[np.abs(lag) <= win]
    if len(lag) < share * len(a):
        return False
    mode = np.median(lag)
    return np.count_nonzero(np.abs(lag - mode) <= tol) >= share * len(a)


def _drop_locked(trains: list[np.ndarray], fs: float) -> list[np.ndarray]:
    order = sorted(range(len(trains)), key=lambda i: -len(trains[i]))
    kept: list[int] = []
    for i in order:
        if not any(len(trains[j]) >= 2 and _locked(trains[i], trains[j], fs) for j in kept):
            kept.append(i)
    return [trains[i] for i in sorted(kept)]


def _cleaned(stacks: list, picks: list[np.ndarray], trains: list[np.ndarray], pre: int, fs: float) -> list:
    """Each unit's aligned discharges (``stacks[u][k]`` around ``picks[u][k]``, alignment
    sample ``pre``) with every other found discharge within the window removed: the first
    median template of its unit is subtracted at its place (``trains``: alignment samples
    of every unit's discharges, the unit's own others included). The median of what is left
    is the unit's template; the potentials of the other units (300–800 µV, several per 40 ms
    window at moderate effort) otherwise leave tens of µV of residue in the low terminal
    phase that sets the duration. A unit time-locked to the measured one (≥ 20 % of either
    train at one lag within 10 ms, about 4× chance at 15 Hz: a second template of the same
    potential, as in dense real records) is not subtracted from it: that would remove part of
    the potential being measured."""
    first = [None if st is None else np.median(st, axis=0) for st in stacks]
    own = max(1, int(round(0.001 * fs)))
    n = len(trains)
    apart = [[b == a or not (_locked(trains[a], trains[b], fs, 0.2) or _locked(trains[b], trains[a], fs, 0.2))
              for b in range(n)] for a in range(n)]
    out = []
    for a, st in enumerate(stacks):
        if st is None:
            out.append(None)
            continue
        st = st.copy()
        L = st.shape[1]
        g = np.asarray(picks[a], dtype=np.int64)
        cols = np.arange(L)
        for b, tb in enumerate(trains):
            if first[b] is None or not apart[a][b]:
                continue
            i0, i1 = np.searchsorted(tb, g - L + 1), np.searchsorted(tb, g + L)
            cnt = i1 - i0
            if not cnt.any():
                continue
            k = np.repeat(np.arange(len(g)), cnt)                       # row of each overlap
            h = tb[np.repeat(i0 - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))]
            off = h - g[k]
            # the discharge itself, or one that may be it counted twice, is not subtracted
            keep = np.abs(off) > (own if b != a else 0)
            k, off = k[keep], off[keep]
            if not len(k):
                continue
            src = cols[None, :] - off[:, None]
            shifted = np.where((src >= 0) & (src < L), first[b][np.clip(src, 0, L - 1)], 0.0)
            rows, starts = np.unique(k, return_index=True)  # k is sorted: sum each row's overlaps
            st[rows] -= np.add.reduceat(shifted, starts, axis=0).astype(st.dtype)
        out.append(st)
    return out


_NO_UNIT_REASON = "no motor unit with {n} or more regular discharges (rest, noise, or activity too dense to decompose)"


def _reportable(times: np.ndarray, cfg: QuantConfig) -> tuple[float, float] | None:
    """The firing (rate Hz, ISI CV; :func:`~.units.firing`) a unit is reported with, if its
    final discharge times (s) still meet the unit criteria: ≥ ``min_discharges``, a rate
    within ``rate_range_hz`` and an interval CV ≥ ``min_isi_cv``; else None. The criteria
    pick the peel-off's trains; separation, gap filling and the slot search then move, add
    and remove discharges, which can carry a borderline unit's rate or CV out of the range
    it was picked for (seen on synthetic spike trains: 3.8 and 51.5 Hz, CV 0.047)."""
    if len(times) < cfg.min_discharges:
        return None
    rate, cv = firing(times)
    lo, hi = cfg.rate_range_hz
    return (rate, cv) if lo <= rate <= hi and cv >= cfg.min_isi_cv else None


def _clipped_share(x: np.ndarray) -> float:
    if x.dtype.kind in "iu" and x.dtype.itemsize == 2:
        return float(np.mean((x >= 32767) | (x <= -32768)))
    hi, lo = x.max(), x.min()
    if hi == lo:
        return 1.0
    return float(np.mean(x == hi) + np.mean(x == lo))


def quantify(samples, sample_rate_hz: float, uv_per_lsb: float = 1.0, muscle: str | None = None,
             config: QuantConfig | None = None) -> QuantResult:
    """Decompose and measure a voluntary needle-EMG signal (module docstring).

    ``samples``: 1-D int16 codes or float values; µV = samples × ``uv_per_lsb`` (1.0 for
    samples already in µV). ``sample_rate_hz``: 2–200 kHz. ``muscle``: passed to the
    reference table and pattern summary. Streaming callers quantify stretches one by one.
    """
    cfg = config or QuantConfig()
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"samples must be one channel (1-D), got shape {x.shape}")
    fs = float(sample_rate_hz)
    if not (2000.0 <= fs <= 200_000.0):
        raise ValueError(f"sample_rate_hz = {sample_rate_hz!r}: allowed range is 2000..200000 Hz")
    scale = check_uv_per_lsb(uv_per_lsb)
    n = len(x)
    dur = n / fs
    result = _analyse(x, fs, scale, n, dur, cfg)
    result.measures = replace(result.measures, input_rate_hz=fs)  # the analysed rate may be higher
    result.muscle = muscle
    _attach_reference(result, muscle)
    return result


def _attach_reference(result: QuantResult, muscle: str | None) -> None:
    """Part B's reference table and pattern summary, when those modules exist."""
    try:
        from . import pattern as _pattern
    except ImportError:
        _pattern = None
    try:
        from . import reference as _reference
    except ImportError:
        _reference = None
    if _reference is not None and hasattr(_reference, "reference_for"):
        ref = _reference.reference_for(muscle)
        result.reference = ref.to_dict() if hasattr(ref, "to_dict") else ref
    if _pattern is not None and hasattr(_pattern, "pattern"):
        pat = _pattern.pattern(result.measures, muscle=muscle)
        result.pattern = pat.to_dict() if hasattr(pat, "to_dict") else pat


def _analyse(x: np.ndarray, fs: float, scale: float, n: int, dur: float, cfg: QuantConfig) -> QuantResult:
    if dur < cfg.min_duration_s:
        return _empty(f"too short: {dur:.3f} s (at least {cfg.min_duration_s:g} s needed)", fs, dur)
    if x.dtype.kind not in "iuf":
        raise ValueError(f"samples must be numeric, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        return _empty("non-finite samples (NaN or infinity) in the input", fs, dur)
    clip = _clipped_share(x)
    if clip > cfg.clip_share:
        return _empty(f"clipped: {100 * clip:.2f} % of samples at the rails (amplifier overload)", fs, dur)
    if fs < cfg.analysis_rate_hz and float(fs).is_integer():
        # a coarse grid splits units into fragments (:mod:`.upsample`): analyse at the analysis rate
        x = Upsampled(x, int(fs), int(cfg.analysis_rate_hz))
        fs, n = float(cfg.analysis_rate_hz), len(x)

    dc = cfg.decompose
    q = decimation(fs)
    fd = fs / q  # rate of the detection band's grid
    H, K, sep = dc.samples(fd)
    pre, post = int(round(cfg.pre_ms * fs / 1000)), int(round(cfg.post_ms * fs / 1000))
    margin = max(q * (H + K + 2), pre, post) + 2
    block = max(int(cfg.block_s * fs), 4 * margin)

    # Pass 0: noise.
    meds = [float(np.median(np.abs(w.detect[w.dlo:w.dhi]))) for w in windows(x, fs, cfg.bands, block, margin, scale)
            if w.dhi > w.dlo]
    sigma = noise_sigma(meds)
    if not sigma > 0:
        return _empty("flat input: no signal", fs, dur)
    thr = dc.threshold_k * sigma

    # Pass 1: candidates (reservoir of waveforms) and interference counts.
    rng = np.random.default_rng(dc.seed)
    snips: list[np.ndarray] = []
    seen = 0
    turns, turn_amp = 0, 0.0
    for w in windows(x, fs, cfg.bands, block, margin, scale):
        core = w.display[w.lo:w.hi]
        tp = turn_points(core, cfg.interference_turn_uv)
        turns += len(tp)
        if len(tp) > 1:
            turn_amp += float(np.sum(np.abs(np.diff(core[tp]))))
        lo, hi = max(w.dlo, H + K), min(w.dhi, len(w.detect) - H - K)
        for c in candidates(w.detect, lo, hi, thr, sep):
            seen += 1
            s = w.detect[c - H - K:c + H + K + 1]
            if len(snips) < dc.max_learn:
                snips.append(s.copy())
            else:
                j = int(rng.integers(seen))
                if j < dc.max_learn:
                    snips[j] = s.copy()
    interference = {"turns_per_s": round(turns / dur, 3),
                    "mean_amplitude_uv": round(turn_amp / max(turns - 1, 1), 3) if turns > 1 else 0.0}
    if seen == 0:
        return _empty("no potentials above the detection threshold (rest or no voluntary activity)", fs, dur,
                      interference)

    # Pass 2: templates and peel-off.
    T = learn_templates(np.stack(snips), dc, fd, sigma)
    if len(T) == 0:
        return _empty("no recurring potential shapes (noise or activity too sparse)", fs, dur, interference)
    def peel(T: np.ndarray, context: list | None = None, pairs: bool = True) -> Peeler:
        peeler = Peeler(T, thr, dc, fd, context=context, pairs=pairs)
        for w in windows(x, fs, cfg.bands, block, margin, scale):
            peeler.process(w)
        return peeler

    if not dc.refine:  # the learned templates throughout (module docstring, ``refine``)
        peeler = peel(T)
        for _ in range(dc.context_passes):
            peeler = peel(T, context=peeler.units)
        found = _unit_trains(peeler.units, q, fs, T, cfg, clean=False)
    else:
        peeler = peel(T, pairs=dc.context_passes == 0)
        found = _unit_trains(peeler.units, q, fs, T, cfg)
        for _ in range(dc.context_passes):
            if not found:
                break
            # each found unit's own template; the unused rhythmic learned templates stay (docstring)
            TU = _unit_templates(x, fs, cfg, block, margin, scale, found, q, H, K)
            rest = _unused(peeler.units, found, q, fs, dc.min_members)
            ctx = [f // q for f in found] + [np.asarray(peeler.units[j]) for j in rest]
            T = np.vstack([TU, T[rest]])
            peeler = peel(T, context=ctx)
            found = _unit_trains(peeler.units, q, fs, T, cfg)
    if not found:
        return _empty(_NO_UNIT_REASON.format(n=cfg.min_discharges), fs, dur, interference)

    # Units of one shape re-dealt and the trains' gaps filled by the units' rhythms (:mod:`.gaps`):
    # times and firing only.
    timed = fill_gaps(separate(found, peeler.units, T, q, fs, cfg.gaps, peeler.fits()), peeler.units, T, q, fs, cfg.gaps)
    # then what the peel-off left where each unit's rhythm still expects a discharge (:mod:`.slots`)
    timed = fill_slots(x, fs, cfg.bands, block, margin, scale, timed, peeler.units, T, q, cfg.slots)

    # Pass 3: display templates from the most isolated discharges.
    every = q * np.sort(np.concatenate([np.asarray(u, dtype=np.int64) for u in peeler.units if len(u)]
                                       + [np.asarray(peeler.unassigned, dtype=np.int64)]))
    picks = []
    for idx in found:
        pos = np.searchsorted(every, idx)
        left = np.where(pos > 0, idx - every[np.maximum(pos - 1, 0)], n)
        # ``every`` contains idx itself at pos: the next other potential is at pos + 1
        right = np.where(pos + 1 < len(every), every[np.minimum(pos + 1, len(every) - 1)] - idx, n)
        iso = np.minimum(left, right)
        ok = (idx - pre >= 0) & (idx + post < n)
        order = np.argsort(-np.where(ok, iso, -1))[:cfg.max_average]
        picks.append(np.sort(idx[order][ok[order]]))
    snaps = _snippets(x, fs, cfg, block, margin, scale, picks, "display", pre, post)

    stacks = [np.stack(s) if len(s) >= 3 else None for s in snaps]
    cleaned = _cleaned(stacks, picks, found, pre, fs)
    units_raw = []
    irregular = 0  # units whose final train no longer meets the unit criteria
    for stack, clean, idx in zip(stacks, cleaned, timed):
        if stack is None:
            continue
        tmpl, noise = median_template(clean)
        tm = template_measures(tmpl, fs, cfg.measure, noise_uv=noise)
        if tm.amplitude_uv < cfg.min_amplitude_uv:
            continue
        times = (idx + tm.peak - pre) / fs
        # a template peak outside the recording is no discharge in it
        times = times[(times >= 0.0) & (times < dur)]
        fired = _reportable(times, cfg)
        if fired is None:
            irregular += 1
            continue
        units_raw.append((float(times[0]), times, fired, tm, tmpl, stack))
    units_raw.sort(key=lambda r: r[0])
    units, templates, discharges, markers = [], [], [], []
    for i, (_, times, (rate, cv), tm, tmpl, stack) in enumerate(units_raw):
        units.append(UnitMeasures(
            id=i, n_discharges=len(times), firing_rate_hz=rate, isi_cv=cv, amplitude_uv=tm.amplitude_uv,
            duration_ms=tm.duration_ms, phases=tm.phases, turns=tm.turns, area_uv_ms=tm.area_uv_ms,
            thickness_ms=tm.thickness_ms, satellites=tm.satellites,
            discharge_times_s=tuple(round(float(t), 6) for t in times), duration_range_ms=tm.duration_range_ms))
        templates.append(tmpl)
        discharges.append(stack)
        markers.append((-cfg.pre_ms + tm.onset * 1000.0 / fs, -cfg.pre_ms + tm.end * 1000.0 / fs))
    recruit = None
    if len(units) >= 2:
        t2 = units[1].discharge_times_s[0]
        if t2 - units[0].discharge_times_s[0] >= 0.5:
            recruit = recruitment_rate(units[0].discharge_times_s, t2)
    reason = None
    if not units:
        reason = (_NO_UNIT_REASON.format(n=cfg.min_discharges) if irregular
                  else f"no unit template of {cfg.min_amplitude_uv:g} µV or more (distant units only)")
    meas = RecordingMeasures(units, recruit, interference, reason, fs, dur)
    return QuantResult(meas, templates, discharges, template_t0_ms=-cfg.pre_ms, markers_ms=markers)
