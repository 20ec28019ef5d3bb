"""Slot search: a found unit's discharges that no peel-off train holds, looked for where its
rhythm expects them, on what the peel-off left of the detection band.

After gap filling (:mod:`.gaps`) a found unit still misses discharges that no template
matched: mostly superpositions, its potential within a few ms of another unit's, which the
peel-off explained by the other unit alone (or by one template for two near-coincident
potentials of one shape), leaving it in the residual. A human decomposer looks for such a
discharge where the unit's rhythm puts it (EMGLAB's firing-pattern editing, McGill et al.
2005); so does this stage:

1. *Residual*: the detection band, block by block (:func:`~.chunks.windows`), less the
   template of every peel-off discharge within ``held_ms`` (the EMGLAB matching tolerance) of
   a found unit's discharge, at its place: the found units' explanation. The other peel-off
   discharges (templates that make no unit: mixtures of two units, superpositions) stay,
   so a unit's slot may claim one (against subtracting every peel-off discharge, simulator
   1.7.0: discharges matched 0.869 → 0.871 on the benchmark, 0.875 → 0.879 held out; with
   0.3 ms one more benchmark unit is found but its mean is 0.867; 1 ms: 0.870 and 0.878).
2. *Slots*: per found unit with period ``P`` (:func:`~.units.firing`), between consecutive
   discharges more than 1.5 P apart, ``n − 1`` expected times evenly spaced (``n`` the gap
   in whole periods), as in gap filling.
3. *Search*: the unit's template (the learned template whose train shares most of its
   discharges) at every whole-sample position within ± ``tol`` × P of a slot; the best
   position is taken as a discharge if subtracting the template there removes at least
   ``gain`` × its energy from the residual (the residual's projection on the template is
   ≥ (1 + ``gain``)/2 of its energy: for the band's noise σ alone a deviation of
   0.55·|T|/σ standard deviations, ~10 for a typical unit's |T| ≈ 20 σ) and leaves at most
   ``accept_residual`` of the residual's energy over the template's span. Gaps of more than
   ``max_missing`` discharges in a row are not searched (the unit may have paused).
   A voluntary unit in a steady contraction does not skip discharges, so a slot is expected
   to hold one: the evidence asked for is low. Simulator 1.7.0 (``benchmarks/quant.py``):
   discharges matched per found unit 0.856 → 0.867 (held-out 0.862 → 0.873), EMGLAB
   agreement 0.797 → 0.804 (0.805 → 0.811): what is added is mostly right; ``gain`` 0.5 and
   ``accept_residual`` 0.45 (the peel-off's own criterion) add a fifth as much.

Times and firing only (the display templates are averaged from the peel-off's trains).
Indices: int64 input-grid samples; no state between calls; one extra pass over the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.validation import check_ranges

from .chunks import windows
from .gaps import _own_train, _period, _slots
from .units import nearest

__all__ = ["SlotConfig", "fill_slots"]


@dataclass(frozen=True)
class SlotConfig:
    """Parameters of the slot search (module docstring). ``enabled=False``: trains unchanged."""

    enabled: bool = True
    tol: float = 0.2              # × period: how far from its slot a discharge is looked for
    gain: float = 0.1             # share of the template's energy its subtraction must remove
    accept_residual: float = 0.9  # residual / energy over the template's span, at most
    max_missing: int = 3          # a longer gap (more discharges missing in a row) is not searched
    held_ms: float = 0.5          # a peel-off discharge this close to a found one is that one (ms)

    def __post_init__(self) -> None:
        check_ranges(self, (("tol", 0.01, 0.5), ("gain", 0.0, 1.0), ("accept_residual", 0.01, 1.0),
                            ("max_missing", 1, 1000, "", True), ("held_ms", 0.0, 5.0, "ms")))
        if not isinstance(self.enabled, bool):
            raise ValueError(f"SlotConfig.enabled = {self.enabled!r}: must be True or False")


def fill_slots(x, fs: float, bands, block: int, margin: int, scale: float, found: list[np.ndarray],
               trains: list, templates: np.ndarray, q: int, cfg: SlotConfig | None = None) -> list[np.ndarray]:
    """Found trains (``found``: input-grid indices at ``fs`` Hz) with discharges found at their
    rhythm's empty slots on the peel-off's residual (module docstring). ``trains[j]``: the
    peel-off's discharges of template ``templates[j]`` (detection-band grid, ``q`` input
    samples per step); ``x``, ``bands``, ``block``, ``margin``, ``scale`` as for
    :func:`~.chunks.windows`."""
    cfg = cfg or SlotConfig()
    found = [np.unique(np.asarray(f, dtype=np.int64)) for f in found]
    T = np.asarray(templates, dtype=np.float64)
    if not cfg.enabled or not found or len(T) == 0:
        return found
    H = T.shape[1] // 2
    L = 2 * H + 1
    TT = np.einsum("ij,ij->i", T, T)
    tr = [np.unique(np.asarray(u, dtype=np.int64)) for u in trains]
    every = np.concatenate([t for t in tr] + [np.zeros(0, np.int64)])
    which = np.concatenate([np.full(len(t), j) for j, t in enumerate(tr)] + [np.zeros(0, np.int64)])
    o = np.argsort(every, kind="stable")
    every, which = every[o], which[o]
    # the found units' explanation only: a peel-off discharge that is none of theirs (a
    # template that makes no unit) stays in the residual, where a unit's slot may claim it
    allf = np.concatenate(found)
    if len(allf):
        mine = np.abs(nearest(np.sort(allf), q * every) - q * every) <= cfg.held_ms * 0.001 * fs
        every, which = every[mine], which[mine]
    # per unit: its template, and its slots (decimated grid) with the search half-width
    jobs = []  # (unit, its template, slot, search half-width): detection-grid samples
    for a, f in enumerate(found):
        if len(f) < 4:
            continue
        p = _period(f, fs)
        s = _slots(f, p, cfg.max_missing)
        if not len(s):
            continue
        j, shared = _own_train(f, [q * t for t in tr])
        if shared == 0:
            continue
        w = max(1, int(round(cfg.tol * p / q)))
        for c in np.rint(s / q).astype(np.int64):
            jobs.append((a, j, int(c), w))
    if not jobs:
        return found
    jobs.sort(key=lambda r: r[2])
    centres = np.array([r[2] for r in jobs])
    add: list[list[int]] = [[] for _ in found]
    for win in windows(x, fs, bands, block, margin, scale):
        d = win.detect.copy()
        base = win.dstart
        n = len(d)
        # the peel-off's explanation, subtracted: every discharge whose template overlaps the buffer
        i0, i1 = np.searchsorted(every, base - H), np.searchsorted(every, base + n + H)
        for g, m in zip(every[i0:i1], which[i0:i1]):
            a0 = int(g) - base - H
            lo, hi = max(a0, 0), min(a0 + L, n)
            if lo < hi:
                d[lo:hi] -= T[m][lo - a0:hi - a0]
        k0, k1 = np.searchsorted(centres, base + win.dlo), np.searchsorted(centres, base + win.dhi)
        for a, j, c, w in jobs[k0:k1]:
            # the search reaches into the buffer's context; clipped where it ends
            lo, hi = max(c - base - w - H, 0), min(c - base + w + H + 1, n)
            if hi - lo < L:
                continue
            S = np.lib.stride_tricks.sliding_window_view(d[lo:hi], L)
            red = 2.0 * (S @ T[j]) - TT[j]  # residual energy removed by subtracting the template there
            b = int(np.argmax(red))
            ee = float(S[b] @ S[b])
            if red[b] >= cfg.gain * TT[j] and ee - red[b] <= cfg.accept_residual * ee:
                add[a].append(q * (base + lo + b + H))
    own = max(1, int(0.001 * fs))  # a discharge of the unit's own within 1 ms: that one
    out = []
    for f, ad in zip(found, add):
        ad = np.asarray(ad, dtype=np.int64)
        if len(ad):
            ad = ad[np.abs(nearest(f, ad) - ad) > own]
        out.append(np.unique(np.concatenate([f, ad])))
    return out
