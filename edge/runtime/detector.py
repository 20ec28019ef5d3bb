"""Event detector: per-class hysteresis state machines over smoothed window posteriors.

Each analysis window (its span ``[start, end)`` in stream samples) brings the smoothed and the
raw posteriors. For every class that raises alerts:

1. **Enter**: an episode opens when the smoothed posterior reaches ``enter`` (and, with
   ``require_argmax``, the class is the most probable one). Its onset is estimated as the end
   of the first supporting window minus one hop: the previous window, one hop earlier, did
   not yet show the activity.
2. **Confirm**: the episode raises one alert (a :class:`Detection`) as soon as its evidence
   spans ``min_duration_s`` and it contains ``min_potentials`` separate potentials. Alerting
   at confirmation, not at the episode's end, keeps latency near one window.
3. **Stay/exit**: it stays open while the smoothed posterior is at least ``exit``; it closes
   after ``exit_windows`` consecutive windows below ``exit``.
4. **Refractory**: an episode of the same class opening within ``refractory_s`` after the
   last confirmed one ended is the same clinical episode: it raises no new alert.

Potential counting (``min_potentials``): a run of consecutive windows whose *raw* posterior
is at least ``enter`` is the footprint of the activity in the sliding windows. One short
potential is inside every window whose span covers it, so its run of window ends lasts at most
``window - hop``; a longer run must hold at least two potentials. Runs are remembered for
``potential_window_s`` so two fasciculations seconds apart still count as two. The count is a
lower bound; it is exact for sparse isolated potentials (fasciculations), the case it is for.

**Exclusive mode** (``exclusive=True``, the default): the alerting classes share one episode
of abnormal activity, so one physical episode raises one alert even when the model's
posterior wanders between similar classes (fibrillation and positive sharp waves, myotonic
and fibrillation-like spikes). The episode opens as in step 1 for any alerting class, stays
open while any alerting class's smoothed posterior is at least its ``exit``, and its label is
the class with the most accumulated smoothed posterior since the onset; that class's rule
(minimum duration, potentials, refractory) decides when it is confirmed. Per-class mode
(``exclusive=False``) runs an independent state machine per class.

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
    and hop in stream samples at ``sample_rate`` Hz.
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
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate={sample_rate} must be > 0 Hz")
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
        self._idx = [self.labels.index(name) for name in self.rules]
        self._state = {name: _ClassState() for name in self.rules}
        self.exclusive = exclusive
        self._ep = _ClassState()  # the shared episode (exclusive mode)
        self._ep_evidence = np.zeros(len(self._idx))
        self._ep_label: str | None = None  # label the shared episode was confirmed (or continued) as

    def _samples(self, seconds: float) -> int:
        return int(round(seconds * self.rate))

    def reset(self) -> None:
        """Close open episodes without alerting (after a gap); keep refractory and run memory."""
        for name, st in self._state.items():
            if st.open and st.confirmed:
                st.refractory_until = st.last_end + self._samples(self.rules[name].refractory_s)
            st.open = False
            st.confirmed = False
            st.in_run = False
        self._close_shared()

    def _close_shared(self) -> None:
        ep = self._ep
        if ep.open and self._ep_label is not None:
            st = self._state[self._ep_label]
            st.refractory_until = max(st.refractory_until,
                                      ep.last_end + self._samples(self.rules[self._ep_label].refractory_s))
        ep.open = False
        self._ep_label = None

    def _potentials(self, st: _ClassState, now_end: int) -> tuple[int, int | None]:
        """Lower-bound count of separate potentials in the remembered runs, and the first
        run's first window end."""
        horizon = now_end - self._potential_window
        while st.runs and st.runs[0][1] < horizon:
            st.runs.popleft()
        single = self.window - self.hop  # longest run one short potential can produce
        count = 0
        first = None
        for first_end, last_end in st.runs:
            count += 1 if last_end - first_end <= single else 2
            if first is None:
                first = first_end
        return count, first

    def _track_runs(self, raw: np.ndarray, end: int) -> None:
        """Raw-posterior runs: the footprint of individual potentials."""
        for name, ci in zip(self.rules, self._idx):
            st = self._state[name]
            if raw[ci] >= self.rules[name].enter:
                if st.in_run:
                    st.runs[-1][1] = end
                else:
                    st.runs.append([end, end])
                st.in_run = True
            else:
                st.in_run = False

    def update(self, smoothed: np.ndarray, raw: np.ndarray, start: int, end: int) -> list[Detection]:
        """Feed one window (span ``[start, end)``); return the episodes it confirms."""
        del start  # the span's end carries the timing; kept for clarity at call sites
        smoothed = np.asarray(smoothed, dtype=np.float64)
        raw = np.asarray(raw, dtype=np.float64)
        self._track_runs(raw, end)
        if self.exclusive:
            return self._update_shared(smoothed, end)
        top = int(np.argmax(smoothed))
        out: list[Detection] = []
        for name, ci in zip(self.rules, self._idx):
            rule = self.rules[name]
            st = self._state[name]
            s = float(smoothed[ci])

            if not st.open:
                if s >= rule.enter and (top == ci or not self.require_argmax):
                    st.open = True
                    st.onset = max(0, end - self.hop)
                    st.last_end = end
                    st.below = 0
                    st.conf_sum = s
                    st.conf_n = 1
                    # Re-activation within the refractory time continues the last episode.
                    st.confirmed = st.onset <= st.refractory_until
                else:
                    continue
            elif s >= rule.exit:
                st.last_end = end
                st.below = 0
                st.conf_sum += s
                st.conf_n += 1
            else:
                st.below += 1
                if st.below >= rule.exit_windows:
                    if st.confirmed:
                        st.refractory_until = st.last_end + self._samples(rule.refractory_s)
                    st.open = False
                    st.confirmed = False
                continue

            if st.confirmed:
                if st.open:
                    # Keep extending the refractory horizon while the episode lasts.
                    st.refractory_until = max(st.refractory_until, st.last_end)
                continue
            n_pot, first_run = self._potentials(st, end)
            onset = st.onset
            if rule.min_potentials > 1 and first_run is not None:
                onset = min(onset, max(0, first_run - self.hop))
            if n_pot < rule.min_potentials and rule.min_potentials > 1:
                continue
            if st.last_end - onset < self._samples(rule.min_duration_s):
                continue
            if s < rule.enter:
                continue
            st.confirmed = True
            out.append(Detection(
                label=name, class_index=ci, pathological=name in self.pathological,
                confidence=round(st.conf_sum / st.conf_n, 4), onset=onset, offset=end,
                detected_at=end, severity=rule.severity, potentials=max(n_pot, 1),
            ))
        return out


    def _update_shared(self, smoothed: np.ndarray, end: int) -> list[Detection]:
        ep = self._ep
        s = smoothed[self._idx]
        names = list(self.rules)
        if not ep.open:
            top = int(np.argmax(smoothed))
            entering = [k for k, (name, ci) in enumerate(zip(names, self._idx))
                        if s[k] >= self.rules[name].enter and (top == ci or not self.require_argmax)]
            if not entering:
                return []
            ep.open = True
            ep.onset = max(0, end - self.hop)
            ep.last_end = end
            ep.below = 0
            ep.conf_n = 1
            self._ep_evidence[:] = s
            self._ep_label = None
        elif any(s[k] >= self.rules[name].exit for k, name in enumerate(names)):
            ep.last_end = end
            ep.below = 0
            ep.conf_n += 1
            self._ep_evidence += s
        else:
            ep.below += 1
            leader = names[int(np.argmax(self._ep_evidence))]
            if ep.below >= self.rules[self._ep_label or leader].exit_windows:
                self._close_shared()
            return []
        if self._ep_label is not None:  # confirmed (or continuing a recent one): keep it fresh
            st = self._state[self._ep_label]
            st.refractory_until = max(st.refractory_until, ep.last_end)
            return []
        k = int(np.argmax(self._ep_evidence))
        name, ci = names[k], self._idx[k]
        rule, st = self.rules[name], self._state[name]
        if ep.onset <= st.refractory_until:
            self._ep_label = name  # the same clinical episode as the last alert of this class
            return []
        onset = ep.onset
        n_pot, first_run = self._potentials(st, end)
        if rule.min_potentials > 1:
            if n_pot < rule.min_potentials:
                return []
            if first_run is not None:
                onset = min(onset, max(0, first_run - self.hop))
        if ep.last_end - onset < self._samples(rule.min_duration_s) or s[k] < rule.enter:
            return []
        self._ep_label = name
        return [Detection(
            label=name, class_index=ci, pathological=name in self.pathological,
            confidence=round(float(self._ep_evidence[k]) / ep.conf_n, 4), onset=onset, offset=end,
            detected_at=end, severity=rule.severity, potentials=max(n_pot, 1),
        )]


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
