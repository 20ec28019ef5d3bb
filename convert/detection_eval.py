"""Event-level detection evaluation: the shipped runtime on simulated examinations, scored
against the simulator's ground truth. ``benchmarks/detection.py`` is the command line over it;
:mod:`convert.detector_tuning` (``emg-convert tune-detector``) sweeps detector settings with it.

What runs is what the service runs: ``Pipeline(bundle, Int8Classifier(bundle), config, 44100,
guard=<the bundle's open-set guard>)`` (no guard when ``config.open_set`` is off) fed 0.1 s
``SampleBlock``s (``BLOCK_S``, the largest call the service makes), without real-time pacing.
Every ``Detection`` the pipeline confirms is an alert, in stream time: ``onset_s``,
``offset_s`` and ``detected_s`` (the end of the window that confirmed it) are its sample
indices / 44100 Hz, as the service writes them. Alerts are scored against the simulator's
ground truth with the demo's scorecard (:mod:`edge.scorecard`: same matcher, tolerance 1 s,
same-class segments < 1 s apart merged into one episode).

Recordings (one simulated subject per seed, :func:`recording_set`): ``demo_plan_recordings``
(default 4) examinations on the demo's scripted plan (``convert.demo_recording.DEMO_PLAN``,
196 s, two episodes of every pathological class), then random-plan examinations (``plan=None``:
the simulator draws 0–2 pathological patterns per subject and a sequence of normal and
pathological activity) of ``random_s`` (300) s until ``minutes`` of audio. Seed sets, disjoint
from each other, from the default bundle's train/val/test/repro seeds (100 000…, 200 000…,
300 000…, 400 000…, ``convert/default_bundle.py``), from the demo recording (9 000 001) and from
the seeds of ``benchmarks/runtime.py`` (11, 23, 31):

- ``eval``: seeds 5 000 000… — held-out evaluation; nothing is tuned on it;
- ``tune``: seeds 6 000 000… — the only set the detector sweep selects settings on.

Latency target (runtime issue): from an episode's onset to its alert ≤ window length + 250 ms
(window from the bundle: (window_frames − 1) · hop + frame length = 1.015 s → 1.265 s).
Fasciculations need two potentials (``min_potentials = 2``) and fire sparsely and irregularly
(clinical-waveforms.md §2: "spontaneous, irregular, sparse; to catch one FP in ALS observation
for up to 90 s may be required"; the simulator enriches episodes to 0.5–1.2 Hz per unit), so
their alert cannot precede the second potential: their reachable target is per episode,
(second potential − onset) + window + 250 ms, reported beside the nominal one.

Replay (:func:`replay`): a run made with ``keep_posteriors=True`` keeps every window's span and
posteriors (after the guard) as the pipeline's decision stage received them, and where the
pipeline reset it; :func:`replay` feeds them to a fresh
:class:`~edge.runtime.decision.DecisionStage` for another config — the live decision, without
simulating or classifying again (a test checks replay = live).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from firmware_bridge.host.source import SampleBlock

from edge.runtime.config import RuntimeConfig
from edge.runtime.decision import DecisionStage
from edge.runtime.detector import Detection
from edge.runtime.pipeline import Pipeline
from edge.runtime.prior import ClassPrior
from edge.scorecard import ClassScore, Episode, Scorecard, merge_episodes, score

RATE = 44100
BLOCK_S = 0.1  # edge.runtime.service.COALESCE_S: the service feeds the pipeline at most 0.1 s at a time
TARGET_MARGIN_S = 0.25  # runtime issue: onset → alert ≤ window + 250 ms
TOLERANCE_S = 1.0  # scorecard defaults, as the demo uses them
MERGE_GAP_S = 1.0

#: Seed sets (first seed; recording i uses seed0 + i). See the module docstring.
SEED_SETS = {"eval": 5_000_000, "tune": 6_000_000}
DEMO_PLAN_RECORDINGS = 4
RANDOM_S = 300.0
DEFAULT_MINUTES = 53.0  # 4 × 196 s on the demo's plan + 8 × 300 s random plans

#: Display order of the pathological classes (as the demo's scorecard).
CLASS_ORDER = (
    "fibrillation", "positive_sharp_wave", "fasciculation", "complex_repetitive_discharge",
    "myotonic_discharge", "myokymic_discharge", "neuromyotonic_discharge",
)
SPARSE = "fasciculation"


@dataclass(frozen=True)
class RecordingSpec:
    seed: int
    duration_s: float
    plan: tuple[tuple[str, float], ...] | None  # None: the simulator draws a plan from the seed
    kind: str  # "demo-plan", "random" or anything a caller names it
    #: Seed of a recording chain drawn from ``convert.chain.ChainConfig()`` (the ranges the
    #: default bundle trains through: 4–48 kHz, filters, gain error, polarity, hum, noise,
    #: clipping, stored scale) that the examination is recorded through; None = the simulator's
    #: own 44.1 kHz output at 0.5 µV/LSB.
    chain_seed: int | None = None


def demo_plan() -> tuple[tuple[str, float], ...]:
    from convert.demo_recording import DEMO_PLAN

    return tuple(DEMO_PLAN)


def recording_set(seeds: str | int = "eval", minutes: float = DEFAULT_MINUTES,
                  demo_plan_recordings: int = DEMO_PLAN_RECORDINGS, random_s: float = RANDOM_S,
                  chain_seed: int | None = None) -> list[RecordingSpec]:
    """The recordings of a seed set: demo-plan examinations first, then random plans.
    ``chain_seed``: recording ``i`` goes through the chain drawn with seed ``chain_seed + i``."""
    seed0 = SEED_SETS[seeds] if isinstance(seeds, str) and seeds in SEED_SETS else int(seeds)
    plan = demo_plan()
    plan_s = sum(d for _, d in plan)
    budget = float(minutes) * 60.0
    specs: list[RecordingSpec] = []
    seed = seed0
    for _ in range(demo_plan_recordings):
        if budget < plan_s - 1e-6:
            break
        specs.append(RecordingSpec(seed, plan_s, plan, "demo-plan", _chain_seed(chain_seed, len(specs))))
        budget -= plan_s
        seed += 1
    while budget >= 30.0:  # shorter remainders are dropped: too short for a random plan
        d = min(random_s, budget)
        specs.append(RecordingSpec(seed, d, None, "random", _chain_seed(chain_seed, len(specs))))
        budget -= d
        seed += 1
    return specs


def _chain_seed(seed0: int | None, i: int) -> int | None:
    return None if seed0 is None else int(seed0) + i


def window_seconds(bundle) -> float:
    """Analysis window in seconds (first frame's start to last frame's end)."""
    return bundle.window_span_samples / bundle.sample_rate


# ---------------------------------------------------------------------------------------
# Running the chain
# ---------------------------------------------------------------------------------------

@dataclass
class RecordingRun:
    spec: RecordingSpec
    duration_s: float
    episodes: list[Episode]  # merged pathological ground truth
    events: list[tuple[float, str]]  # simulator events (t_s, label) of pathological potentials
    alerts: list[dict]
    sample_rate: int = RATE  # the stream's rate (Hz): a drawn chain's, else the simulator's
    chain: str | None = None  # the drawn chain, one line (convert.chain.Chain.describe)
    windows: list[tuple[int, int]] = field(default_factory=list)  # (start, end) stream samples
    probs: np.ndarray | None = None  # (windows, classes) posteriors after the open-set guard
    unknown_windows: int = 0  # pathological calls the open-set guard withheld
    irregular_windows: int = 0  # fibrillation / PSW / fasciculation calls the rhythm check withheld
    prior_windows: int = 0  # pathological calls the class prior turned into normal ones
    sim_s: float = 0.0
    pipeline_s: float = 0.0
    resets: list[int] = field(default_factory=list)  # window indices before which the stage was reset


class _RecordingDecision(DecisionStage):
    """The live decision stage, keeping what it is given (for :func:`replay`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.windows: list[tuple[int, int]] = []
        self.probs: list[np.ndarray] = []
        self.resets: list[int] = []

    def reset(self) -> None:
        self.resets.append(len(self.windows))
        super().reset()

    def process(self, posteriors: np.ndarray, start: int, end: int) -> list[Detection]:
        self.windows.append((int(start), int(end)))
        self.probs.append(np.asarray(posteriors, dtype=np.float64))  # after the guard
        return super().process(posteriors, start, end)


def _alert(det, rate: int) -> dict:
    # The fields and rounding the service writes (edge.runtime.service: onset_s/offset_s/detected_s).
    return {"label": det.label, "confidence": det.confidence, "onset_s": round(det.onset / rate, 4),
            "offset_s": round(det.offset / rate, 4), "detected_s": round(det.detected_at / rate, 4),
            "potentials": det.potentials}


def simulate(spec: RecordingSpec):
    """The examination of ``spec``: simulated at 44.1 kHz, then through its drawn chain if any
    (labels in seconds are kept; rate, scale and polarity become the chain's)."""
    from convert.simulator import simulate_recording

    rec = simulate_recording(spec.seed, spec.duration_s, RATE, plan=spec.plan)
    if spec.chain_seed is None:
        return rec
    from convert.chain import ChainConfig, apply_chain

    return apply_chain(rec, ChainConfig().draw(spec.chain_seed))


def run_recording(spec: RecordingSpec, bundle, classifier, config: RuntimeConfig, keep_posteriors: bool = False,
                  pathological: Sequence[str] | None = None) -> RecordingRun:
    """Simulate one recording and run it through a fresh ``Pipeline`` in 0.1 s blocks."""
    t0 = time.perf_counter()
    rec = simulate(spec)
    sim_s = time.perf_counter() - t0
    path = set(pathological or bundle.pathological)
    truth = merge_episodes([Episode(s.start_s, s.end_s, s.label) for s in rec.segments if s.label in path],
                           MERGE_GAP_S)
    events = [(float(t), str(lab)) for t, lab in rec.meta.get("events", []) if lab in path]
    stage = (_RecordingDecision if keep_posteriors else DecisionStage).for_bundle(bundle, config, rec.sample_rate)
    # The source's scale, as a WAV comment or HELLO would give it: the runtime calibrates.
    pipe = Pipeline(bundle, classifier, config, rec.sample_rate, source_uv_per_lsb=rec.uv_per_lsb,
                    guard=_guard(bundle, config), decision=stage)
    step = int(BLOCK_S * rec.sample_rate)
    pcm = rec.pcm
    t0 = time.perf_counter()
    dets = []
    for i in range(0, pcm.size, step):
        dets += pipe.feed(SampleBlock(i, pcm[i:i + step], 0))
    pipe_s = time.perf_counter() - t0
    chain = None
    if "chain" in rec.meta:
        from convert.chain import Chain

        chain = Chain.from_dict(rec.meta["chain"]).describe()
    run = RecordingRun(spec, pcm.size / rec.sample_rate, truth, events, [_alert(d, rec.sample_rate) for d in dets],
                       sample_rate=rec.sample_rate, chain=chain,
                       unknown_windows=pipe.counters.unknown_windows,
                       irregular_windows=pipe.counters.irregular_windows, prior_windows=pipe.counters.prior_windows,
                       sim_s=sim_s, pipeline_s=pipe_s)
    if isinstance(stage, _RecordingDecision):
        run.windows, run.probs, run.resets = stage.windows, np.array(stage.probs), stage.resets
    return run


def _guard(bundle, config: RuntimeConfig):
    """The open-set guard the service would use: the bundle's, unless the config turns it off."""
    from edge.bundle import Bundle
    from edge.runtime.openset import load_guard

    return load_guard(bundle) if config.open_set and isinstance(bundle, Bundle) else None


def replay(run: RecordingRun, bundle, config: RuntimeConfig) -> list[dict]:
    """Alerts of ``config`` on a recorded run: its posteriors through a fresh decision stage
    for ``config`` (the class the live pipeline runs), reset where the live one was."""
    if run.probs is None:
        raise ValueError("replay needs a run made with keep_posteriors=True")
    stage = DecisionStage.for_bundle(bundle, config, run.sample_rate)
    resets = set(run.resets)
    out = []
    for i, (p, (start, end)) in enumerate(zip(run.probs, run.windows)):
        if i in resets:
            stage.reset()
        out.extend(_alert(d, run.sample_rate) for d in stage.process(p, start, end))
    return out


# ---------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------

def second_potential_delay(ep: Episode, events: Sequence[tuple[float, str]]) -> float | None:
    """Seconds from the episode's onset to its second potential (None if it has fewer)."""
    ts = sorted(t for t, lab in events if lab == ep.label and ep.start_s <= t <= ep.end_s)
    return ts[1] - ep.start_s if len(ts) >= 2 else None


def score_runs(runs: Sequence[RecordingRun], labels: Sequence[str], window_s: float,
               alerts: Sequence[list[dict]] | None = None, config: RuntimeConfig | None = None) -> dict:
    """Score every recording with :func:`edge.scorecard.score`, add the counts up, and
    summarise per class and overall. ``alerts`` (one list per run) overrides the runs' own;
    ``config`` (default ``RuntimeConfig()``) only names the refractory times in the miss breakdown."""
    config = config or RuntimeConfig()
    target = window_s + TARGET_MARGIN_S
    total = {name: ClassScore(name) for name in labels}
    duration = 0.0
    sparse_targets: list[float] = []  # reachable target of each detected fasciculation episode
    sparse_within: list[bool] = []
    sparse_lat_after_2nd: list[float] = []
    missed_after: dict[str, int] = {name: 0 for name in labels}
    missed_list: list[dict] = []
    false_list: list[dict] = []
    for k, run in enumerate(runs):
        al = run.alerts if alerts is None else alerts[k]
        card = score(run.episodes, al, run.duration_s, labels, TOLERANCE_S, MERGE_GAP_S)
        duration += run.duration_s
        false_list += [{"seed": run.spec.seed, "label": lab, "onset_s": round(on, 3), "offset_s": round(off, 3),
                        "during_episode_of": other} for lab, on, off, other in card.false_alarm_list]
        for name, c in card.per_class.items():
            t = total.setdefault(name, ClassScore(name))
            t.episodes += c.episodes
            t.detected += c.detected
            t.missed += c.missed
            t.false_alarms += c.false_alarms
            t.repeats += c.repeats
            t.latencies_s.extend(c.latencies_s)
            missed_after.setdefault(name, 0)
        prev_end = None
        for ep, lat in card.outcomes:
            gap = None if prev_end is None else ep.start_s - prev_end
            prev_end = ep.end_s if prev_end is None else max(prev_end, ep.end_s)
            if lat is None:
                # The detector takes activity soon after an alerted episode for its continuation
                # (exclusive episode, refractory time): say how many misses are of that kind.
                short = gap is not None and gap < config.rule_for(ep.label).refractory_s
                missed_after[ep.label] += int(short)
                missed_list.append({"seed": run.spec.seed, "label": ep.label, "start_s": round(ep.start_s, 3),
                                    "end_s": round(ep.end_s, 3),
                                    "gap_after_previous_pathological_s": None if gap is None else round(gap, 3)})
            elif ep.label == SPARSE:
                d2 = second_potential_delay(ep, run.events)
                if d2 is not None:
                    sparse_targets.append(d2 + target)
                    sparse_within.append(lat <= d2 + target + 1e-9)
                    sparse_lat_after_2nd.append(lat - d2)
    card = Scorecard(per_class=total, duration_s=duration)
    rows = {}
    for name, c in total.items():
        lat = np.array(c.latencies_s, dtype=float)
        row: dict[str, Any] = {
            "episodes": c.episodes, "detected": c.detected, "missed": c.missed,
            "missed_within_refractory_of_previous": missed_after[name],
            "false_alarms": c.false_alarms,
            "repeats": c.repeats, "recall": _r(c.detected / c.episodes) if c.episodes else None,
            "latency_median_s": _r(np.median(lat)) if lat.size else None,
            "latency_p90_s": _r(np.percentile(lat, 90)) if lat.size else None,
            "latency_max_s": _r(lat.max()) if lat.size else None,
            "within_target": int((lat <= target + 1e-9).sum()),
            "within_target_share": _r((lat <= target + 1e-9).mean()) if lat.size else None,
            "latencies_s": sorted(float(x) for x in lat),
        }
        if name == SPARSE:
            row["reachable_target"] = {
                "rule": "per episode: (second potential - onset) + window + 0.25 s",
                "detected_with_two_potentials": len(sparse_targets),
                "within": int(sum(sparse_within)),
                "within_share": _r(np.mean(sparse_within)) if sparse_within else None,
                "target_median_s": _r(np.median(sparse_targets)) if sparse_targets else None,
                "latency_after_second_potential_median_s":
                    _r(np.median(sparse_lat_after_2nd)) if sparse_lat_after_2nd else None,
                "latency_after_second_potential_max_s":
                    _r(np.max(sparse_lat_after_2nd)) if sparse_lat_after_2nd else None,
            }
        rows[name] = row
    all_lat = np.array([x for c in total.values() for x in c.latencies_s])
    dense_lat = np.array([x for n, c in total.items() if n != SPARSE for x in c.latencies_s])
    totals = {
        "audio_s": _r(duration), "audio_min": _r(duration / 60.0), "recordings": len(runs),
        "episodes": card.episodes, "detected": card.detected, "missed": card.episodes - card.detected,
        "missed_within_refractory_of_previous": sum(missed_after.values()),
        "recall": _r(card.recall), "false_alarms": card.false_alarms,
        "false_alarms_per_10_min": _r(card.false_alarms_per_10_min),
        "repeats": sum(c.repeats for c in total.values()),
        "within_target": int((all_lat <= target + 1e-9).sum()),
        "within_target_share": _r((all_lat <= target + 1e-9).mean()) if all_lat.size else None,
        "within_target_share_excl_fasciculation":
            _r((dense_lat <= target + 1e-9).mean()) if dense_lat.size else None,
        "latency_median_s": _r(np.median(all_lat)) if all_lat.size else None,
        "latency_median_excl_fasciculation_s": _r(np.median(dense_lat)) if dense_lat.size else None,
        "latency_p90_excl_fasciculation_s": _r(np.percentile(dense_lat, 90)) if dense_lat.size else None,
        "latency_max_excl_fasciculation_s": _r(dense_lat.max()) if dense_lat.size else None,
        "false_alarms_during_other_pathology": sum(f["during_episode_of"] is not None for f in false_list),
    }
    return {"window_s": _r(window_s), "target_s": _r(target), "per_class": rows, "totals": totals,
            "missed_episodes": missed_list, "false_alarms": false_list}


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)


def evaluate(specs: Sequence[RecordingSpec], bundle=None, config: RuntimeConfig | None = None, classifier=None,
             keep_posteriors: bool = False, echo=None) -> tuple[dict, list[RecordingRun]]:
    """Run and score ``specs``; return (summary dict, runs)."""
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier

    bundle = load_bundle("default") if bundle is None else (load_bundle(bundle) if isinstance(bundle, str) else bundle)
    config = config or RuntimeConfig()
    classifier = classifier or Int8Classifier(bundle)
    labels = [c for c in CLASS_ORDER if c in bundle.pathological] + \
        [c for c in bundle.pathological if c not in CLASS_ORDER]
    runs = []
    for spec in specs:
        r = run_recording(spec, bundle, classifier, config, keep_posteriors, labels)
        runs.append(r)
        if echo:
            echo(f"  seed {spec.seed} ({spec.kind}, {r.duration_s:.0f} s): {len(r.episodes)} episodes, "
                 f"{len(r.alerts)} alerts; simulate {r.sim_s:.1f} s, pipeline {r.pipeline_s:.1f} s")
    summary = score_runs(runs, labels, window_seconds(bundle), config=config)
    summary["recordings"] = [{"seed": r.spec.seed, "kind": r.spec.kind, "duration_s": _r(r.duration_s),
                              "episodes": len(r.episodes), "alerts": len(r.alerts),
                              **({"chain_seed": r.spec.chain_seed, "chain": r.chain} if r.chain else {})}
                             for r in runs]
    summary["open_set"] = {"on": bool(config.open_set and _guard(bundle, config) is not None),
                           "windows_withheld": int(sum(r.unknown_windows for r in runs))}
    summary["rhythm_check"] = {"on": bool(config.rhythm_check),
                               "windows_withheld": int(sum(r.irregular_windows for r in runs))}
    summary["class_prior"] = {"weights": ClassPrior.for_bundle(bundle).named() if config.class_prior else {},
                              "pathological_calls_turned_normal": int(sum(r.prior_windows for r in runs))}
    summary["timing_s"] = {"simulate": _r(sum(r.sim_s for r in runs), 2),
                           "pipeline": _r(sum(r.pipeline_s for r in runs), 2)}
    return summary, runs


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------

def table(summary: dict) -> str:
    tgt = summary["target_s"]
    head = (f"{'class':<29} {'episodes':>8} {'detected':>8} {'missed':>6} {'false':>5} {'repeats':>7} "
            f"{'lat med':>7} {'p90':>6} {'max':>6} {'<=' + format(tgt, '.3f') + ' s':>9}")
    rows = [head]

    def f(x):
        return f"{x:.2f}" if x is not None else "-"

    for name, r in summary["per_class"].items():
        share = f"{r['within_target']}/{r['detected']}" if r["detected"] else "-"
        rows.append(f"{name:<29} {r['episodes']:>8} {r['detected']:>8} {r['missed']:>6} {r['false_alarms']:>5} "
                    f"{r['repeats']:>7} {f(r['latency_median_s']):>7} {f(r['latency_p90_s']):>6} "
                    f"{f(r['latency_max_s']):>6} {share:>9}")
    t = summary["totals"]
    rows.append(f"{'all pathological':<29} {t['episodes']:>8} {t['detected']:>8} {t['missed']:>6} "
                f"{t['false_alarms']:>5} {t['repeats']:>7} {f(t['latency_median_s']):>7}")
    rows.append(f"recall {t['recall']:.3f}; false alarms {t['false_alarms']} in {t['audio_min']:.1f} min "
                f"({t['false_alarms_per_10_min']:.2f} per 10 min); within {tgt:.3f} s: "
                f"{t['within_target']}/{t['detected']} ({100 * (t['within_target_share'] or 0):.0f} %), "
                f"without fasciculation {100 * (t['within_target_share_excl_fasciculation'] or 0):.0f} %")
    rows.append(f"missed: {t['missed']}, of which {t['missed_within_refractory_of_previous']} began less than "
                f"their class's refractory time after the previous pathological episode (taken as its continuation)")
    if "false_alarms_during_other_pathology" in t:
        other = t["false_alarms_during_other_pathology"]
        rows.append(f"false alarms: {other} during a pathological episode of another class (a wrong class), "
                    f"{t['false_alarms'] - other} on normal activity")
    sp = summary["per_class"].get(SPARSE, {}).get("reachable_target")
    if sp and sp["detected_with_two_potentials"]:
        rows.append(f"fasciculation, reachable target (2nd potential + {tgt:.3f} s, median "
                    f"{sp['target_median_s']:.2f} s): {sp['within']}/{sp['detected_with_two_potentials']}; "
                    f"alert {sp['latency_after_second_potential_median_s']:.2f} s (median) after the 2nd potential")
    return "\n".join(rows)


def config_dict(config: RuntimeConfig) -> dict:
    d = dataclasses.asdict(config)
    d["class_overrides"] = {k: dict(v) for k, v in config.class_overrides.items()}
    return d

