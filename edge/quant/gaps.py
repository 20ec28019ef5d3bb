"""Gap filling: a found unit's missed discharges recovered by its rhythm (and two units of one
shape separated by their rhythms).

Units of one pool whose spikes the detection band all but duplicates (residual share < 0.3
between their templates) deal their discharges between the peel-off's templates: a found
unit's train then has gaps of two or more periods, and the discharges that belong in them
sit in the train of a similar template, mostly one that passed as no unit (a mixture of
two units, or a fragment too irregular to join). On the simulated QEMG recordings 2,392 of
the found units' 3,697 missed discharges were in such a mixed train, 855 in a fragment of
the unit itself, 450 in no train (benchmark seeds, before this stage). The shape cannot
tell those units apart; the rhythm can (voluntary units fire with an interval CV of
0.1–0.35, RE §2), which is how a human decomposer fills a train (EMGLAB's firing-pattern
editing, McGill et al. 2005).

Rule, per found unit ``a`` (input-grid sample indices):

1. *Period* ``P``: 1 / the unit's rate by :func:`~.units.firing` (robust to missed
   discharges while most intervals are single: an interval of k periods counts k times).
2. *Slots*: between consecutive discharges more than 1.5 P apart, ``n − 1`` expected times
   evenly spaced, ``n`` = the gap in whole periods.
3. *Donors*: the discharges of every peel-off train whose detection-band template matches
   the unit's own (the train sharing most discharges with it) within ``share`` of the larger
   one's energy at the best shift within ± the half-width
   (:func:`~.decompose.best_shift`); the shift also moves them to the unit's alignment. A
   donor must be free: no found unit has a discharge within ``taken_ms`` (0.3 ms) of it,
   unless it is an *extra* discharge of that unit (its neighbours are at most ``extra`` × the
   unit's period apart without it: the unit's rhythm does not need it). Within 0.3 ms it is
   the same potential; a discharge of another unit 0.3–1 ms away is a superposition the
   peel-off resolved as a pair (1 ms before: simulator 1.7.0, discharges matched 0.852 →
   0.856, held-out 0.857 → 0.862).
   A found train of the unit's shape is a donor too, every discharge of it, when it is a
   *fragment* of the unit: at least ``fragment_fit`` of its discharges, and
   ``fragment_chance`` × the share expected by chance (the slots' total width over the
   unit's span), lie within ``tol`` × P of the unit's slots; a discharge it gives leaves it.
   Such a train (mostly a mixture of a unit's missed discharges with a similar unit's, at
   half the unit's rate or less) passes as a unit itself, so its discharges were never free
   (simulator 1.7.0, with the slot search of :mod:`.slots`: discharges matched 0.867 →
   0.869, held-out 0.873 → 0.875).
4. *Claims*: a donor within ``tol`` × P of a slot claims it. Claims are settled across all
   units nearest first (in periods): one discharge per slot, one slot per discharge, so two
   similar units compete for a discharge by their rhythms. A claimed extra discharge leaves
   the train it was in.

*Separation* (:func:`separate`, before the gaps are filled): the same units also deal each
other's discharges at times when the other does not fire (on the simulated benchmark 8 % of
the found units' true discharges sat in the train of another found unit whose spike matched
within a residual share of ~0.07 at a shift of 0.4–0.6 ms). For each pair of found units
whose templates match within ``separate_share`` (closest first), the union of their two
trains (on one alignment) is re-dealt between them by a two-unit Viterbi: each unit's
intervals cost ((Δ − kP)/(s·√k))²/2 + (k − 1)·``separate_miss`` for k = 1–3 of its periods P
(s = its interval CV clipped to 0.1–0.3, × P), and moving a discharge off the train that held
it costs ``separate_shape`` (the templates did tell the units apart for most discharges). The
re-deal is repeated up to ``separate_rounds`` times (hard EM): each round takes the periods
and CVs from the previous round's trains and the moving cost from how often that round moved
a discharge off the train that held it (a share ε: log((1 − ε)/ε), ε clipped to 0.02–0.45, at
most ``separate_shape``), so a pair the peel-off dealt near chance (spikes that match within a
residual share of ~0.05) is dealt by the rhythms rather than by the dealing (simulator 1.7.0:
discharges matched 0.871 → 0.876, held-out 0.879 → 0.882; one held-out unit at 0.50 of its
discharges, two units of one shape and rate that neither rhythm nor shape tells apart, falls
just below the found criterion). What the shape says is weighed per discharge, not only
as the train that held it: for every discharge the peel-off fitted by one template (and
each member of a fitted pair, the other member taken out) it kept each template's residual
there at its own best shift (:meth:`~.decompose.Peeler.fits`, the
firing context not applied: the context is what dealt a mixed pair's discharges by a mixed
rhythm); dealing such a discharge to a unit costs ``separate_evidence`` × half its
template's residual excess over the other's, in the window's noise variances (a Gaussian
log-likelihood ratio, discounted for a background that is neither white nor independent;
the variance is the best fit's residual per sample, at least the band's σ²), in place of the
constant moving cost (which a discharge without a fit keeps; until the pair members had
theirs, simulator 1.7.0, matched 0.887 and held out 0.891, :mod:`.decompose`). On the benchmark's worst
pair (simulator 1.7.0, seed 103, two units 0.1 apart in residual share at 15.0 and 14.3 Hz)
the peel-off dealt 144 of 523 discharges to the wrong one; a re-deal with the true periods
and the constant cost leaves ~100, with the fit 44 (the fit's own say alone: 129).
Discharges matched per found unit 0.876 → 0.882, units found 91.1 → 92.4 %, units with ≥ 90 %
matched 50 → 45 % (the new unit at 0.57, a few others 0.01–0.03 lower); held-out 0.882 →
0.887, found 97.0 → 95.8 %, ≥ 90 % 51 → 55 % (weight 0.05 / 0.08 / 0.13 / 0.2: 0.871 /
0.879 / 0.881 / 0.879 on the benchmark by the same diagnosis). A pair's union also holds
other units' potentials (6–10 % of it on the benchmark's worst pairs: a third unit of the
shape, superpositions), which a two-unit deal must put in one of the two rhythms, breaking
it there for the discharges around. So the Viterbi may leave a discharge to neither unit, at
a cost of ``separate_neither`` (its state: how many discharges back each unit's latest is),
and such a discharge stays in the train that held it (simulator 1.7.0, benchmark seeds:
discharges matched 0.882 → 0.887, units with ≥ 90 % matched 45 → 52 %, units found 92.4 %,
rate within 0.5 Hz 98.6 %, both unchanged; held-out 0.887 → 0.891, found 95.8 → 97.0 %, rate
within 0.5 Hz 96.3 → 95.1 %. Cost 2 / 2.5 / 3: 0.886 / 0.888 / 0.887 but a unit's rate
0.51–0.6 Hz off; the discharge dealt by its fit instead of left where it was, 2.5 / 3 / 3.5
/ 4: 0.885 / 0.881 / 0.886 / 0.880; left out of both trains: 0.880).
The re-deal is kept only if neither train's regular share
(:func:`~.units.regular_share`) falls by more than 0.02. Simulator 1.7.0: discharges matched per found unit 0.839 → 0.852
(held-out 0.853 → 0.857); one benchmark unit (0.55 matched) falls below the found criterion.

The display templates are still averaged from the trains before separation and filling (the
most isolated discharges of what the peel-off matched); separation and filling change the
discharge times, counts and firing measures only.

Widths: indices int64, periods float64 samples; no state between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edge.validation import check_ranges

from .decompose import best_shift
from .units import firing, nearest, regular_share

__all__ = ["GapConfig", "fill_gaps", "separate"]


@dataclass(frozen=True)
class GapConfig:
    """Parameters of gap filling (module docstring). ``enabled=False``: trains unchanged."""

    enabled: bool = True
    share: float = 0.3   # template residual share for a donor train (0.5 measured: no more matched)
    tol: float = 0.2     # × period: how far from its slot a donor may lie (CV 0.1–0.35, bridged from both ends)
    extra: float = 1.3   # × period: a found discharge whose neighbours are this close is not needed
    taken_ms: float = 0.3  # a donor this close to a found discharge is that potential (ms)
    separate_share: float = 0.3  # template residual share for two units to be re-dealt (0: never)
    separate_shape: float = 3.0  # cost of moving a discharge off the train that held it
    separate_miss: float = 2.0   # cost of each missed period in a re-dealt train
    separate_rounds: int = 3     # re-deals, each with the shape cost and periods re-estimated (docstring)
    separate_evidence: float = 0.1  # weight of the peel-off's per-discharge template fit (docstring; 0: off)
    separate_neither: float = 4.0   # cost of leaving a discharge out of both rhythms (docstring; 0: never)
    fragments: bool = True       # found trains that fill a unit's slots are donors too (docstring)
    fragment_fit: float = 0.25   # share of such a train's discharges in the unit's slots, at least
    fragment_chance: float = 3.0  # and at least this × the share expected by chance

    def __post_init__(self) -> None:
        check_ranges(self, (("share", 0.0, 1.0), ("tol", 0.01, 0.5), ("extra", 1.0, 2.0), ("taken_ms", 0.0, 5.0, "ms"),
                            ("separate_share", 0.0, 1.0), ("separate_shape", 0.0, 100.0),
                            ("separate_miss", 0.0, 100.0), ("separate_rounds", 1, 10, "", True),
                            ("separate_evidence", 0.0, 10.0), ("separate_neither", 0.0, 100.0),
                            ("fragment_fit", 0.0, 1.0), ("fragment_chance", 1.0, 100.0)))
        for name in ("enabled", "fragments"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GapConfig.{name} = {getattr(self, name)!r}: must be True or False")


def _period(f: np.ndarray, fs: float) -> float:
    """The unit's period in samples (module docstring, step 1)."""
    rate, _ = firing(f / fs)
    return fs / rate if rate > 0 else float(np.median(np.diff(f)))


def _slots(f: np.ndarray, p: float, max_missing: int | None = None) -> np.ndarray:
    """Expected times (input-grid samples, float) in the gaps of train ``f`` of period ``p``:
    each gap of more than 1.5 periods split evenly into its rounded number of periods; with
    ``max_missing``, only gaps of at most that many missing discharges."""
    g = np.diff(f)
    wide = g > 1.5 * p
    if max_missing is not None:
        wide &= g < (max_missing + 1.5) * p
    gaps = np.nonzero(wide)[0]
    if not len(gaps):
        return np.zeros(0)
    n = np.rint(g[gaps] / p).astype(np.int64)
    return np.concatenate([f[i] + np.arange(1, k) * (g[i] / k) for i, k in zip(gaps, n)])


def _distance(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """|distance| (samples) from each element of ``a`` to the nearest of the sorted ``b``; inf if ``b`` is empty."""
    return np.abs(nearest(b, a) - a).astype(np.float64) if len(b) else np.full(len(a), np.inf)


def _own_train(f: np.ndarray, tr: list[np.ndarray]) -> tuple[int, int]:
    """The peel-off train (index into ``tr``) that shares most discharges with found train
    ``f`` (the unit's own, whose template stands for it), and how many it shares."""
    overlap = [np.count_nonzero(np.isin(t, f)) for t in tr]
    j = int(np.argmax(overlap))
    return j, overlap[j]


def fill_gaps(found: list[np.ndarray], trains: list, templates: np.ndarray, q: int, fs: float,
              cfg: GapConfig | None = None) -> list[np.ndarray]:
    """Found units' trains (``found``: input-grid indices at ``fs`` Hz) with the gaps in their
    rhythm filled from the peel-off's ``trains`` (decimated grid, ``q`` input samples per
    step; ``templates[j]`` is train j's detection-band template). Module docstring."""
    cfg = cfg or GapConfig()
    found = [np.unique(np.asarray(f, dtype=np.int64)) for f in found]
    if not cfg.enabled or not found or len(templates) == 0:
        return found
    T = np.asarray(templates, dtype=np.float64)
    H = T.shape[1] // 2
    own = max(1, int(0.001 * fs))
    tr = [q * np.unique(np.asarray(u, dtype=np.int64)) for u in trains]
    periods = [_period(f, fs) if len(f) >= 3 else 0.0 for f in found]
    owns = [_own_train(f, tr)[0] for f in found]

    taken = np.sort(np.concatenate(found))
    extra_l = []
    for f, p in zip(found, periods):
        if p > 0:  # 3 or more discharges
            extra_l.append(f[1:-1][(f[2:] - f[:-2]) <= cfg.extra * p])
    extra = np.sort(np.concatenate(extra_l)) if extra_l else np.zeros(0, np.int64)
    # each train's free discharges (step 3), the same for every unit
    held = max(1, int(cfg.taken_ms * 0.001 * fs))
    free = [t[(_distance(taken, t) > held) | (_distance(extra, t) <= own)] for t in tr]

    # claims: (distance in periods, unit, slot, aligned time, donor's raw time)
    dist, unit, slot, when, raw, held_by = [], [], [], [], [], []  # held_by: the fragment holding it, or -1
    for a, f in enumerate(found):
        p = periods[a]
        if p <= 0:  # fewer than 3 discharges
            continue
        slots = _slots(f, p)
        if len(slots) == 0:
            continue
        own_j, shared = _own_train(f, tr)
        if shared == 0:
            continue
        srcs = list(enumerate(tr))
        if cfg.fragments:
            # other found trains of the unit's shape whose discharges fall in its slots far more
            # often than chance (slots × their width over the train's span): fragments of it
            chance = len(slots) * 2.0 * cfg.tol * p / max(float(f[-1] - f[0]), 1.0)
            for b, fb in enumerate(found):
                if b == a or len(fb) < 3:
                    continue
                share, kb = best_shift(T[own_j], T[owns[b]], H)
                if share > cfg.share:
                    continue
                e = fb + q * kb
                fit = float(np.mean(np.abs(nearest(slots, e) - e) <= cfg.tol * p))
                if fit >= max(cfg.fragment_chance * chance, cfg.fragment_fit):
                    srcs.append((-1 - b, fb))
        for j, t in srcs:
            if len(t) == 0:
                continue
            if j < 0:  # a fragment's found train (above): all its discharges
                share, k = best_shift(T[own_j], T[owns[-1 - j]], H)
                t0 = t
            else:
                share, k = best_shift(T[own_j], T[j], H)
                if share > cfg.share:
                    continue
                t0 = free[j]
            e = t0 + (q * k if j != own_j else 0)
            s = np.searchsorted(slots, e)
            lo, hi = np.clip(s - 1, 0, len(slots) - 1), np.clip(s, 0, len(slots) - 1)
            s = np.where(np.abs(slots[lo] - e) <= np.abs(slots[hi] - e), lo, hi)
            dn = np.abs(e - slots[s]) / p
            ok = dn <= cfg.tol
            for out, v in ((dist, dn), (unit, np.full(len(dn), a)), (slot, s), (when, e), (raw, t0),
                           (held_by, np.full(len(dn), -1 - j if j < 0 else -1))):
                out.append(v[ok])
    if not dist:
        return found
    dist, unit, slot, when, raw, held_by = (np.concatenate(v) for v in (dist, unit, slot, when, raw, held_by))
    used_slot: set[tuple[int, int]] = set()
    used_raw: set[int] = set()
    add: list[list[int]] = [[] for _ in found]
    lose: list[list[int]] = [[] for _ in found]
    for i in np.argsort(dist, kind="stable"):
        key = (int(unit[i]), int(slot[i]))
        r = int(raw[i])
        if key in used_slot or r in used_raw:
            continue
        used_slot.add(key)
        used_raw.add(r)
        add[key[0]].append(int(when[i]))
        if held_by[i] >= 0:
            lose[int(held_by[i])].append(r)
    moved = np.asarray(sorted(used_raw), dtype=np.int64)
    out = []
    for f, ad, lo in zip(found, add, lose):
        # a claimed extra discharge leaves its train, and so does a fragment's claimed discharge
        gone = ((_distance(moved, f) <= own) & (_distance(extra, f) == 0)) | np.isin(f, lo)
        out.append(np.unique(np.concatenate([f[~gone], np.asarray(ad, dtype=np.int64)])))
    return out


@lru_cache(maxsize=4)
def _plan(W: int) -> np.ndarray:
    """Predecessors of every state of :func:`_viterbi` (state a0·(W + 1) + a1: how many
    elements back each unit's latest discharge is, 0..W, W: none within reach), as indices
    into the three slabs [to unit 0 | to unit 1 | to neither] of W + 1 squared entries each,
    padded with the index of an infinite entry after them."""
    S = W + 1
    NS = S * S
    up = np.minimum(np.arange(S) + 1, W)
    preds: list[list[int]] = [[] for _ in range(NS)]
    for a0 in range(S):
        for a1 in range(S):
            p = a0 * S + a1
            preds[up[a1]].append(p)                           # the element to unit 0
            preds[up[a0] * S].append(NS + p)                  # to unit 1
            preds[up[a0] * S + up[a1]].append(2 * NS + p)     # to neither
    G = np.full((NS, max(len(v) for v in preds)), 3 * NS, dtype=np.int64)
    for t, v in enumerate(preds):
        G[t, :len(v)] = v
    return G


def _viterbi(e: np.ndarray, cost: np.ndarray, P: tuple[float, float], sd: tuple[float, float],
             miss: float, neither: float = float("inf"), W: int = 8) -> np.ndarray:
    """Assign the sorted times ``e`` to two units (0/1) by their rhythms: each unit's
    intervals cost ((Δ − kP)/(sd·√k))²/2 + (k − 1)·``miss`` (k whole periods, 1–3; longer,
    or the unit's latest element W or more elements back: a restart at 4·``miss``, as is
    each unit's first element), and element i going to unit x costs ``cost[i, x]`` (the
    shape's say: n × 2). With a finite ``neither`` an element may go to neither unit (2)
    at that cost, out of both rhythms (a third unit's discharge in the union). State: how
    many elements back each unit's latest is (0..W); one batched step per element."""
    n = len(e)
    e = np.asarray(e, dtype=np.float64)
    restart = 4.0 * miss
    S = W + 1
    NS = S * S
    # C[x, i, m]: unit x's cost for the interval from element i − 1 − m to element i
    # (m = 0..W − 1; m = W: restart), plus element i's own cost of going to x
    prev = np.arange(n)[:, None] - 1 - np.arange(W)[None, :]
    d = e[:, None] - e[np.maximum(prev, 0)]
    C = np.full((2, n, S), restart)
    for x in (0, 1):
        k = np.clip(np.rint(d / P[x]), 1, 3)
        c = 0.5 * ((d - k * P[x]) / sd[x]) ** 2 / k + (k - 1) * miss
        C[x, :, :W] = np.where((prev < 0) | (d > 3.5 * P[x]), restart, c)
    C += np.asarray(cost, dtype=np.float64).T[:, :, None]
    G = _plan(W)
    rows = np.arange(NS) * G.shape[1]
    Gf = G.ravel()
    ext = np.empty(3 * NS + 1)  # the three slabs (state costs after each move) and an infinite entry
    ext[-1] = np.inf
    to0, to1, none = (ext[j * NS:(j + 1) * NS].reshape(S, S) for j in range(3))
    C0, C1 = C[0][:, :, None], C[1][:, None, :]
    D = np.full((S, S), np.inf)
    D[W, W] = 0.0
    back = np.empty((n, NS), dtype=np.int64)  # per element and state: the slab entry it came from
    for i in range(n):
        np.add(D, C0[i], out=to0)
        np.add(D, C1[i], out=to1)
        np.add(D, neither, out=none)
        g = ext[G]
        j = g.argmin(axis=1)
        j += rows
        back[i] = Gf[j]
        D = g.ravel()[j].reshape(S, S)
    out = np.zeros(n, dtype=np.int64)
    s = int(np.argmin(D))
    for i in range(n - 1, -1, -1):
        b = int(back[i, s])
        out[i], s = divmod(b, NS)
    return out


def _evidence(raw: np.ndarray, pair: tuple[int, int], q: int, fit: tuple[np.ndarray, np.ndarray] | None,
              weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Per discharge (input-grid indices ``raw``): whether the peel-off kept a template fit
    for it (``fit``: :meth:`~.decompose.Peeler.fits`: one template's discharges and pair
    members), and then the cost (n × 2) of dealing
    it to each of the two units whose templates are ``pair``: ``weight`` × half the excess
    of that template's residual over the better one's, in the window's noise variances
    (a Gaussian log-likelihood ratio, discounted: the background of distant units is neither
    white nor independent of the potential)."""
    fitted = np.zeros(len(raw), dtype=bool)
    Z = np.zeros((len(raw), 2))
    if fit is None or len(fit[0]) == 0 or weight <= 0:
        return fitted, Z
    at, z = fit
    g = np.asarray(raw, dtype=np.int64) // q
    pos = np.clip(np.searchsorted(at, g), 0, len(at) - 1)
    fitted = at[pos] == g
    Z[fitted] = z[pos[fitted]][:, list(pair)]
    Z = 0.5 * weight * (Z - Z.min(axis=1, keepdims=True))
    return fitted, Z


def separate(found: list[np.ndarray], trains: list, templates: np.ndarray, q: int, fs: float,
             cfg: GapConfig | None = None, fit: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
    """Found trains (input-grid indices at ``fs`` Hz) with the discharges of two units of one
    shape re-dealt by their rhythms (module docstring, *Separation*; ``trains`` and
    ``templates`` as for :func:`fill_gaps`; ``fit``: the peel-off's per-discharge template
    residuals, :meth:`~.decompose.Peeler.fits`, whose indices are on the trains' decimated
    grid; None: the constant moving cost for every discharge)."""
    cfg = cfg or GapConfig()
    found = [np.unique(np.asarray(f, dtype=np.int64)) for f in found]
    if not cfg.enabled or cfg.separate_share <= 0 or len(found) < 2 or len(templates) == 0:
        return found
    T = np.asarray(templates, dtype=np.float64)
    H = T.shape[1] // 2
    tr = [q * np.unique(np.asarray(u, dtype=np.int64)) for u in trains]
    own_j = [_own_train(f, tr)[0] for f in found]
    pairs = []
    for a in range(len(found)):
        for b in range(a + 1, len(found)):
            sh, k = best_shift(T[own_j[a]], T[own_j[b]], H)
            if sh <= cfg.separate_share:
                pairs.append((sh, a, b, q * k))
    for _, a, b, k in sorted(pairs):  # most similar first
        fa, fb = found[a], found[b] + k   # b on a's alignment
        if len(fa) < 4 or len(fb) < 4:
            continue
        e = np.concatenate([fa, fb])
        src = np.concatenate([np.zeros(len(fa), np.int64), np.ones(len(fb), np.int64)])
        o = np.argsort(e, kind="stable")
        e, src = e[o], src[o]
        fitted, Z = _evidence(np.concatenate([found[a], found[b]])[o], (own_j[a], own_j[b]), q, fit,
                              cfg.separate_evidence)
        lab, shape = src, cfg.separate_shape
        for _ in range(cfg.separate_rounds):
            P, sd = [], []
            for x in (0, 1):
                rate, cv = firing(e[lab == x] / fs) if np.count_nonzero(lab == x) >= 4 else (0.0, 0.0)
                if rate <= 0:
                    break
                P.append(fs / rate)
                sd.append(float(np.clip(cv, 0.1, 0.3)) * fs / rate)  # a mixed train's CV is inflated
            if len(P) < 2:
                break
            cost = np.where(fitted[:, None], Z, shape * (src[:, None] != np.arange(2)[None, :]))
            new = _viterbi(e.astype(np.float64), cost, (P[0], P[1]), (sd[0], sd[1]), cfg.separate_miss,
                           cfg.separate_neither or float("inf"))
            # a discharge of neither rhythm stays in the train that held it (the re-deal does
            # not move what it cannot place)
            new = np.where(new == 2, src, new)
            # how far the peel-off's dealing is to be trusted, from how often the rhythms overruled it
            eps = float(np.clip(np.mean(new != src), 0.02, 0.45))
            nshape = min(float(np.log((1.0 - eps) / eps)), cfg.separate_shape)
            done = np.array_equal(new, lab) and nshape == shape  # another round would deal them alike
            lab, shape = new, nshape
            if done:
                break
        na, nb = np.unique(e[lab == 0]), np.unique(e[lab == 1] - k)
        # a re-deal must not make either train less regular (two fragments of one unit, or
        # two units the rhythms cannot tell apart, are left as they are)
        if (len(na) < 4 or len(nb) < 4 or regular_share(na) < regular_share(found[a]) - 0.02
                or regular_share(nb) < regular_share(found[b]) - 0.02):
            continue
        found[a], found[b] = na, nb
    return found
