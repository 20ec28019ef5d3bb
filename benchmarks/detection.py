"""Event-level detection benchmark: the shipped runtime on held-out simulated examinations.

    .venv/bin/python benchmarks/detection.py [--bundle default] [--seeds eval|tune|N] [--minutes 53]
                                             [--config FILE.toml] [--chain-seed N]
                                             [--out benchmarks/results/detection.json]
    .venv/bin/python benchmarks/detection.py --sweep   # tune detector knobs on "tune", confirm on "eval"

The command line over :mod:`convert.detection_eval` (what runs, the recordings and seed sets,
the scoring and the latency targets are described there) and, with ``--sweep``, over
:mod:`convert.detector_tuning` (the same sweep as ``emg-convert tune-detector``).
``--no-open-set`` runs without the bundle's open-set guard, to measure its cost.
``--chain-seed N`` records examination ``i`` through a recording chain drawn with seed ``N + i``
from the ranges the default bundle trains through (``convert.chain.ChainConfig()``: 4–48 kHz,
high-pass 2–20 Hz, low-pass 2–10 kHz, gain error ±6 dB, either polarity, hum, noise, rare
clipping, 0.1–2 µV/LSB) and feeds it at the chain's rate and scale, as other equipment would:
false alarms on other equipment, not only on the simulator's own output. Writes JSON
(``benchmarks/results/detection.json``, ``detection_sweep.json`` with ``--sweep``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from convert import detector_tuning as T  # noqa: E402
from convert.detection_eval import (  # noqa: E402
    DEFAULT_MINUTES, DEMO_PLAN_RECORDINGS, RANDOM_S, config_dict, evaluate, recording_set, table,
)
from edge.runtime.config import RuntimeConfig  # noqa: E402


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "note": "shared 2-vCPU x86_64 VM, not a Raspberry Pi"}


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
    ap.add_argument("--grid", default="episode", choices=tuple(T.GRIDS), help="sweep grid (convert.detector_tuning)")
    ap.add_argument("--chain-seed", type=int, default=None,
                    help="record examination i through a recording chain drawn with seed N + i "
                         "(convert.chain.ChainConfig() ranges); default: the simulator's 44.1 kHz output")
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
        result["sweep"] = T.sweep(args.bundle, args.minutes, args.rule, grid=args.grid)
        T.print_pick(result)
    else:
        out = Path(args.out or ROOT / "benchmarks" / "results" / "detection.json")
        config = RuntimeConfig.from_toml(args.config) if args.config else RuntimeConfig()
        if args.no_open_set:
            config = dataclasses.replace(config, open_set=False)
        specs = recording_set(args.seeds, args.minutes, args.demo_plan, args.random_s, args.chain_seed)
        print(f"detection: {bundle.model_id}, {len(specs)} recordings, seeds {specs[0].seed}–{specs[-1].seed}, "
              f"{sum(s.duration_s for s in specs) / 60:.1f} min")
        summary, _ = evaluate(specs, bundle, config, echo=print)
        result.update({"seeds": {"set": args.seeds, "first": specs[0].seed, "last": specs[-1].seed,
                                 "chain_seed": args.chain_seed},
                       "config": config_dict(config), **summary})
        print()
        print(table(summary))
        print(f"open-set guard {'on' if summary['open_set']['on'] else 'off'}: "
              f"{summary['open_set']['windows_withheld']} window(s) withheld")
        print(f"rhythm check {'on' if summary['rhythm_check']['on'] else 'off'}: "
              f"{summary['rhythm_check']['windows_withheld']} window(s) withheld")
        cp = summary["class_prior"]
        print("class prior " + (", ".join(f"{k} x{v:g}" for k, v in cp["weights"].items()) or "off") + ": "
              f"{cp['pathological_calls_turned_normal']} pathological window call(s) turned normal")
    result["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nbenchmark wall time {result['benchmark_wall_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
