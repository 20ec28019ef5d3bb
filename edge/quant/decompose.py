"""Decomposition: candidate potentials → motor units (templates) → discharges.

1. *Noise and threshold* (:func:`noise_sigma`): σ = median(|d|) / 0.6745 of the detection
   band ``d`` (the robust noise estimate of spike sorting, Quiroga et al. 2004), taken per
   block and the median over blocks; the detection threshold is ``threshold_k`` · σ
   (default 5). Candidates are local maxima of |d| above it, at least ``min_sep_ms`` apart.
2. *Templates* (:func:`learn_templates`): up to ``max_learn`` candidates (a uniform reservoir
   over the recording) are clustered by a leader algorithm on their detection-band waveform
   (± ``half_ms``): a candidate joins the template it matches best at any shift within
   ± ``max_shift_ms`` if the match leaves ≤ ``join_residual`` of its energy, else it starts a
   template. Each cluster's template is the sample-wise *median* of its aligned members;
   clusters with fewer than ``min_members`` members are dropped and templates that match
   each other are merged. Then the members are re-assigned to the medians once more.
3. *Peel-off* (:func:`peel`): over the whole signal, largest candidate first, the best
   template at the best shift is subtracted from the detection band when that removes at
   least ``1 − accept_residual`` of the window's energy; the discharge is recorded. The
   residual is searched again (``rounds`` times), so the smaller potential of a superimposed
   pair is found once the larger one is peeled off (low to moderate effort).

Discharge indices are the template's alignment sample (its detection-band peak) in the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import find_peaks

from .chunks import Window

__all__ = ["DecomposeConfig", "noise_sigma", "candidates", "learn_templates", "Peeler"]


@dataclass(frozen=True)
class DecomposeConfig:
    """Parameters of detection, clustering and peel-off (module docstring)."""

    threshold_k: float = 5.0       # × robust noise σ of the detection band
    min_sep_ms: float = 0.8        # between candidates, ms
    half_ms: float = 1.5           # half-width of the matched waveform, ms
    max_shift_ms: float = 0.5      # alignment search, ms
    join_residual: float = 0.08    # leader clustering: residual/energy to join a template
    accept_residual: float = 0.45  # peel-off: residual/energy to accept a match
    merge_residual: float = 0.03   # templates closer than this are one unit
    max_learn: int = 3000          # candidates clustered
    min_members: int = 8           # members for a template to be kept
    rounds: int = 3                # peel-off passes over the residual
    seed: int = 0                  # reservoir sampling

    def __post_init__(self) -> None:
        for name, lo, hi in (("threshold_k", 2.0, 50.0), ("min_sep_ms", 0.1, 10.0), ("half_ms", 0.3, 10.0),
                             ("max_shift_ms", 0.0, 3.0), ("join_residual", 0.01, 1.0),
                             ("accept_residual", 0.01, 1.0), ("merge_residual", 0.0, 1.0),
                             ("max_learn", 50, 1_000_000), ("min_members", 2, 10_000), ("rounds", 1, 10)):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"DecomposeConfig.{name} = {v!r}: allowed range is {lo:g}..{hi:g}")

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


def _best(seg: np.ndarray, T: np.ndarray, TT: np.ndarray, D: np.ndarray | None = None,
          DD: np.ndarray | None = None, TD: np.ndarray | None = None) -> tuple[int, int, float, float, float]:
    """Best (template, shift, residual energy, window energy, fractional shift) of ``seg``
    (length L + 2K) against templates ``T`` (M × L) over the shifts 0..2K.

    With the templates' derivatives ``D`` (and ``DD = |D|²``, ``TD = T·D``) the match is
    refined to a fraction τ of a sample (|τ| ≤ 0.5) by a first-order Taylor step,
    T(t − τ) ≈ T − τ·D: at 10 kHz a sharp MUAP spike half a sample off leaves several %
    of its energy, as much as separates two units of the same pool."""
    L = T.shape[1]
    W = sliding_window_view(seg, L)                        # (2K+1) × L
    ww = np.einsum("ij,ij->i", W, W)                       # window energies
    WT = W @ T.T
    res = ww[:, None] - 2.0 * WT + TT[None, :]             # (2K+1) × M residual energies
    tau = None
    if D is not None:
        g = (W @ D.T - TD[None, :])                        # <W − T, D>
        tau = np.clip(-g / np.maximum(DD[None, :], 1e-12), -0.5, 0.5)
        res = res + 2.0 * tau * g + tau * tau * DD[None, :]
    k, m = np.unravel_index(int(np.argmin(res)), res.shape)
    return int(m), int(k), float(res[k, m]), float(ww[k]), float(tau[k, m]) if tau is not None else 0.0


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


def learn_templates(snips: np.ndarray, cfg: DecomposeConfig, fs: float) -> np.ndarray:
    """Templates (M × (2H+1), detection band, µV) from candidate snippets (N × (2H+2K+1))
    centred on their peaks."""
    H, K, _ = cfg.samples(fs)
    L = 2 * H + 1
    if len(snips) == 0:
        return np.zeros((0, L))
    order = np.random.default_rng(cfg.seed).permutation(len(snips))
    sums: list[np.ndarray] = []
    members: list[list[tuple[int, int]]] = []
    T = np.zeros((0, L))
    TT = np.zeros(0)
    for i in order:
        s = snips[i]
        if len(T):
            m, k, r, e, _ = _best(s, T, TT)
            if e > 0 and r <= cfg.join_residual * e:
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
        D, DD, TD = _deriv(T)
        for i in range(len(snips)):
            m, k, r, e, _ = _best(snips[i], T, TT, D, DD, TD)
            if e > 0 and r <= cfg.join_residual * e:
                members[m].append((i, k))
    keep = [j for j, mm in enumerate(members) if len(mm) >= cfg.min_members]
    return T[keep]


def _merge(T: np.ndarray, sizes: np.ndarray, cfg: DecomposeConfig, K: int) -> np.ndarray:
    """Drop templates that match a larger cluster's template within ``merge_residual``."""
    L = T.shape[1]
    out: list[int] = []
    for j in np.argsort(-sizes):
        dup = False
        for o in out:
            seg = np.concatenate([np.zeros(K), T[j], np.zeros(K)])
            _, _, r, _, _ = _best(seg, T[o:o + 1], np.array([T[o] @ T[o]]), *_deriv(T[o:o + 1]))
            if r <= cfg.merge_residual * max(T[j] @ T[j], T[o] @ T[o]):
                dup = True
                break
        if not dup:
            out.append(int(j))
    return T[sorted(out)] if out else np.zeros((0, L))


class Peeler:
    """Peel-off of known templates from the detection band, window by window (state: none
    beyond the templates; the edited detection buffer is carried by :func:`chunks.windows`)."""

    def __init__(self, templates: np.ndarray, thr: float, cfg: DecomposeConfig, fs: float):
        self.T = np.asarray(templates, dtype=np.float64)
        self.TT = np.einsum("ij,ij->i", self.T, self.T)
        self.D, self.DD, self.TD = _deriv(self.T)
        self.thr, self.cfg = float(thr), cfg
        self.H, self.K, self.sep = cfg.samples(fs)
        self.units: list[list[int]] = [[] for _ in range(len(self.T))]
        self.unassigned: list[int] = []

    def process(self, w: Window) -> None:
        """Peel the core of ``w`` (edits ``w.detect`` in place)."""
        if len(self.T) == 0:
            return
        H, K, L = self.H, self.K, 2 * self.H + 1
        d = w.detect
        lo, hi = max(w.lo, H + K), min(w.hi, len(d) - H - K)
        tried: set[int] = set()
        for rnd in range(self.cfg.rounds):
            p = candidates(d, lo, hi, self.thr, self.sep)
            if len(p) == 0:
                break
            p = p[np.argsort(-np.abs(d[p]))]
            hit = False
            for c in p:
                if abs(d[c]) < self.thr:
                    continue
                seg = d[c - H - K:c + H + K + 1]
                m, k, r, e, tau = _best(seg, self.T, self.TT, self.D, self.DD, self.TD)
                if e > 0 and r <= self.cfg.accept_residual * e:
                    a = c - K + k - H  # window start of the match
                    d[a:a + L] -= self.T[m] - tau * self.D[m]
                    self.units[m].append(w.start + a + H)
                    hit = True
                elif rnd == self.cfg.rounds - 1 or c not in tried:
                    tried.add(int(c))
            if not hit:
                break
        self.unassigned.extend(int(w.start + c) for c in tried)
