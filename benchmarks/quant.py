"""QEMG benchmark (issue 13): speed, memory and accuracy of ``edge.quant.quantify``.

    .venv/bin/python benchmarks/quant.py [--seconds 60] [--repeats 2] [--quick] [--validation
        [--validation-seed 201]]
        [--rate HZ [--analysis-rate HZ]] [--out benchmarks/results/quant.json]

Speed: one core (BLAS threads pinned to 1), CPU seconds of this process (best of
``--repeats``) to quantify ``--seconds`` of simulated 10 kHz voluntary EMG (15 % effort,
concentric needle), and the ratio to a peer over the same samples in the same run: the
detection front-end (``edge.frontend``, 32 log-Mel bands to 4.5 kHz, 25 ms / 10 ms) computing its
features. Target: 60 s at 10 kHz in ≤ 2 s. Memory: peak of Python allocations (tracemalloc)
beyond the input array for 1× and 4× the duration; flat means the 4× peak is not ~4× the 1×.

Accuracy: simulated steady contractions (``convert.simulator.voluntary_truth``), concentric,
5–30 % effort, 10–44.1 kHz, scored per true unit with ≥ 20 discharges (EMGLAB matching
within ±0.5 ms): share of units found; per found unit the share of discharges matched, the
amplitude (relative), duration (ms) and firing-rate (Hz) errors, against the issue's targets.
``--validation`` scores 20 more recordings (seeds 201–220, not used to develop the method) the
same way, to show the figures are not those of the benchmark's own seeds. Those seeds have been
read at every change since, so ``--validation-seed 301`` scores 20 recordings of seeds 301–320
(the same rates and efforts) on which no change was chosen. ``--rate 4000``
scores the benchmark recordings resampled to 4 kHz (the PhysioNet records' rate), analysed
interpolated to ``QuantConfig.analysis_rate_hz`` (``--analysis-rate 0``: on the 4 kHz grid).

Distinctness: each scored unit is also placed by how far its spike is from the nearest other
active unit's in the same recording, as the decomposer sees them: the residual energy, as a
share of the larger one's, between the two noise-free templates in the detection band (300 Hz
–3 kHz, on the decimated grid, ± the half-width the decomposer matches, best shift within
± 0.3 ms; ``edge.quant.decompose.residual_share``, the measure the decomposer merges and joins
templates by). The found share and the mean share of discharges matched per range of it show
how much of the shortfall is units whose spikes the pool all but duplicates.

Every unit: ``discharges_matched_mean_all_units`` is the mean share matched over every scored
true unit, found or not (its best-matching found unit's share): a change that finds one more
hard unit lowers the per-found-unit mean while matching more, and this mean does not move
with the found set.

Timing: ``discharges_matched_mean_by_tolerance_ms`` is the mean share of a found unit's
discharges matched within ±0.5, 1, 2 and 3 ms (each true unit found at ±0.5 ms, scored against
its best-matching found unit at each tolerance): what widening the window gains is discharges
the train holds but places 0.5–3 ms off, the rest of the shortfall is discharges the train
does not hold at all.

Reported units: ``units_reported`` counts every unit ``quantify`` reports, and by the largest
share of its discharges one true unit holds (``convert.simulator.voluntary_truth.unit_purity``,
over every true unit, however few its discharges): ``reported_mostly_one_true_unit`` (≥ 0.5),
``reported_mixtures`` (0.1–0.5: trains that deal several similar units' discharges, which
the recording's summary counts as units of their own) and ``reported_no_listed_unit``
(< 0.1: a train of none of the listed units, e.g. the simulator's distant units, which the
truth does not list).

What limits the duration figure: ``duration_within_1_5ms_perfect_decomposition`` measures
each scored unit (of at least ``QuantConfig.min_amplitude_uv``) as a perfect decomposition
would leave it: display-band snippets at its true discharge times with every true unit's
noise-free template subtracted at its true times and its own template added back, so what
remains besides the potential is only the distant units' background and the amplifier noise;
averaged (``edge.quant.units.median_template``, up to ``QuantConfig.max_average`` discharges
spread over the recording) and measured exactly as ``quantify`` does. ``duration_level_sensitivity``
is the share of those units whose true duration moves by more than 1.5 ms when the
criterion's level changes by ±2 dB (the ends of its ``duration_range_ms``): a low terminal
phase that lingers near the level makes the onset/end criterion ill-conditioned.
``duration_level_sensitivity_found`` is the same share for the found units' *estimated*
templates, and ``physionet_level_sensitivity`` for the units ``quantify`` finds on the three real
PhysioNet records (``tests/data/physionet-emgdb``, 4 kHz, 0.1 µV/LSB): whether real MUAPs are as
sensitive to the criterion as simulated ones, i.e. whether the simulator's terminal phases are
what limits the duration figure.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.signal import oaconvolve  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from convert.simulator import GENERATOR_VERSION  # noqa: E402
from convert.simulator.voluntary_truth import render_voluntary_truth, score_units, unit_purity  # noqa: E402
from edge.frontend import Frontend, FrontendConfig  # noqa: E402
from edge.quant import QuantConfig, quantify  # noqa: E402
from edge.quant.bands import Bands  # noqa: E402
from edge.quant.chunks import decimation  # noqa: E402
from edge.quant.decompose import DecomposeConfig, residual_share  # noqa: E402
from edge.quant.units import median_template, template_measures  # noqa: E402
from edge.resample import resample  # noqa: E402

#: (seed, sample rate Hz, effort fraction of MVC)
CASES = [(101, 10_000, 0.05), (102, 10_000, 0.15), (103, 10_000, 0.3), (104, 20_000, 0.05), (105, 20_000, 0.2),
         (106, 44_100, 0.1), (107, 44_100, 0.3), (108, 10_000, 0.1), (109, 20_000, 0.3), (110, 44_100, 0.05)]


def validation_cases(first_seed: int = 201, n: int = 20) -> list[tuple[int, int, float]]:
    """Held-out recordings: seeds ``first_seed`` … ``first_seed + n − 1``, rates and efforts cycling."""
    return [(s, (10_000, 20_000, 44_100)[i % 3], (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)[(5 * i) % 6])
            for i, s in enumerate(range(first_seed, first_seed + n))]


#: Held-out recordings (seeds 201–220, not used to develop the method, but read at every stop
#: since: ``--validation-seed 301`` scores a set no change was chosen on).
VALIDATION = validation_cases(201)
#: Matching tolerances (s) of the timing breakdown (module docstring); the target's is the first.
TOLERANCES_S = (0.0005, 0.001, 0.002, 0.003)
#: Ranges of distinctness (module docstring) the accuracy is broken down by.
DISTINCT_EDGES = (0.0, 0.1, 0.3, float("inf"))
TARGETS = {"found": 0.9, "discharges_matched": 0.9, "amplitude_rel": 0.10, "duration_ms": 1.5, "rate_hz": 0.5}


def best_cpu(fn, repeats: int) -> tuple[float, float, object]:
    cpu, wall, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = min(cpu, time.process_time() - c0), min(wall, time.perf_counter() - w0)
    return cpu, wall, out


def speed(seconds: float, repeats: int) -> dict:
    tr = render_voluntary_truth(900, effort=0.15, duration_s=seconds, sample_rate=10_000)
    pcm, uv = tr.pcm, tr.uv_per_lsb
    t_q, w_q, r = best_cpu(lambda: quantify(pcm, 10_000, uv_per_lsb=uv), repeats)
    fe = Frontend(FrontendConfig(sample_rate=10_000, window_ms=25.0, hop_ms=10.0, n_mels=32, fmin_hz=20.0,
                                 fmax_hz=4500.0))
    t_f, w_f, _ = best_cpu(lambda: fe.process(pcm), repeats)
    return {"seconds": seconds, "sample_rate_hz": 10_000, "units_found": len(r.units), "true_units": len(tr.units),
            "quantify_cpu_s": round(t_q, 3), "quantify_wall_s": round(w_q, 3),
            "frontend_cpu_s": round(t_f, 4), "ratio_quantify_over_frontend": round(t_q / t_f, 1),
            "target_s": 2.0, "target_met": bool(t_q <= 2.0 * seconds / 60.0)}


def memory(seconds: float) -> dict:
    out = {}
    for k in (1, 4):
        tr = render_voluntary_truth(901, effort=0.15, duration_s=seconds * k, sample_rate=10_000)
        tracemalloc.start()
        quantify(tr.pcm, 10_000, uv_per_lsb=tr.uv_per_lsb)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[f"peak_mb_{k}x"] = round(peak / 2**20, 1)
        out[f"input_mb_{k}x"] = round(tr.pcm.nbytes / 2**20, 1)
    out["seconds_1x"] = seconds
    out["ratio_4x_over_1x"] = round(out["peak_mb_4x"] / max(out["peak_mb_1x"], 1e-9), 2)
    return out


def distinctness(tr) -> dict[int, float]:
    """Per active unit of ``tr`` (pool index): residual share to the nearest other unit's spike
    in the detection band (module docstring); inf when it is the only one."""
    fs = tr.sample_rate
    q = decimation(fs)
    H, _, _ = DecomposeConfig().samples(fs / q)
    shift = max(1, int(round(0.0003 * fs / q)))
    spikes = {}
    for u in tr.units:
        _, d = Bands(fs).process(u.template_uv)
        d = d[::q]
        p = int(np.argmax(np.abs(d)))
        spikes[u.index] = np.pad(d, H)[p:p + 2 * H + 1]
    return {i: min((residual_share(a, b, shift) for j, b in spikes.items() if j != i), default=float("inf"))
            for i, a in spikes.items()}


def duration_limits(tr, indices) -> tuple[list[float], list[bool]]:
    """Per unit of ``indices`` (pool indices) of at least ``QuantConfig.min_amplitude_uv``:
    the duration error (ms) of its template under a perfect decomposition, and whether its
    true duration moves by more than 1.5 ms with the level ±2 dB (module docstring)."""
    cfg, fs = QuantConfig(), tr.sample_rate
    d, _ = Bands(fs).process(tr.signal_uv)
    n = len(d)
    rest = d.copy()  # the display band less every true unit's potentials at their true times
    for u in tr.units:
        tt = u.template_uv
        imp = np.zeros(n + len(tt))
        idx = np.rint(np.asarray(u.discharge_times_s) * fs).astype(np.int64) - int(np.argmax(np.abs(tt))) + len(tt)
        np.add.at(imp, idx[(idx >= 0) & (idx < len(imp))], 1.0)
        rest -= oaconvolve(imp, tt)[len(tt):len(tt) + n]
    pre, post = int(round(cfg.pre_ms * fs / 1000.0)), int(round(cfg.post_ms * fs / 1000.0))
    errors, brittle = [], []
    for u in tr.units:
        tt, pk = u.template_uv, int(np.argmax(np.abs(u.template_uv)))
        if u.index not in indices or u.amplitude_uv < cfg.min_amplitude_uv or pk < pre or pk + post >= len(tt):
            continue
        g = np.rint(np.asarray(u.discharge_times_s) * fs).astype(np.int64)
        g = g[(g >= pre) & (g + post < n)]
        g = g[np.linspace(0, len(g) - 1, min(cfg.max_average, len(g))).astype(int)]
        stack = rest[g[:, None] + np.arange(-pre, post + 1)[None, :]] + tt[pk - pre:pk + post + 1][None, :]
        tmpl, noise = median_template(stack.astype(np.float32))
        errors.append(template_measures(tmpl, fs, cfg.measure, noise_uv=noise).duration_ms - u.duration_ms)
        lo, hi = template_measures(tt, fs, cfg.measure).duration_range_ms  # the level ±2 dB
        brittle.append(max(u.duration_ms - lo, hi - u.duration_ms) > 1.5)
    return errors, brittle


def accuracy(cases, seconds: float, rate: int | None = None, config: QuantConfig | None = None) -> dict:
    """Scores of ``cases``; with ``rate`` each recording is resampled to ``rate`` Hz
    (``edge.resample``) before ``quantify`` (the truth's times are unchanged: zero-phase)."""
    rows, scores, distinct, perfect, brittle, brittle_found = [], [], [], [], [], []
    by_tol = []  # per found unit: the share of its discharges matched at each of TOLERANCES_S
    purity = []  # per reported unit: the largest share of its discharges one true unit's
    for seed, fs, effort in cases:
        tr = render_voluntary_truth(seed, effort=effort, duration_s=seconds, sample_rate=fs)
        if rate:
            r = quantify(resample(tr.signal_uv, fs, rate), rate, uv_per_lsb=1.0, config=config)
        else:
            r = quantify(tr.pcm, fs, uv_per_lsb=tr.uv_per_lsb, config=config)
        sc = score_units(tr, r.units, min_discharges=20, tol_s=TOLERANCES_S[0])
        scores += sc
        found_ids = {s.found_id for s in sc if s.found_id is not None}
        wide = [{s.index: s.recall for s in sc}] + [
            {w.index: w.recall for w in score_units(tr, r.units, min_discharges=20, tol_s=tol)}
            for tol in TOLERANCES_S[1:]]
        by_tol += [[w[s.index] for w in wide] for s in sc if s.found_id is not None]
        purity += unit_purity(tr, r.units)
        brittle_found += [_brittle(u) for u in r.units if u.id in found_ids and u.duration_range_ms]
        if not rate:  # the ceiling is the native recording's
            e, b = duration_limits(tr, {s.index for s in sc})
            perfect += e
            brittle += b
        dd = distinctness(tr)
        distinct += [dd[s.index] for s in sc]
        found = [s for s in sc if s.found_id is not None]
        rows.append({"seed": seed, "sample_rate_hz": fs, "effort": effort, "true_units": len(sc),
                     "found": len(found), "units_reported": len(r.units),
                     "mean_matched": round(float(np.mean([s.recall for s in found])), 3) if found else None})
    f = [s for s in scores if s.found_id is not None]
    recall = np.array([s.recall for s in f])
    agree = np.array([s.agreement for s in f])
    amp = np.abs([s.amplitude_error for s in f])
    dur = np.abs([s.duration_error_ms for s in f])
    rate_err = np.abs([s.rate_error_hz for s in f])
    summary = {
        "true_units": len(scores), "found_share": round(len(f) / max(len(scores), 1), 3),
        "discharges_matched_mean": round(float(recall.mean()), 3),
        "units_with_90pct_matched": round(float(np.mean(recall >= 0.9)), 3),
        "discharges_matched_mean_all_units": round(float(np.mean([s.recall for s in scores])), 4),
        "emglab_agreement_mean": round(float(agree.mean()), 3),
        "amplitude_within_10pct": round(float(np.mean(amp <= 0.10)), 3),
        "amplitude_error_median_pct": round(float(100 * np.median(amp)), 2),
        "duration_within_1_5ms": round(float(np.mean(dur <= 1.5)), 3),
        "duration_error_median_ms": round(float(np.median(dur)), 2),
        "rate_within_0_5hz": round(float(np.mean(rate_err <= 0.5)), 3),
        "rate_error_median_hz": round(float(np.median(rate_err)), 3),
    }
    pur = np.array(purity)
    summary["units_reported"] = len(pur)
    summary["reported_mostly_one_true_unit"] = int(np.sum(pur >= 0.5))
    summary["reported_mixtures"] = int(np.sum((pur >= 0.1) & (pur < 0.5)))
    summary["reported_no_listed_unit"] = int(np.sum(pur < 0.1))
    summary["discharges_matched_mean_by_tolerance_ms"] = {
        f"{1000 * tol:g}": round(float(v), 3) for tol, v in zip(TOLERANCES_S, np.mean(by_tol, axis=0))}
    if brittle_found:
        summary["duration_level_sensitivity_found"] = round(float(np.mean(brittle_found)), 3)
    if perfect:
        summary["duration_within_1_5ms_perfect_decomposition"] = round(float(np.mean(np.abs(perfect) <= 1.5)), 3)
        summary["duration_level_sensitivity"] = round(float(np.mean(brittle)), 3)
    dist = np.array(distinct)
    by = []
    for lo, hi in zip(DISTINCT_EDGES[:-1], DISTINCT_EDGES[1:]):
        sel = [s for s, d in zip(scores, dist) if lo <= d < hi]
        ff = [s for s in sel if s.found_id is not None]
        by.append({"residual_share_from": lo, "to": None if hi == float("inf") else hi, "units": len(sel),
                   "found_share": round(len(ff) / len(sel), 3) if sel else None,
                   "discharges_matched_mean": round(float(np.mean([s.recall for s in ff])), 3) if ff else None})
    return {"cases": rows, "summary": summary, "by_distinctness": by, "targets": TARGETS,
            "seconds_per_recording": seconds}


def _brittle(u) -> bool:
    """Whether unit ``u``'s duration moves by more than 1.5 ms with the level ±2 dB."""
    lo, hi = u.duration_range_ms
    return max(u.duration_ms - lo, hi - u.duration_ms) > 1.5


def physionet_level_sensitivity() -> dict:
    """Per PhysioNet record: units found and the share whose duration moves > 1.5 ms with the
    level ±2 dB (module docstring). Rate and µV per LSB from each record's header."""
    from convert.real_records import PHYSIONET_DIR, RECORDS
    from convert.recordings import read_recording

    out = {}
    for name in RECORDS:
        r = read_recording(PHYSIONET_DIR / f"{name}.hea")
        units = [u for u in quantify(r.pcm, r.sample_rate, uv_per_lsb=r.uv_per_lsb).units if u.duration_range_ms]
        out[name] = {"units": len(units), "level_sensitivity": round(float(np.mean([_brittle(u) for u in units])), 3)
                     if units else None}
    return out


def print_distinctness(by: list[dict]) -> None:
    for b in by:
        if b["units"]:
            rng = f"{b['residual_share_from']:g}–{b['to']:g}" if b["to"] is not None else f"≥ {b['residual_share_from']:g}"
            print(f"  spike residual to the nearest other unit {rng}: "
                  f"{b['units']} units, found {b['found_share']}, mean matched {b['discharges_matched_mean']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="signal length for the speed figure (s)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="3 accuracy cases of 8 s (a smoke run)")
    ap.add_argument("--validation", action="store_true",
                    help="also score the 20 held-out recordings (seeds 201-220, 20 s each)")
    ap.add_argument("--validation-seed", type=int, default=201,
                    help="first seed of the held-out set (201: the usual 201-220; e.g. 301 for 20 recordings "
                         "no change was chosen on)")
    ap.add_argument("--rate", type=int, default=None,
                    help="also score the benchmark recordings resampled to this rate (Hz), e.g. 4000 as PhysioNet")
    ap.add_argument("--analysis-rate", type=float, default=None,
                    help="QuantConfig.analysis_rate_hz for the --rate scores (0: analyse on the input grid)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "quant.json"))
    args = ap.parse_args(argv)
    sp = speed(args.seconds, args.repeats)
    print(f"speed: {sp['seconds']:g} s at 10 kHz quantified in {sp['quantify_cpu_s']} s CPU "
          f"({sp['ratio_quantify_over_frontend']}x the front-end's {sp['frontend_cpu_s']} s); target ≤ 2 s per 60 s: "
          f"{'met' if sp['target_met'] else 'NOT met'}")
    mem = memory(15.0 if args.quick else 60.0)
    print(f"memory: peak {mem['peak_mb_1x']} MB for {mem['seconds_1x']:g} s, {mem['peak_mb_4x']} MB for 4x "
          f"(ratio {mem['ratio_4x_over_1x']})")
    acc = accuracy(CASES[:3] if args.quick else CASES, 8.0 if args.quick else 20.0)
    for row in acc["cases"]:
        print(f"  seed {row['seed']} {row['sample_rate_hz']} Hz effort {row['effort']:.2f}: "
              f"{row['found']}/{row['true_units']} units found, mean matched {row['mean_matched']}")
    for k, v in acc["summary"].items():
        print(f"  {k}: {v}")
    print_distinctness(acc["by_distinctness"])
    val = None
    if args.validation:
        first = args.validation_seed
        val = accuracy(validation_cases(first), 20.0)
        val["seeds"] = [first, first + 19]
        print(f"held-out recordings (seeds {first}-{first + 19}):")
        for k, v in val["summary"].items():
            print(f"  {k}: {v}")
        print_distinctness(val["by_distinctness"])
    real = physionet_level_sensitivity()
    print("duration level sensitivity (±2 dB moves > 1.5 ms), PhysioNet units: "
          + ", ".join(f"{k} {v['level_sensitivity']} of {v['units']}" for k, v in real.items()))
    low = None
    if args.rate:
        cfg = None if args.analysis_rate is None else QuantConfig(analysis_rate_hz=args.analysis_rate)
        low = accuracy(CASES, 20.0, rate=args.rate, config=cfg)
        low["rate_hz"], low["analysis_rate_hz"] = args.rate, (cfg or QuantConfig()).analysis_rate_hz
        print(f"benchmark recordings resampled to {args.rate} Hz (analysis rate {low['analysis_rate_hz']:g} Hz):")
        for k, v in low["summary"].items():
            print(f"  {k}: {v}")
        print(f"  units reported: {sum(r['units_reported'] for r in low['cases'])}")
    result = {"generator_version": GENERATOR_VERSION, "machine": platform.machine(), "python": platform.python_version(),
              "timing": "best of repeats, process CPU seconds; the machine may be shared", "speed": sp, "memory": mem,
              "accuracy": acc, "validation": val, "resampled": low, "physionet_level_sensitivity": real}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
