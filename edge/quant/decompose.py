"""Decomposition: candidate potentials → motor units (templates) → discharges.

1. *Noise and threshold* (:func:`noise_sigma`): σ = median(|d|) / 0.6745 of the detection
   band ``d`` (the robust noise estimate of spike sorting, Quiroga et al. 2004), taken per
   block and the median over blocks; the detection threshold is ``threshold_k`` · σ
   (default 5). Candidates are local maxima of |d| above it, at least ``min_sep_ms`` apart.
2. *Templates* (:func:`learn_templates`): up to ``max_learn`` candidates (a uniform reservoir
   over the recording) are clustered by a leader algorithm on their detection-band waveform
   (± ``half_ms``): a candidate joins the template it matches best at any shift within
   ± ``max_shift_ms`` if the match leaves ≤ ``join_residual`` of its energy, else it starts a
   template (plus ``join_noise`` × L·σ² for the noise: a member's residual is about L·σ² when
   the shapes are equal, and two units of one pool differ by 1–3 L·σ² in the detection band,
   so a larger allowance pools them). Each cluster's template is the sample-wise *median* of its aligned members;
   clusters with fewer than ``min_members`` members are dropped and templates that match
   each other are merged. Then the members are re-assigned to the medians once more.
3. *Peel-off* (:func:`peel`): over the whole signal, largest candidate first, the best
   template at the best shift is subtracted from the detection band when that removes at
   least ``1 − accept_residual`` of the window's energy; the discharge is recorded. The
   residual is searched again (``rounds`` times), so the smaller potential of a superimposed
   pair is found once the larger one is peeled off. A candidate that no single template
   explains well (residual > ``pair_try`` of its energy) is tried as a *pair*: each of the 3 best single templates (at their best shift)
   is subtracted and the best second template is sought anywhere within ± ``half_ms``; the
   pair is taken if it leaves ≤ ``pair_residual`` of the energy around the candidate and
   (when one template was acceptable too) less than half of what that one left.
4. *Firing context* (``context_passes``): the peel-off is repeated with the previous one's
   discharge trains (cleaned by :func:`regular_train`) and, in :func:`edge.quant.quantify`,
   with each found unit's own template re-estimated from its train (the learned templates
   include mixtures of two similar units, which deal their discharges at random; ``refine``,
   opt-in, with the tighter clustering ``join_residual=0.03, join_noise=1.0`` it was measured
   with; default: the learned templates in every pass). With ``refine`` the first peel-off,
   whose only job is then to give those trains, tries no pairs (``Peeler(pairs=False)``: a
   quarter of the CPU time). A template whose unit fired less
   than half its median interval before or after a candidate may not explain it. Two
   superimposed units whose sum resembles a third unit's potential are then resolved as
   the pair (at 15 % effort ~1 discharge in 10 overlaps another within 1 ms).
   (superimposed potentials at low to moderate effort).
5. *Fit per discharge* (:meth:`Peeler.fits`): for every discharge one template explained,
   each template's residual there at its own best shift (the firing context not applied),
   less the best one's, in the window's noise variances: what the shape alone says, which
   the re-deal of two units of one shape (:func:`edge.quant.gaps.separate`) weighs against
   their rhythms. Each member of a superimposed pair gets the same fit on its window (± the
   shift) with the other member's template taken out (``pair_fits``): without it the pair
   members were dealt by a flat cost (with the discharges moved when fragments are joined,
   about 4 in 10 of those misplaced between two units of one shape had no fit of their own;
   simulator 1.7.0, discharges matched per found unit 0.887 → 0.891, held
   out 0.891 → 0.897, seeds 301–320 0.878 → 0.886). The noise variance is the window's own:
   the best template's residual per sample, at least the band's σ² (the same residual
   difference is strong evidence in a quiet stretch and weak among other units' potentials
   at 30 % effort; with the band's σ² alone, mean share of discharges matched over every
   scored unit, found or not, 0.854 and held out 0.881, now 0.867 and 0.892).

Discharge indices are the template's alignment sample (its detection-band peak) on the
detection band's (decimated, :func:`chunks.decimation`) grid; ``fs`` here is that grid's rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.signal import find_peaks

from edge.validation import check_ranges

from .chunks import Window

__all__ = ["DecomposeConfig", "noise_sigma", "candidates", "learn_templates", "best_shift", "residual_share", "Peeler"]


@dataclass(frozen=True)
class DecomposeConfig:
    """Parameters of detection, clustering and peel-off (module docstring)."""

    threshold_k: float = 5.0       # × robust noise σ of the detection band
    min_sep_ms: float = 0.8        # between candidates, ms
    half_ms: float = 1.5           # half-width of the matched waveform, ms
    max_shift_ms: float = 0.5      # alignment search, ms
    join_residual: float = 0.05    # leader clustering: residual/energy to join a template
    join_noise: float = 1.5        # + this × (window length × noise σ²) of residual allowed
    accept_residual: float = 0.45  # peel-off: residual/energy to accept a match
    merge_residual: float = 0.02   # templates closer than this are one unit
    max_learn: int = 2000          # candidates clustered
    min_members: int = 8           # members for a template to be kept
    rounds: int = 3                # peel-off passes over the residual
    pair_residual: float = 0.3     # superposition: residual/energy to accept a pair of units
    pair_try: float = 0.1          # try a pair when one template leaves more than this
    pair_fits: bool = True         # keep each pair member's template fit too (Peeler.fits)
    context_passes: int = 1        # peel-offs repeated with the previous one's firing context
    # Repeat the peel-off with each found unit's own template (module docstring). Off by
    # default: on simulated pools it finds more units (benchmark 77 → 81 %) but on the real
    # PhysioNet records it breaks the myopathy-smaller-than-healthy ordering (442 vs 225 µV,
    # 7 vs 10 units) and keeps 5 of the neuropathy record's 17 units (README, QEMG).
    refine: bool = False
    seed: int = 0                  # reservoir sampling

    def __post_init__(self) -> None:
        check_ranges(self, (("threshold_k", 2.0, 50.0), ("min_sep_ms", 0.1, 10.0, "ms"), ("half_ms", 0.3, 10.0, "ms"),
                            ("max_shift_ms", 0.0, 3.0, "ms"), ("join_residual", 0.01, 1.0), ("join_noise", 0.0, 20.0),
                            ("accept_residual", 0.01, 1.0), ("merge_residual", 0.0, 1.0), ("pair_residual", 0.0, 1.0),
                            ("pair_try", 0.0, 1.0), ("max_learn", 50, 1_000_000, "", True),
                            ("min_members", 2, 10_000, "", True), ("rounds", 1, 10, "", True),
                            ("context_passes", 0, 5, "", True)))
        for name in ("refine", "pair_fits"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"DecomposeConfig.{name} = {getattr(self, name)!r}: must be True or False")

    def samples(self, fs: float) -> tuple[int, int, int]:
        """(half-width, max shift, min separation) in samples at ``fs`` Hz."""
        ms = float(fs) / 1000.0
        return (max(2, int(round(self.half_ms * ms))), int(round(self.max_shift_ms * ms)),
                max(1, int(round(self.min_sep_ms * ms))))


def noise_sigma(block_medians: list[float]) -> float:
    """σ of the detection band from the per-block medians of |d| (module docstring)."""
    return float(np.median(block_medians)) / 0.6745 if block_medians else 0.0


def candidates(d: np.ndarray, lo: int, hi: int, thr: float, sep: int) -> np.ndarray:
    """Indices in ``lo .. hi`` of local maxima of |d| above ``thr``, ≥ ``sep`` apart."""
    p, _ = find_peaks(np.abs(d[lo:hi]), height=thr, distance=sep)
    return p + lo


def _match(segs: np.ndarray, T: np.ndarray, TT: np.ndarray, D: np.ndarray | None = None,
           DD: np.ndarray | None = None, TD: np.ndarray | None = None, allowed: np.ndarray | None = None,
           per_template: bool = False):
    """Best template, shift, residual energy, window energy and fractional shift of each row
    of ``segs`` (N × (L + 2K)) against templates ``T`` (M × L) over the shifts 0..2K.

    With the templates' derivatives ``D`` (``DD = |D|²``, ``TD = T·D``) each match is refined
    to a fraction τ of a sample (|τ| ≤ 0.5) by a first-order Taylor step T(t − τ) ≈ T − τ·D:
    at 10 kHz a sharp MUAP spike half a sample off leaves several % of its energy, as much
    as separates two units of the same pool. ``allowed`` (N × M bool) excludes templates per
    row. Returns five arrays of length N; with ``per_template`` a sixth, N × M: each
    template's residual energy at its own best shift, ``allowed`` not applied."""
    segs = np.atleast_2d(segs)
    N, L = len(segs), T.shape[1]
    S = segs.shape[1] - L + 1
    idx = np.arange(S)[:, None] + np.arange(L)[None, :]
    out = [np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64), np.zeros(N), np.zeros(N), np.zeros(N)]
    if per_template:
        out.append(np.zeros((N, T.shape[0])))
    step = max(1, 2_000_000 // max(S * L, 1))
    for a in range(0, N, step):
        W = segs[a:a + step][:, idx]                           # n × S × L
        n = len(W)
        ww = np.einsum("nsl,nsl->ns", W, W)
        # one matrix product over every (row, shift): a stacked product would loop over rows
        W2 = W.reshape(n * S, L)
        # in place, in the order of ww − 2·W·T + |T|² (+ 2τ·g + τ²·|D|²): the same values
        res = (W2 @ T.T).reshape(n, S, -1)                                            # n × S × M
        res *= -2.0
        res += ww[:, :, None]
        res += TT[None, None, :]
        if D is not None:
            g = (W2 @ D.T).reshape(n, S, -1)
            g -= TD[None, None, :]                                                     # <W − T, D>
            tau = np.negative(g)
            tau /= np.maximum(DD, 1e-12)
            np.clip(tau, -0.5, 0.5, out=tau)
            g *= tau
            g *= 2.0  # (2τ)·g: the factor 2 is exact
            res += g
            np.multiply(tau, tau, out=g)
            g *= DD
            res += g
        else:
            tau = np.zeros_like(res)
        if per_template:
            out[5][a:a + step] = res.min(axis=1)
        if allowed is not None:
            res = np.where(allowed[a:a + step, None, :], res, np.inf)
        flat = res.reshape(len(W), -1)
        j = np.argmin(flat, axis=1)
        k, m = np.divmod(j, T.shape[0])
        r = np.arange(len(W))
        out[0][a:a + step], out[1][a:a + step] = m, k
        out[2][a:a + step], out[3][a:a + step] = flat[r, j], ww[r, k]
        out[4][a:a + step] = tau[r, k, m]
    return out


def _slide(seg: np.ndarray, L: int) -> np.ndarray:
    """Read-only view of all length-``L`` windows of a 1-D array (cheaper than
    ``sliding_window_view``, which checks its arguments on every call)."""
    seg = np.ascontiguousarray(seg, dtype=np.float64)
    st = seg.strides[0]
    return as_strided(seg, shape=(len(seg) - L + 1, L), strides=(st, st), writeable=False)


def _best(seg, T, TT, D=None, DD=None, TD=None, allowed=None) -> tuple[int, int, float, float, float]:
    """:func:`_match` of one segment, as scalars (a lean path: called once per candidate)."""
    L = T.shape[1]
    W = _slide(seg, L)
    ww = np.einsum("sl,sl->s", W, W)
    res = ww[:, None] - 2.0 * (W @ T.T) + TT
    if allowed is not None:
        res[:, ~allowed] = np.inf
    if D is None:
        j = int(np.argmin(res))
        k, m = divmod(j, len(T))
        return m, k, float(res.flat[j]), float(ww[k]), 0.0
    g = W @ D.T - TD
    tau = np.clip(-g / np.maximum(DD, 1e-12), -0.5, 0.5)
    res += tau * (2.0 * g + tau * DD)
    j = int(np.argmin(res))
    k, m = divmod(j, len(T))
    return m, k, float(res.flat[j]), float(ww[k]), float(tau.flat[j])


def best_shift(a: np.ndarray, b: np.ndarray, K: int, subsample: bool = False) -> tuple[float, int]:
    """How far template ``b`` is from template ``a`` (same length) and where: the residual
    energy |b(t + k) − a(t)|² at the best shift k within ±``K`` samples (``b`` zero-padded,
    no wrap-around), as a share of the larger of the two energies, and that k. With
    ``subsample`` the residual is refined to a fraction of a sample as in :func:`_match` (k
    stays whole). A share of 0 for equal templates (two zero templates included), about 1 or
    more for unrelated ones. k > 0: ``b`` shows a feature k samples later than ``a`` does."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    seg = np.concatenate([np.zeros(K), b, np.zeros(K)])
    A, aa = a[None, :], float(a @ a)
    _, s, r, _, _ = _best(seg, A, np.array([aa]), *(_deriv(A) if subsample else ()))
    top = max(aa, float(b @ b))
    return (r / top if top > 0 else 0.0), int(s) - K


def best_shifts(T: np.ndarray, K: int) -> list[list[tuple[float, int]]]:
    """:func:`best_shift` of every pair of templates ``T`` (M × L): row a, column b holds
    ``best_shift(T[a], T[b], K)`` (whole-sample shifts), one batched match per row."""
    T = np.asarray(T, dtype=np.float64)
    n = len(T)
    pad = np.concatenate([np.zeros((n, K)), T, np.zeros((n, K))], axis=1)
    E = np.einsum("ij,ij->i", T, T)
    out = []
    for a in range(n):
        _, s, r, _, _ = _match(pad, T[a:a + 1], E[a:a + 1])
        top = np.maximum(E[a], E)
        share = np.where(top > 0, r / np.where(top > 0, top, 1.0), 0.0)
        out.append([(float(share[b]), int(s[b]) - K) for b in range(n)])
    return out


def residual_share(a: np.ndarray, b: np.ndarray, K: int, subsample: bool = False) -> float:
    """The residual share of :func:`best_shift` (how far template ``b`` is from ``a`` at the
    best shift within ±``K`` samples)."""
    return best_shift(a, b, K, subsample)[0]


def _deriv(T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central-difference derivatives of templates (per sample), their energies and T·D."""
    D = np.gradient(T, axis=1)
    return D, np.einsum("ij,ij->i", D, D), np.einsum("ij,ij->i", T, D)


def _center(t: np.ndarray, K: int) -> np.ndarray:
    """Roll a template so its largest |value| sits at the centre, if within ±K."""
    c = len(t) // 2
    off = int(np.argmax(np.abs(t))) - c
    if 0 < abs(off) <= K:
        t = np.roll(t, -off)
        if off > 0:
            t[-off:] = 0.0
        else:
            t[:-off] = 0.0
    return t


def learn_templates(snips: np.ndarray, cfg: DecomposeConfig, fs: float, sigma: float = 0.0) -> np.ndarray:
    """Templates (M × (2H+1), detection band, µV) from candidate snippets (N × (2H+2K+1))
    centred on their peaks."""
    H, K, _ = cfg.samples(fs)
    L = 2 * H + 1
    if len(snips) == 0:
        return np.zeros((0, L))
    # Noise allowance: a noisy snippet of a unit differs from its template by ~L·σ² even
    # when the shapes are equal; without it a small unit (energy ≲ L·σ²/join_residual)
    # would split into one template per discharge.
    allow = cfg.join_noise * L * float(sigma) ** 2
    order = np.random.default_rng(cfg.seed).permutation(len(snips))
    sums: list[np.ndarray] = []
    members: list[list[tuple[int, int]]] = []
    T = np.zeros((0, L))
    TT = np.zeros(0)
    for i in order:
        s = snips[i]
        if len(T):
            m, k, r, e, _ = _best(s, T, TT)
            if e > 0 and r <= cfg.join_residual * e + allow:
                members[m].append((i, k))
                sums[m] += s[k:k + L]
                T[m] = sums[m] / len(members[m])
                TT[m] = T[m] @ T[m]
                continue
        c = s[K:K + L].copy()
        sums.append(c.copy())
        members.append([(i, K)])
        T = np.vstack([T, c])
        TT = np.append(TT, c @ c)
    for _ in range(2):  # medians of the kept clusters, merge, re-assign
        keep = [j for j, mm in enumerate(members) if len(mm) >= cfg.min_members]
        if not keep:
            return np.zeros((0, L))
        meds = [_center(np.median(np.stack([snips[i][k:k + L] for i, k in members[j]]), axis=0), K)
                for j in keep]
        sizes = [len(members[j]) for j in keep]
        T = _merge(np.stack(meds), np.array(sizes), cfg, K)
        TT = np.einsum("ij,ij->i", T, T)
        members = [[] for _ in range(len(T))]
        mm, kk, rr, ee, _ = _match(snips, T, TT, *_deriv(T))
        for i in np.nonzero((ee > 0) & (rr <= cfg.join_residual * ee + allow))[0]:
            members[mm[i]].append((int(i), int(kk[i])))
    keep = [j for j, mm in enumerate(members) if len(mm) >= cfg.min_members]
    return T[keep]


def _merge(T: np.ndarray, sizes: np.ndarray, cfg: DecomposeConfig, K: int) -> np.ndarray:
    """Drop templates that match a larger cluster's template within ``merge_residual``."""
    L = T.shape[1]
    out: list[int] = []
    for j in np.argsort(-sizes):
        if not any(residual_share(T[o], T[j], K, subsample=True) <= cfg.merge_residual for o in out):
            out.append(int(j))
    return T[sorted(out)] if out else np.zeros((0, L))


def regular_train(c: np.ndarray, isi: float) -> np.ndarray:
    """A sorted discharge train without the discharges that break its rhythm: of two
    discharges less than half the median interval ``isi`` apart, the one closer to where the
    rhythm expects it (previous kept discharge + ``isi``) is kept."""
    if len(c) < 4 or isi <= 0:
        return c
    kept: list[int] = []
    for t in c.tolist():
        if kept and t - kept[-1] < 0.5 * isi:
            if len(kept) >= 2:
                exp = kept[-2] + isi
                if abs(t - exp) < abs(kept[-1] - exp):
                    kept[-1] = t
            continue
        kept.append(t)
    return np.asarray(kept, dtype=np.int64)


class Peeler:
    """Peel-off of known templates from the detection band, window by window (state: none
    beyond the templates; the edited detection buffer is carried by :func:`chunks.windows`)."""

    def __init__(self, templates: np.ndarray, thr: float, cfg: DecomposeConfig, fs: float,
                 context: list[np.ndarray] | None = None, pairs: bool = True):
        self.T = np.asarray(templates, dtype=np.float64)
        self.pairs = bool(pairs)
        self.TT = np.einsum("ij,ij->i", self.T, self.T)
        self.D, self.DD, self.TD = _deriv(self.T)
        self.thr, self.cfg = float(thr), cfg
        self.H, self.K, self.sep = cfg.samples(fs)
        self.units: list[list[int]] = [[] for _ in range(len(self.T))]
        self.unassigned: list[int] = []
        # Per discharge fitted by one template (:meth:`fits`): each template's residual there
        # at its best shift less the best one's, in noise variances; kept per round as arrays
        # (float16, M per discharge: memory stays small on long input).
        self._fit_at: list[np.ndarray] = []
        self._fit_z: list[np.ndarray] = []
        self._var = (self.thr / cfg.threshold_k) ** 2
        # Firing context from an earlier peel-off: per template its sorted discharge indices and
        # the shortest plausible interval (half its median interval). A template whose unit
        # fired less than that interval before or after a candidate (and not at the candidate
        # itself, ±1 ms) cannot explain it: this is what resolves a superposition of two units
        # that happens to look like a third one.
        self.ctx = None
        if context is not None:
            self.ctx = []
            for c in context:
                c = np.sort(np.asarray(c if c is not None else [], dtype=np.int64))
                isi = float(np.median(np.diff(c))) if len(c) >= 4 else 0.0
                self.ctx.append((regular_train(c, isi), 0.5 * isi))
        self.own = max(1, int(round(fs / 1000.0)))

    def fits(self) -> tuple[np.ndarray, np.ndarray]:
        """The discharges fitted by one template, and (``pair_fits``) the members of fitted
        pairs, each on its window with the other member's template subtracted: their global
        indices (sorted, int64) and, per discharge, every template's residual energy at its
        own best shift (firing context not applied) less the best template's, in units of
        the window's noise variance: the best template's residual energy / the window's
        length, at least the band's σ² (σ = thr / threshold_k; N × M float16): how far the
        shape alone prefers one template to another (:func:`edge.quant.gaps.separate`
        weighs it against the rhythms)."""
        if not self._fit_at:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(self.T)), dtype=np.float16)
        at, z = np.concatenate(self._fit_at), np.concatenate(self._fit_z)
        o = np.argsort(at, kind="stable")
        return at[o], z[o]

    def _allowed(self, g: np.ndarray) -> np.ndarray | None:
        """(len(g) × M) templates allowed at global sample indices ``g`` by the firing context."""
        if self.ctx is None:
            return None
        out = np.ones((len(g), len(self.T)), dtype=bool)
        for m, (c, gap) in enumerate(self.ctx):
            if len(c) < 4 or gap <= self.own:
                continue
            dist = np.full(len(g), np.inf)
            pos = np.searchsorted(c, g)
            for q in (pos - 2, pos - 1, pos, pos + 1):
                ok = (q >= 0) & (q < len(c))
                dq = np.abs(c[np.clip(q, 0, len(c) - 1)] - g)
                dq = np.where(ok & (dq > self.own), dq, np.inf)
                dist = np.minimum(dist, dq)
            out[:, m] = dist >= gap
        return out

    def _pairs(self, d: np.ndarray, cs: np.ndarray, allowed: np.ndarray | None) -> list:
        """For each candidate index in ``cs``: ``(residual share, [(template, window start, τ)
        × 2])`` of the best pair explaining it, or None (all candidates at once)."""
        H, K, L = self.H, self.K, 2 * self.H + 1
        R = H + K  # the second template anywhere within ± R of the candidate
        M = len(self.T)
        out: list = [None] * len(cs)
        ok = (cs - H - R >= 0) & (cs + H + R + 1 <= len(d))
        if not ok.any():
            return out
        rows = np.nonzero(ok)[0]
        c = cs[rows]
        spans = d[c[:, None] + np.arange(-H - R, H + R + 1)[None, :]]                  # n × (2H+2R+1)
        e0 = np.einsum("ij,ij->i", spans, spans)
        W = spans[:, (R - K) + np.arange(2 * K + 1)[:, None] + np.arange(L)[None, :]]  # n × S × L (first: ±K)
        res1 = (W.reshape(-1, L) @ self.T.T).reshape(W.shape[0], W.shape[1], -1)   # one product (_match)
        res1 *= -2.0
        res1 += np.einsum("nsl,nsl->ns", W, W)[:, :, None]
        res1 += self.TT
        alw = None if allowed is None else allowed[rows]
        if alw is not None:
            res1 = np.where(alw[:, None, :], res1, np.inf)
        k1 = np.argmin(res1, axis=1)                                                  # n × M
        r1 = np.take_along_axis(res1, k1[:, None, :], axis=1)[:, 0, :]
        nf = min(3, M)
        m1 = np.argsort(r1, axis=1)[:, :nf]                                           # n × nf
        k1 = np.take_along_axis(k1, m1, axis=1)
        fin = np.isfinite(np.take_along_axis(r1, m1, axis=1))
        s1 = k1 + (R - K)                                                             # start in the span
        loc = np.repeat(spans[:, None, :], nf, axis=1).copy()                         # n × nf × span
        pos = s1[:, :, None] + np.arange(L)[None, None, :]
        np.put_along_axis(loc, pos, np.take_along_axis(loc, pos, axis=2) - self.T[m1], axis=2)
        flat = loc.reshape(-1, loc.shape[2])
        al2 = None if alw is None else np.repeat(alw, nf, axis=0)
        m2, k2, r2, ww, t2 = _match(flat, self.T, self.TT, self.D, self.DD, self.TD, al2)
        e2 = (np.einsum("ij,ij->i", flat, flat) - ww + r2).reshape(-1, nf)
        m2, k2, t2 = m2.reshape(-1, nf), k2.reshape(-1, nf), t2.reshape(-1, nf)
        same = (m2 == m1) & (np.abs(k2 - s1) < 2)
        e2 = np.where(fin & ~same, e2, np.inf)
        j = np.argmin(e2, axis=1)
        for n, i in enumerate(rows):
            b = j[n]
            if not np.isfinite(e2[n, b]) or e2[n, b] > self.cfg.pair_residual * e0[n]:
                continue
            a0 = int(cs[i]) - H - R
            out[i] = (float(e2[n, b] / max(e0[n], 1e-12)),
                      [(int(m1[n, b]), a0 + int(s1[n, b]), 0.0), (int(m2[n, b]), a0 + int(k2[n, b]), float(t2[n, b]))])
        return out

    def process(self, w: Window) -> None:
        """Peel the core of ``w`` (edits ``w.detect`` in place). Each round matches every
        candidate at once, then subtracts the accepted matches largest first, skipping a
        match whose window overlaps one already subtracted in this round (it is matched
        again on the residual in the next round)."""
        if len(self.T) == 0:
            return
        H, K, L = self.H, self.K, 2 * self.H + 1
        d = w.detect  # decimated grid (chunks.decimation): indices below are on it
        lo, hi = max(w.dlo, H + K), min(w.dhi, len(d) - H - K)
        idx = np.arange(-H - K, H + K + 1)
        for _ in range(self.cfg.rounds):
            p = candidates(d, lo, hi, self.thr, self.sep)
            if len(p) == 0:
                break
            p = p[np.argsort(-np.abs(d[p]))]
            allowed = self._allowed(p + w.dstart)
            m, k, r, e, tau, rm = _match(d[p[:, None] + idx[None, :]], self.T, self.TT, self.D, self.DD, self.TD,
                                         allowed, per_template=True)
            ok = (e > 0) & (r <= self.cfg.accept_residual * e)
            busy = np.zeros(len(d), dtype=bool)
            hit = False
            single: list[int] = []  # candidates fitted by one template, and where (global index)
            at: list[int] = []
            # members of fitted pairs: each one's window (±K) with the other member taken out,
            # and where (global index): matched against every template after the round
            pair_segs: list[np.ndarray] = []
            pair_at: list[int] = []
            pairs: list = [None] * len(p)
            if self.pairs and self.cfg.pair_residual > 0:
                tp = np.nonzero(r > self.cfg.pair_try * e)[0]
                for i, pr in zip(tp, self._pairs(d, p[tp], None if allowed is None else allowed[tp])):
                    pairs[i] = pr
            for i in range(len(p)):
                fits = [(int(m[i]), int(p[i] - K + k[i] - H), float(tau[i]))] if ok[i] else []  # (template, start, τ)
                pair = pairs[i]
                # a pair is computed on this round's residual: only where nothing was subtracted since
                if pair is not None and not busy[max(p[i] - 2 * H - K, 0):p[i] + 2 * H + K + 1].any():
                    # a pair must do clearly better than one template (two templates always fit a little better)
                    if not ok[i] or pair[0] < 0.5 * r[i] / e[i]:
                        fits = pair[1]
                if not fits or any(busy[a:a + L].any() for _, a, _ in fits):
                    continue
                if len(fits) == 1:
                    single.append(i)
                    at.append(w.dstart + fits[0][1] + H)
                elif self.cfg.pair_fits:
                    for n_, (_, a, _) in enumerate(fits):
                        mo, ao, to = fits[1 - n_]
                        if a - K < 0 or a + L + K > len(d):
                            continue
                        seg = d[a - K:a + L + K].copy()
                        lo_, hi_ = max(ao, a - K), min(ao + L, a + L + K)
                        if lo_ < hi_:  # the other member's part inside this member's window
                            seg[lo_ - (a - K):hi_ - (a - K)] -= (self.T[mo] - to * self.D[mo])[lo_ - ao:hi_ - ao]
                        pair_segs.append(seg)
                        pair_at.append(w.dstart + a + H)
                for mm, a, t in fits:
                    d[a:a + L] -= self.T[mm] - t * self.D[mm]
                    busy[a:a + L] = True
                    self.units[mm].append(w.dstart + a + H)
                hit = True
            for where, z in ((at, rm[single] if single else None),
                             (pair_at, _match(np.stack(pair_segs), self.T, self.TT, self.D, self.DD, self.TD,
                                              per_template=True)[5] if pair_segs else None)):
                if z is None:
                    continue
                best = z.min(axis=1, keepdims=True)
                # in the window's own noise variances: the best fit's residual per sample, at
                # least the band's σ² (a busy window's background makes a difference count less)
                z = (z - best) / np.maximum(self._var, best / L)
                self._fit_at.append(np.asarray(where, dtype=np.int64))
                self._fit_z.append(np.minimum(z, 6e4).astype(np.float16))
            if not hit:
                break
        left = candidates(d, lo, hi, self.thr, self.sep)
        self.unassigned.extend(int(w.dstart + c) for c in left)
