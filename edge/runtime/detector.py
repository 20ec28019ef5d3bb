"""Event detector: per-class hysteresis state machines over smoothed window posteriors.

Each analysis window (its span ``[start, end)`` in stream samples) brings the smoothed and the
raw posteriors. For every class that raises alerts:

1. **Enter**: an episode opens when the smoothed posterior reaches ``enter`` (and, with
   ``require_argmax``, the class is the most probable one). Its onset is estimated as the end
   of the first supporting window minus one hop: the previous window, one hop earlier, did
   not yet show the activity.
2. **Confirm**: the episode raises one alert (a :class:`Detection`) as soon as its evidence
   spans ``min_duration_s`` and it contains ``min_potentials`` separate potentials. Alerting
   at confirmation, not at the episode's end, keeps latency near one window. A hesitant
   episode (mean smoothed posterior, the alert's ``confidence``, below ``confident``) waits
   until its evidence spans ``hesitant_min_duration_s``: the first windows of a new activity
   still hold the previous one, and the model's call on such a mixture is hesitant and often
   another class (the end of a contraction called myokymic discharges, its start called
   fibrillation); a confident call alerts at once.
3. **Stay/exit**: it stays open while the smoothed posterior is at least ``exit``; it closes
   after ``exit_windows`` consecutive windows below ``exit``.
4. **Refractory**: an episode of the same class opening within ``refractory_s`` after the
   last confirmed one ended is the same clinical episode: it raises no new alert.

Potential counting (``min_potentials``): a run of consecutive windows whose *raw* posterior
is at least ``enter`` is the footprint of the activity in the sliding windows. One short
potential is inside every window whose span covers it, so its run of window ends lasts at most
``window - hop``; a longer run must hold at least two potentials. Runs are remembered for
``potential_window_s`` so two fasciculations seconds apart still count as two. A run shorter
than the class's ``potential_min_windows`` windows is not counted: a short potential stays in
view for about window / hop consecutive windows (4 here), so a run of one window is a flicker
of the model (typically a window straddling the end or start of a voluntary contraction), not
a potential. The count is a lower bound; it is exact for sparse isolated potentials
(fasciculations), the case it is for.

**Exclusive mode** (``exclusive=True``: ``RuntimeConfig.exclusive`` defaults to it, so the
service runs it; the bare :class:`EventDetector` constructor defaults to per-class): the
alerting classes share one episode of abnormal activity, so one physical episode raises one
alert even when the model's posterior wanders between similar classes (fibrillation and
positive sharp waves, myotonic and fibrillation-like spikes). The episode opens as in step 1 for any alerting class, stays
open while any alerting class's smoothed posterior is at least its ``exit``, and its label is
the class with the most accumulated smoothed posterior since the onset; that class's rule
(minimum duration, potentials, refractory) decides when it is confirmed. With
``relabel_windows`` = N > 0, a *different* finding that follows without a pause (myokymic after
neuromyotonic discharges, a CRD after fibrillations) gets its own alert: when another alerting
class leads for N consecutive windows (it is the argmax and its smoothed posterior is at least
its ``enter``), the open episode closes (its class's refractory time starts) and the
challenger's episode opens at the first of those windows, with their evidence, and is confirmed
by its own rule. Wandering between classes for fewer than N windows changes nothing. With
``relabel_confident``, the challenger's mean smoothed posterior over its lead must also reach
its rule's ``confident``: a hesitant lead inside an open episode is mostly the model wavering
between two similar findings (complex repetitive discharge and fibrillation). Per-class mode
(``exclusive=False``) runs an independent state machine per class. Both modes take the same
steps through the same helpers (one :meth:`EventDetector._confirm` for step 2); they differ only
in whether an episode belongs to one class or to all alerting classes.

:class:`edge.runtime.decision.DecisionStage` puts the smoother in front of this detector: that
pair is the runtime's decision stage.

Memory is bounded: per class a fixed state and a deque of at most 32 runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edge.runtime.config import ClassRule

_MAX_RUNS = 32


@dataclass(frozen=True)
class Detection:
    """A confirmed episode. Sample indices are in the stream's sample domain."""

    label: str
    class_index: int
    pathological: bool
    confidence: float  # mean smoothed posterior over the episode so far (0..1)
    onset: int  # estimated first sample of the activity
    offset: int  # last sample with evidence at confirmation time (exclusive end)
    detected_at: int  # end sample of the window that confirmed it
    severity: int
    potentials: int


class _ClassState:
    __slots__ = ("open", "confirmed", "onset", "last_end", "below", "conf_sum", "conf_n",
                 "runs", "in_run", "refractory_until")

    def __init__(self) -> None:
        self.open = False
        self.confirmed = False
        self.onset = 0
        self.last_end = 0
        self.below = 0
        self.conf_sum = 0.0
        self.conf_n = 0
        self.runs: deque[list[int]] = deque(maxlen=_MAX_RUNS)  # [first_end, last_end]
        self.in_run = False
        self.refractory_until = -1


class EventDetector:
    """Turn a stream of window posteriors into confirmed episodes.

    ``rules`` maps label → :class:`ClassRule` for the classes that may alert; other classes
    only compete for the argmax. ``window_samples``/``hop_samples`` are the analysis window
    and hop in stream samples at ``sample_rate`` Hz. ``exclusive`` picks the mode (module
    docstring); this constructor defaults to per-class, :class:`RuntimeConfig` (and so the
    service, through :class:`edge.runtime.decision.DecisionStage`) to exclusive.

    Both modes walk the same steps with the same helpers: :meth:`_enters` (step 1),
    :meth:`_open`/:meth:`_stay` (the episode's span and evidence), :meth:`_ends` (step 3),
    :meth:`_refractory_end` (step 4) and :meth:`_confirm` (step 2). They differ only in what
    an episode is: one per class, or one shared by the alerting classes.
    """

    def __init__(
        self,
        labels: Sequence[str],
        pathological: set[str] | frozenset[str],
        rules: dict[str, ClassRule],
        sample_rate: float,
        window_samples: int,
        hop_samples: int,
        require_argmax: bool = True,
        potential_window_s: float = 20.0,
        exclusive: bool = False,
        relabel_windows: int = 0,
        relabel_confident: bool = False,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate={sample_rate} must be > 0 Hz")
        if not 0 <= int(relabel_windows) <= 64:
            raise ValueError(f"relabel_windows={relabel_windows} out of range: allowed [0, 64] (0 = off)")
        if not 0 < hop_samples <= window_samples:
            raise ValueError(f"hop_samples={hop_samples} must be in (0, window_samples={window_samples}]")
        unknown = sorted(set(rules) - set(labels))
        if unknown:
            raise ValueError(f"rules for unknown classes {unknown}; classes: {list(labels)}")
        self.labels = tuple(labels)
        self.pathological = frozenset(pathological)
        self.rules = dict(rules)
        self.rate = float(sample_rate)
        self.window = int(window_samples)
        self.hop = int(hop_samples)
        self.require_argmax = require_argmax
        self._potential_window = int(round(potential_window_s * self.rate))
        self._names = list(self.rules)
        self._idx = [self.labels.index(name) for name in self.rules]
        self._state = {name: _ClassState() for name in self.rules}
        self.exclusive = exclusive
        self._ep = _ClassState()  # the shared episode (exclusive mode)
        self._ep_evidence = np.zeros(len(self._idx))
        self._ep_label: str | None = None  # label the shared episode was confirmed (or continued) as
        self.relabel_windows = int(relabel_windows)
        self.relabel_confident = bool(relabel_confident)
        # The challenger to a labelled shared episode: its column, consecutive leading windows,
        # the onset of its lead and its evidence over them.
        self._sw_k = -1
        self._sw_n = 0
        self._sw_onset = 0
        self._sw_evidence = np.zeros(len(self._idx))

    def _samples(self, seconds: float) -> int:
        return int(round(seconds * self.rate))

    def reset(self) -> None:
        """Close open episodes without alerting (after a gap); keep refractory and run memory."""
        for name, st in self._state.items():
            if st.open and st.confirmed:
                st.refractory_until = self._refractory_end(name, st.last_end)
            st.open = False
            st.confirmed = False
            st.in_run = False
        self._close_shared()

    # -- the steps, shared by both modes --------------------------------------------------
    def _enters(self, s: float, name: str, ci: int, top: int) -> bool:
        """Step 1: ``name`` (column ``ci``) may open an episode at smoothed posterior ``s``."""
        return s >= self.rules[name].enter and (top == ci or not self.require_argmax)

    def _open(self, ep: _ClassState, end: int) -> None:
        """Open ``ep`` on the window ending at ``end``: onset one hop before that end."""
        ep.open = True
        ep.onset = max(0, end - self.hop)
        ep.last_end = end
        ep.below = 0
        ep.conf_n = 1

    def _stay(self, ep: _ClassState, end: int) -> None:
        """A window at or above ``exit``: the episode's evidence reaches ``end``."""
        ep.last_end = end
        ep.below = 0
        ep.conf_n += 1

    def _ends(self, ep: _ClassState, rule: ClassRule) -> bool:
        """Step 3: one more window below ``exit``; True when that makes ``exit_windows``."""
        ep.below += 1
        return ep.below >= rule.exit_windows

    def _refractory_end(self, name: str, last_end: int) -> int:
        """Step 4: the last sample at which ``name`` re-opening continues an episode that
        ended at ``last_end``."""
        return last_end + self._samples(self.rules[name].refractory_s)

    def _close_shared(self) -> None:
        ep = self._ep
        if ep.open and self._ep_label is not None:
            st = self._state[self._ep_label]
            st.refractory_until = max(st.refractory_until, self._refractory_end(self._ep_label, ep.last_end))
        ep.open = False
        self._ep_label = None
        self._sw_k, self._sw_n = -1, 0

    def _confirm(self, name: str, ci: int, ep: _ClassState, s: float, evidence: float,
                 end: int) -> Detection | None:
        """Step 2: the alert for ``name`` if episode ``ep`` (with smoothed posterior ``s`` now
        and ``evidence`` summed over its windows) meets the class's rule at window end ``end``."""
        rule = self.rules[name]
        n_pot, first_run = self._potentials(self._state[name], end, rule)
        onset = ep.onset
        if rule.min_potentials > 1:
            if n_pot < rule.min_potentials:
                return None
            if first_run is not None:  # the episode began with its first potential
                onset = min(onset, max(0, first_run - self.hop))
        confidence = evidence / ep.conf_n
        if ep.last_end - onset < self._samples(rule.min_duration_s) or s < rule.enter:
            return None
        # A hesitant call waits on its own windows' span (the ones its confidence averages),
        # not on a span taken back to earlier potentials.
        if confidence < rule.confident and ep.last_end - ep.onset < self._samples(rule.hesitant_min_duration_s):
            return None
        return Detection(
            label=name, class_index=ci, pathological=name in self.pathological,
            confidence=round(confidence, 4), onset=onset, offset=end,
            detected_at=end, severity=rule.severity, potentials=max(n_pot, 1),
        )

    def _potentials(self, st: _ClassState, now_end: int, rule: ClassRule) -> tuple[int, int | None]:
        """Lower-bound count of separate potentials in the remembered runs at least
        ``rule.potential_min_windows`` windows long, and the first such run's first window end."""
        horizon = now_end - self._potential_window
        while st.runs and st.runs[0][1] < horizon:
            st.runs.popleft()
        single = self.window - self.hop  # longest run one short potential can produce
        shortest = (rule.potential_min_windows - 1) * self.hop  # shortest run that is a potential's footprint
        count = 0
        first = None
        for first_end, last_end in st.runs:
            if last_end - first_end < shortest:
                continue  # a flicker, not the footprint of a potential
            count += 1 if last_end - first_end <= single else 2
            if first is None:
                first = first_end
        return count, first

    def _track_runs(self, raw: np.ndarray, end: int) -> None:
        """Raw-posterior runs: the footprint of individual potentials."""
        for name, ci in zip(self._names, self._idx):
            st = self._state[name]
            if raw[ci] >= self.rules[name].enter:
                if st.in_run:
                    st.runs[-1][1] = end
                else:
                    st.runs.append([end, end])
                st.in_run = True
            else:
                st.in_run = False

    # -- the two modes ---------------------------------------------------------------------
    def update(self, smoothed: np.ndarray, raw: np.ndarray, start: int, end: int) -> list[Detection]:
        """Feed one window (span ``[start, end)``); return the episodes it confirms."""
        del start  # the span's end carries the timing; kept for clarity at call sites
        smoothed = np.asarray(smoothed, dtype=np.float64)
        raw = np.asarray(raw, dtype=np.float64)
        self._track_runs(raw, end)
        if self.exclusive:
            return self._update_shared(smoothed, end)
        return self._update_per_class(smoothed, end)

    def _update_per_class(self, smoothed: np.ndarray, end: int) -> list[Detection]:
        top = int(np.argmax(smoothed))
        out: list[Detection] = []
        for name, ci in zip(self._names, self._idx):
            st = self._state[name]
            s = float(smoothed[ci])
            if not st.open:
                if not self._enters(s, name, ci, top):
                    continue
                self._open(st, end)
                st.conf_sum = s
                # Re-activation within the refractory time continues the last episode.
                st.confirmed = st.onset <= st.refractory_until
            elif s >= self.rules[name].exit:
                self._stay(st, end)
                st.conf_sum += s
            else:
                if self._ends(st, self.rules[name]):
                    if st.confirmed:
                        st.refractory_until = self._refractory_end(name, st.last_end)
                    st.open = False
                    st.confirmed = False
                continue
            if st.confirmed:
                # Keep extending the refractory horizon while the episode lasts.
                st.refractory_until = max(st.refractory_until, st.last_end)
                continue
            det = self._confirm(name, ci, st, s, st.conf_sum, end)
            if det is not None:
                st.confirmed = True
                out.append(det)
        return out

    def _update_shared(self, smoothed: np.ndarray, end: int) -> list[Detection]:
        ep = self._ep
        s = smoothed[self._idx]
        names = self._names
        if not ep.open:
            top = int(np.argmax(smoothed))
            if not any(self._enters(s[k], name, ci, top) for k, (name, ci) in enumerate(zip(names, self._idx))):
                return []
            self._open(ep, end)
            self._ep_evidence[:] = s
            self._ep_label = None
        elif any(s[k] >= self.rules[name].exit for k, name in enumerate(names)):
            self._stay(ep, end)
            self._ep_evidence += s
        else:
            leader = names[int(np.argmax(self._ep_evidence))]
            if self._ends(ep, self.rules[self._ep_label or leader]):
                self._close_shared()
            return []
        if self._ep_label is not None:  # confirmed (or continuing a recent one): keep it fresh
            st = self._state[self._ep_label]
            st.refractory_until = max(st.refractory_until, ep.last_end)
            if not self._challenged(smoothed, s, end):
                return []
            # Another finding took over: close this episode and open the challenger's.
            onset, n, evidence = self._sw_onset, self._sw_n, self._sw_evidence.copy()
            self._close_shared()
            self._open(ep, end)
            ep.onset, ep.conf_n = onset, n
            self._ep_evidence[:] = evidence
        # The label is the class with the most evidence since the onset; its rule decides.
        k = int(np.argmax(self._ep_evidence))
        name, ci = names[k], self._idx[k]
        if ep.onset <= self._state[name].refractory_until:
            self._ep_label = name  # the same clinical episode as the last alert of this class
            return []
        det = self._confirm(name, ci, ep, s[k], float(self._ep_evidence[k]), end)
        if det is None:
            return []
        self._ep_label = name
        return [det]

    def _challenged(self, smoothed: np.ndarray, s: np.ndarray, end: int) -> bool:
        """Track the class leading a labelled shared episode; True once another class has led
        for ``relabel_windows`` consecutive windows (always False when that is 0) and, with
        ``relabel_confident``, its mean smoothed posterior over that lead reaches its rule's
        ``confident``."""
        if not self.relabel_windows:
            return False
        k = int(np.argmax(s))
        name, ci = self._names[k], self._idx[k]
        if name == self._ep_label or not self._enters(float(s[k]), name, ci, int(np.argmax(smoothed))):
            self._sw_k, self._sw_n = -1, 0
            return False
        if k != self._sw_k:
            self._sw_k, self._sw_n, self._sw_onset = k, 0, max(0, end - self.hop)
            self._sw_evidence[:] = 0.0
        self._sw_n += 1
        self._sw_evidence += s
        if self._sw_n < self.relabel_windows:
            return False
        # A hesitant lead (mean smoothed posterior below the challenger's ``confident``) is
        # the model's confusion within one finding more often than a new finding: keep leading.
        return not self.relabel_confident or self._sw_evidence[k] / self._sw_n >= self.rules[name].confident


def rules_for(config, labels: Sequence[str], pathological) -> dict[str, ClassRule]:
    """The alerting classes of a bundle and their rules under ``config`` (a RuntimeConfig)."""
    rules: dict[str, ClassRule] = {}
    for name in labels:
        if name not in pathological and not config.alert_normal:
            continue
        rule = config.rule_for(name)
        if rule.alert:
            rules[name] = rule
    return rules
