"""Event-level detection benchmark: the shipped runtime on held-out simulated examinations.

    .venv/bin/python benchmarks/detection.py [--bundle default] [--seeds eval|tune|N] [--minutes 53]
                                             [--config FILE.toml] [--out benchmarks/results/detection.json]
    .venv/bin/python benchmarks/detection.py --sweep   # tune detector knobs on "tune", confirm on "eval"

What runs is what the service runs: ``Pipeline(bundle, Int8Classifier(bundle), RuntimeConfig(), 44100,
guard=<the bundle's open-set guard>)`` (``--no-open-set`` runs without the guard, to measure its cost)
fed 0.1 s ``SampleBlock``s (``COALESCE_S``, the largest call the service makes), without real-time
pacing. Every ``Detection`` the pipeline confirms is an alert, in stream time: ``onset_s``,
``offset_s`` and ``detected_s`` (the end of the window that confirmed it) are its sample
indices / 44100 Hz, as the service writes them. Alerts are scored against the simulator's
ground truth with the demo's scorecard (:mod:`edge.scorecard`: same matcher, tolerance
1 s, same-class segments < 1 s apart merged into one episode).

Recordings (one simulated subject per seed): ``--demo-plan`` (default 4) examinations on the
demo's scripted plan (``convert.demo_recording.DEMO_PLAN``, 196 s, two episodes of every
pathological class), then random-plan examinations (``plan=None``: the simulator draws 0–2
pathological patterns per subject and a sequence of normal and pathological activity) of
``--random-s`` (300) s until ``--minutes`` of audio. Seed sets, disjoint from each other, from
the default bundle's train/val/test/repro seeds (100 000…, 200 000…, 300 000…, 400 000…,
``convert/default_bundle.py``), from the demo recording (9 000 001) and from the seeds of
``benchmarks/runtime.py`` (11, 23, 31):

- ``eval``: seeds 5 000 000… — held-out evaluation; nothing is tuned on it;
- ``tune``: seeds 6 000 000… — the only set ``--sweep`` selects settings on.

Latency target (runtime issue): from an episode's onset to its alert ≤ window length + 250 ms
(window from the bundle: (window_frames − 1) · hop + frame length = 1.015 s → 1.265 s).
Fasciculations need two potentials (``min_potentials = 2``) and fire sparsely and irregularly
(clinical-waveforms.md §2: "spontaneous, irregular, sparse; to catch one FP in ALS observation
for up to 90 s may be required"; the simulator enriches episodes to 0.5–1.2 Hz per unit), so
their alert cannot precede the second potential: their reachable target is per episode,
(second potential − onset) + window + 250 ms, reported beside the nominal one.

``--sweep`` records the window posteriors of every recording once, then replays them through
the pipeline's own smoother and detector for each setting (exactly the live chain: a test
checks replay = live), picks on the tuning set with a rule fixed in :func:`pick`, and confirms
the pick against the defaults on the evaluation set.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firmware_bridge.source import SampleBlock  # noqa: E402

from edge.scorecard import ClassScore, Episode, Scorecard, merge_episodes, score  # noqa: E402
from edge.runtime.config import RuntimeConfig  # noqa: E402
from edge.runtime.pipeline import Pipeline  # noqa: E402

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


def demo_plan() -> tuple[tuple[str, float], ...]:
    from convert.demo_recording import DEMO_PLAN

    return tuple(DEMO_PLAN)


def recording_set(seeds: str | int = "eval", minutes: float = DEFAULT_MINUTES,
                  demo_plan_recordings: int = DEMO_PLAN_RECORDINGS, random_s: float = RANDOM_S) -> list[RecordingSpec]:
    """The recordings of a seed set: demo-plan examinations first, then random plans."""
    seed0 = SEED_SETS[seeds] if isinstance(seeds, str) and seeds in SEED_SETS else int(seeds)
    plan = demo_plan()
    plan_s = sum(d for _, d in plan)
    budget = float(minutes) * 60.0
    specs: list[RecordingSpec] = []
    seed = seed0
    for _ in range(demo_plan_recordings):
        if budget < plan_s - 1e-6:
            break
        specs.append(RecordingSpec(seed, plan_s, plan, "demo-plan"))
        budget -= plan_s
        seed += 1
    while budget >= 30.0:  # shorter remainders are dropped: too short for a random plan
        d = min(random_s, budget)
        specs.append(RecordingSpec(seed, d, None, "random"))
        budget -= d
        seed += 1
    return specs


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
    windows: list[tuple[int, int]] = field(default_factory=list)  # (start, end) stream samples
    probs: np.ndarray | None = None  # (windows, classes) posteriors after the open-set guard
    unknown_windows: int = 0  # pathological calls the open-set guard withheld
    sim_s: float = 0.0
    pipeline_s: float = 0.0


def _alert(det, rate: int) -> dict:
    # The fields and rounding the service writes (edge.runtime.service: onset_s/offset_s/detected_s).
    return {"label": det.label, "confidence": det.confidence, "onset_s": round(det.onset / rate, 4),
            "offset_s": round(det.offset / rate, 4), "detected_s": round(det.detected_at / rate, 4),
            "potentials": det.potentials}


def simulate(spec: RecordingSpec):
    from convert.simulator import simulate_recording

    return simulate_recording(spec.seed, spec.duration_s, RATE, plan=spec.plan)


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
    pipe = Pipeline(bundle, classifier, config, rec.sample_rate, guard=_guard(bundle, config))
    windows: list[tuple[int, int]] = []
    probs: list[np.ndarray] = []
    if keep_posteriors:  # the window spans and posteriors, in the order the detector sees them
        orig = pipe.detector.update

        def update(smoothed, raw, start, end):
            windows.append((int(start), int(end)))
            probs.append(np.asarray(raw, dtype=np.float64))  # after the guard, as the smoother saw it
            return orig(smoothed, raw, start, end)

        pipe.detector.update = update  # type: ignore[method-assign]
    step = int(BLOCK_S * rec.sample_rate)
    pcm = rec.pcm
    t0 = time.perf_counter()
    dets = []
    for i in range(0, pcm.size, step):
        dets += pipe.feed(SampleBlock(i, pcm[i:i + step], 0))
    pipe_s = time.perf_counter() - t0
    return RecordingRun(spec, pcm.size / rec.sample_rate, truth, events,
                        [_alert(d, rec.sample_rate) for d in dets], windows,
                        np.array(probs) if keep_posteriors else None, pipe.counters.unknown_windows, sim_s, pipe_s)


def _guard(bundle, config: RuntimeConfig):
    """The open-set guard the service would use: the bundle's, unless the config turns it off."""
    from edge.bundle import Bundle
    from edge.runtime.openset import load_guard

    return load_guard(bundle) if config.open_set and isinstance(bundle, Bundle) else None


def replay(run: RecordingRun, bundle, config: RuntimeConfig) -> list[dict]:
    """Alerts of ``config`` on a recorded run: its raw posteriors through the smoother and
    detector of a ``Pipeline`` built for ``config`` (the same objects the live chain uses)."""
    if run.probs is None:
        raise ValueError("replay needs a run made with keep_posteriors=True")
    pipe = Pipeline(bundle, _NoClassifier(), config, RATE, frontend=_NoFrontend(bundle.frontend_config))
    out = []
    for p, (start, end) in zip(run.probs, run.windows):
        for d in pipe.detector.update(pipe.smoother.update(p), p, start, end):
            out.append(_alert(d, RATE))
    return out


class _NoClassifier:
    def predict(self, window):  # pragma: no cover - replay never classifies
        raise AssertionError("replay does not classify")


class _NoFrontend:
    dtype = np.int16

    def __init__(self, cfg) -> None:
        self.cfg = cfg


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
    for k, run in enumerate(runs):
        al = run.alerts if alerts is None else alerts[k]
        card = score(run.episodes, al, run.duration_s, labels, TOLERANCE_S, MERGE_GAP_S)
        duration += run.duration_s
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
    }
    return {"window_s": _r(window_s), "target_s": _r(target), "per_class": rows, "totals": totals,
            "missed_episodes": missed_list}


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
                              "episodes": len(r.episodes), "alerts": len(r.alerts)} for r in runs]
    summary["open_set"] = {"on": bool(config.open_set and _guard(bundle, config) is not None),
                           "windows_withheld": int(sum(r.unknown_windows for r in runs))}
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


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "note": "shared 2-vCPU x86_64 VM, not a Raspberry Pi"}


# ---------------------------------------------------------------------------------------
# Sweep
# ---------------------------------------------------------------------------------------

#: Stage 1: knobs of every class at once (smoothing and the default rule). The refractory
#: times are not swept: they define which activity is one clinical episode (and a shorter one
#: would only trade missed back-to-back episodes for repeated alerts on the same condition).
GRID = {
    "smoothing_windows": (1, 2, 3, 4),
    "enter": (0.5, 0.6, 0.7, 0.8),
    "exit": (0.3, 0.4, 0.5),
    "min_duration_s": (0.0, 0.25, 0.5),
    "exit_windows": (1, 2, 3),
}
#: Stage 2: per-class overrides tried one class at a time on top of the stage-1 pick.
CLASS_GRID = {"enter": (0.6, 0.7, 0.8, 0.9), "min_duration_s": (0.0, 0.25, 0.5, 0.75)}


def make_config(knobs: dict, overrides: dict | None = None) -> RuntimeConfig:
    base = RuntimeConfig()
    rule = base.default_rule.replace(**{k: v for k, v in knobs.items() if k != "smoothing_windows"})
    over = {k: dict(v) for k, v in base.class_overrides.items()}
    for label, o in (overrides or {}).items():
        over[label] = {**over.get(label, {}), **o}
    return RuntimeConfig(smoothing_windows=knobs.get("smoothing_windows", base.smoothing_windows),
                         default_rule=rule, class_overrides=over)


def default_knobs() -> dict:
    cfg = RuntimeConfig()
    return {"smoothing_windows": cfg.smoothing_windows, **{k: getattr(cfg.default_rule, k) for k in GRID
                                                            if k != "smoothing_windows"}}


def stage1_configs() -> Iterable[dict]:
    """The defaults first, so that a tie keeps them (``min`` returns the first of equals)."""
    first = default_knobs()
    yield first
    for values in itertools.product(*GRID.values()):
        knobs = dict(zip(GRID, values))
        if knobs["exit"] <= knobs["enter"] and knobs != first:
            yield knobs


def _errors(s: dict) -> int:
    return s["totals"]["missed"] + s["totals"]["false_alarms"]


def _latency(s: dict) -> tuple[float, float]:
    t = s["totals"]
    return (t["within_target_share_excl_fasciculation"] or 0.0, t["latency_median_excl_fasciculation_s"] or 99.0)


def _key(s: dict, ref: dict | None = None, rule: str = "pareto") -> tuple:
    """Sort key of a scored setting (smaller is better); see :func:`pick`."""
    t = s["totals"]
    if rule == "pareto":
        share, med = _latency(s)
        r_share, r_med = _latency(ref) if ref is not None else (0.0, 99.0)
        ok = (ref is None or _errors(s) <= _errors(ref)) and share >= r_share - 1e-9 and med <= r_med + 1e-9
    elif rule == "errors":
        p90 = t["latency_p90_excl_fasciculation_s"]
        ok = p90 is not None and p90 <= s["target_s"] + 1e-9
    else:
        raise ValueError(f"rule {rule!r}: use pareto or errors")
    return (not ok, _errors(s), -(t["within_target_share_excl_fasciculation"] or 0.0),
            t["latency_median_excl_fasciculation_s"] or 99.0, t["repeats"])


def pick(results: list[tuple[Any, dict]], ref: dict | None = None, rule: str = "pareto") -> tuple[Any, dict]:
    """Selection rule, fixed before the evaluation set is scored. ``pareto`` (default): among
    settings no worse than the defaults (``ref``) on the tuning set in errors (missed episodes +
    false alarms), in the share of alerts within the latency target and in median latency
    (fasciculation aside for latency), the fewest errors, then the largest share within the
    target, then the lowest median latency, then the fewest repeats. ``errors``: among settings
    whose 90th percentile latency meets the target, the same order."""
    return min(results, key=lambda kr: _key(kr[1], ref, rule))


def sweep(bundle_name: str, minutes: float, rule: str = "pareto", echo=print) -> dict:
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier

    bundle = load_bundle(bundle_name)
    clf = Int8Classifier(bundle)
    labels = [c for c in CLASS_ORDER if c in bundle.pathological]
    win = window_seconds(bundle)

    def on(runs, cfg):
        return score_runs(runs, labels, win, [replay(r, bundle, cfg) for r in runs], config=cfg)

    echo(f"sweep: recording posteriors on the tuning set (seeds {SEED_SETS['tune']}…)")
    _, tune = evaluate(recording_set("tune", minutes), bundle, RuntimeConfig(), clf, keep_posteriors=True, echo=echo)
    t0 = time.perf_counter()
    default_tune = on(tune, RuntimeConfig())
    stage1 = [(k, on(tune, make_config(k))) for k in stage1_configs()]
    knobs, best = pick(stage1, default_tune, rule)
    echo(f"sweep: stage 1, {len(stage1)} settings; pick {knobs}: {_brief(best)}")
    overrides: dict[str, dict] = {}
    stage2 = []
    for label in labels:
        trials = [(None, best)]
        for values in itertools.product(*CLASS_GRID.values()):
            o = dict(zip(CLASS_GRID, values))
            if o["enter"] < knobs["exit"]:
                continue
            trial = {**overrides, label: o}
            trials.append((o, on(tune, make_config(knobs, trial))))
        stage2.extend((label, o, _brief_dict(s)) for o, s in trials[1:])
        o, s = pick(trials, default_tune, rule)
        if o is not None and _key(s, default_tune, rule) < _key(best, default_tune, rule):
            overrides[label] = o
            best = s
            echo(f"sweep: stage 2, {label} {o}: {_brief(best)}")
    grid_s = time.perf_counter() - t0
    cfg = make_config(knobs, overrides)
    echo(f"sweep: replays took {grid_s:.0f} s")
    echo(f"  tune default: {_brief(default_tune)}")
    echo(f"  tune pick:    {_brief(best)}")
    echo(f"sweep: confirming on the evaluation set (seeds {SEED_SETS['eval']}…)")
    ev_default, ev_runs = evaluate(recording_set("eval", minutes), bundle, RuntimeConfig(), clf, keep_posteriors=True)
    ev_best = on(ev_runs, cfg)
    echo(f"  eval default: {_brief(ev_default)}")
    echo(f"  eval pick:    {_brief(ev_best)}")
    ranked = sorted(stage1, key=lambda kr: _key(kr[1], default_tune, rule))
    return {
        "grid": {k: list(v) for k, v in GRID.items()}, "class_grid": {k: list(v) for k, v in CLASS_GRID.items()},
        "stage1_settings": len(stage1), "stage2_settings": len(stage2), "replay_s": round(grid_s, 1),
        "rule": rule, "selection_rule": " ".join(pick.__doc__.split()),
        "default_knobs": default_knobs(), "pick": {"knobs": knobs, "class_overrides": overrides},
        "pick_config": config_dict(cfg),
        "tune": {"seeds": SEED_SETS["tune"], "minutes": minutes, "default": _compact(default_tune),
                 "pick": _compact(best), "stage1_top10": [{"knobs": k, **_brief_dict(s)} for k, s in ranked[:10]],
                 "stage2": [{"class": c, "override": o, **b} for c, o, b in stage2]},
        "eval": {"seeds": SEED_SETS["eval"], "minutes": minutes, "default": ev_default, "pick": ev_best},
    }


def _brief_dict(s: dict) -> dict:
    t = s["totals"]
    return {k: t[k] for k in ("episodes", "detected", "missed", "false_alarms", "repeats", "recall",
                              "false_alarms_per_10_min", "within_target_share_excl_fasciculation",
                              "latency_median_excl_fasciculation_s", "latency_p90_excl_fasciculation_s",
                              "within_target_share", "latency_median_s")}


def _brief(s: dict) -> str:
    t = s["totals"]
    return (f"{t['detected']}/{t['episodes']} detected, {t['false_alarms']} false, {t['repeats']} repeats, "
            f"within target (no fasc) {t['within_target_share_excl_fasciculation']}, "
            f"median (no fasc) {t['latency_median_excl_fasciculation_s']} s, "
            f"p90 (no fasc) {t['latency_p90_excl_fasciculation_s']} s")


def _compact(s: dict) -> dict:
    return {"totals": s["totals"], "per_class": {k: {kk: vv for kk, vv in v.items() if kk != "latencies_s"}
                                                  for k, v in s["per_class"].items()}}


# ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--seeds", default="eval", help="seed set: eval (5000000…), tune (6000000…) or a first seed")
    ap.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="audio in total (default %(default)s)")
    ap.add_argument("--demo-plan", type=int, default=DEMO_PLAN_RECORDINGS,
                    help="recordings on the demo's plan (default %(default)s); the rest are random plans")
    ap.add_argument("--random-s", type=float, default=RANDOM_S, help="length of a random-plan recording (s)")
    ap.add_argument("--config", default=None, help="runtime TOML (default: RuntimeConfig() defaults)")
    ap.add_argument("--no-open-set", action="store_true",
                    help="run without the bundle's open-set guard (to measure what the guard costs in recall)")
    ap.add_argument("--sweep", action="store_true", help="tune on the tuning seeds, confirm on the evaluation seeds")
    ap.add_argument("--rule", default="pareto", choices=("pareto", "errors"), help="sweep selection rule")
    ap.add_argument("--out", default=None, help="JSON output (default benchmarks/results/detection.json, "
                                                "detection_sweep.json with --sweep)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    from edge.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/detection.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(), "bundle": args.bundle, "model_id": bundle.model_id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.sweep:
        out = Path(args.out or ROOT / "benchmarks" / "results" / "detection_sweep.json")
        result["sweep"] = sweep(args.bundle, args.minutes, args.rule)
        print("\nevaluation set, defaults:\n" + table(result["sweep"]["eval"]["default"]))
        print("\nevaluation set, the sweep's pick:\n" + table(result["sweep"]["eval"]["pick"]))
    else:
        out = Path(args.out or ROOT / "benchmarks" / "results" / "detection.json")
        config = RuntimeConfig.from_toml(args.config) if args.config else RuntimeConfig()
        if args.no_open_set:
            config = dataclasses.replace(config, open_set=False)
        specs = recording_set(args.seeds, args.minutes, args.demo_plan, args.random_s)
        print(f"detection: {bundle.model_id}, {len(specs)} recordings, seeds {specs[0].seed}–{specs[-1].seed}, "
              f"{sum(s.duration_s for s in specs) / 60:.1f} min")
        summary, _ = evaluate(specs, bundle, config, echo=print)
        result.update({"seeds": {"set": args.seeds, "first": specs[0].seed, "last": specs[-1].seed},
                       "config": config_dict(config), **summary})
        print()
        print(table(summary))
        print(f"open-set guard {'on' if summary['open_set']['on'] else 'off'}: "
              f"{summary['open_set']['windows_withheld']} window(s) withheld")
    result["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nbenchmark wall time {result['benchmark_wall_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
