"""Event-level scorecard: alerts that reached the amplifier against ground-truth episodes.

A ground-truth *episode* is a labelled pathological segment. An alert *detects* an episode
when it has the same label and its [onset, offset] span overlaps the episode widened by
``tolerance_s`` on each side (windowed detectors smear onsets by up to a window). Each episode
is detected at most once; further alerts of the same label on an already detected episode are
counted as ``repeats`` (the unit shows the same episode twice — a nuisance, not a false
alarm). Every other alert is a *false alarm* of its label. Latency is the time from the
episode's onset to the moment the alert was raised (``detected_s``, stream time), in seconds.

Labelled segments of one class separated by less than ``merge_gap_s`` (default 1 s) are one
episode: a neuromyotonic discharge labelled burst by burst is still one event for the
clinician (:func:`merge_episodes`).

The demo (:mod:`edge.demo`) and the detection evaluation (:mod:`convert.detection_eval`) score
with this module; it lives in ``edge`` because the demo runs device-side, without ``convert``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence


@dataclass(frozen=True)
class Episode:
    """A ground-truth pathological episode, in seconds of stream time."""

    start_s: float
    end_s: float
    label: str


@dataclass
class ClassScore:
    label: str
    episodes: int = 0
    detected: int = 0
    missed: int = 0
    false_alarms: int = 0
    repeats: int = 0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.detected / self.episodes if self.episodes else None

    @property
    def median_latency_s(self) -> float | None:
        if not self.latencies_s:
            return None
        xs = sorted(self.latencies_s)
        mid = len(xs) // 2
        return xs[mid] if len(xs) % 2 else 0.5 * (xs[mid - 1] + xs[mid])


@dataclass
class Scorecard:
    per_class: dict[str, ClassScore]
    duration_s: float
    #: every merged ground-truth episode in onset order with its latency (s), None if missed
    outcomes: list[tuple[Episode, float | None]] = field(default_factory=list)
    #: every false alarm: (label, onset s, offset s, label of a ground-truth episode of another
    #: class it overlaps within the tolerance, or None: raised on normal activity)
    false_alarm_list: list[tuple[str, float, float, str | None]] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return sum(c.episodes for c in self.per_class.values())

    @property
    def detected(self) -> int:
        return sum(c.detected for c in self.per_class.values())

    @property
    def false_alarms(self) -> int:
        return sum(c.false_alarms for c in self.per_class.values())

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else 1.0

    @property
    def false_alarms_per_10_min(self) -> float:
        return self.false_alarms / (self.duration_s / 600.0) if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "duration_s": self.duration_s,
            "episodes": self.episodes,
            "detected": self.detected,
            "recall": self.recall,
            "false_alarms": self.false_alarms,
            "false_alarms_per_10_min": self.false_alarms_per_10_min,
            "per_class": {
                k: {
                    "episodes": c.episodes,
                    "detected": c.detected,
                    "missed": c.missed,
                    "false_alarms": c.false_alarms,
                    "repeats": c.repeats,
                    "median_latency_s": c.median_latency_s,
                    "latencies_s": c.latencies_s,
                }
                for k, c in self.per_class.items()
            },
        }

    def table(self) -> str:
        """A fixed-width text table for the terminal."""
        rows = [f"{'class':<30} {'episodes':>8} {'detected':>8} {'missed':>6} {'false':>6} {'repeats':>7} {'latency':>9}"]
        for name, c in self.per_class.items():
            lat = f"{c.median_latency_s:.2f} s" if c.median_latency_s is not None else "-"
            rows.append(
                f"{name:<30} {c.episodes:>8} {c.detected:>8} {c.missed:>6} {c.false_alarms:>6} {c.repeats:>7} {lat:>9}"
            )
        rows.append(
            f"{'all pathological':<30} {self.episodes:>8} {self.detected:>8} {self.episodes - self.detected:>6} "
            f"{self.false_alarms:>6}"
        )
        rows.append(
            f"event recall {self.recall:.3f}; false alarms {self.false_alarms} in {self.duration_s / 60:.1f} min "
            f"({self.false_alarms_per_10_min:.2f} per 10 min)"
        )
        return "\n".join(rows)


def merge_episodes(episodes: Iterable[Episode], merge_gap_s: float) -> list[Episode]:
    """Join same-label episodes whose gap is below ``merge_gap_s`` seconds; sorted by onset."""
    out: list[Episode] = []
    last: dict[str, int] = {}  # label -> index in out of that label's latest episode
    for ep in sorted(episodes, key=lambda e: (e.start_s, e.end_s)):
        i = last.get(ep.label)
        if i is not None and ep.start_s - out[i].end_s < merge_gap_s:
            out[i] = Episode(out[i].start_s, max(out[i].end_s, ep.end_s), ep.label)
        else:
            last[ep.label] = len(out)
            out.append(ep)
    return out


def score(
    episodes: Sequence[Episode],
    alerts: Iterable[Mapping],
    duration_s: float,
    labels: Sequence[str],
    tolerance_s: float = 1.0,
    merge_gap_s: float = 1.0,
) -> Scorecard:
    """Score ``alerts`` (mappings with ``label``, ``onset_s``, ``offset_s`` and optionally
    ``detected_s``) against ``episodes``; ``labels`` are the pathological classes to report."""
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s={tolerance_s} must be >= 0")
    if merge_gap_s < 0:
        raise ValueError(f"merge_gap_s={merge_gap_s} must be >= 0")
    episodes = merge_episodes(episodes, merge_gap_s)
    per_class = {name: ClassScore(name) for name in labels}
    for ep in episodes:
        per_class.setdefault(ep.label, ClassScore(ep.label)).episodes += 1
    matched: set[int] = set()
    latency: dict[int, float] = {}  # episode index -> latency of the alert that detected it
    false: list[tuple[str, float, float, str | None]] = []
    for alert in sorted(alerts, key=lambda a: float(a["onset_s"])):
        label = str(alert["label"])
        onset, offset = float(alert["onset_s"]), float(alert["offset_s"])
        cls = per_class.setdefault(label, ClassScore(label))
        near = [i for i, ep in enumerate(episodes)  # episodes the alert overlaps within the tolerance
                if onset <= ep.end_s + tolerance_s and offset >= ep.start_s - tolerance_s]
        hit = None
        for i in near:
            if episodes[i].label == label:
                hit = i
                if i not in matched:
                    break
        if hit is None:
            cls.false_alarms += 1
            false.append((label, onset, offset, episodes[near[0]].label if near else None))
        elif hit in matched:
            cls.repeats += 1
        else:
            matched.add(hit)
            cls.detected += 1
            detected_at = float(alert.get("detected_s", offset))
            latency[hit] = round(detected_at - episodes[hit].start_s, 3)
            cls.latencies_s.append(latency[hit])
    for cls in per_class.values():
        cls.missed = cls.episodes - cls.detected
    return Scorecard(per_class=per_class, duration_s=float(duration_s),
                     outcomes=[(ep, latency.get(i)) for i, ep in enumerate(episodes)], false_alarm_list=false)
