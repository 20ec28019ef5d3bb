"""Sweep throughput: the same tiny grid on 1 local Dask worker and on all local cores.

    .venv/bin/python benchmarks/sweep.py [--trials 4] [--epochs 3] [--workers N] [--out benchmarks/results/sweep.json]

Simulates a small data directory once (``train/``, ``val/``, ``test/``: 8 s clips of six classes
at 44.1 kHz), then runs ``convert.sweep.run_sweep`` on a grid of ``--trials`` seeds of the kit's
CNN (full size, ``--epochs`` epochs, no chain copies) into a fresh results folder with 1 worker
and with ``--workers`` (default: all local cores), sharing one feature cache. Timed: the trial
phase (submission of the first trial to the last result), after every worker has imported
TensorFlow (``startup_s``, reported apart). Written: wall seconds per run, training windows
per second (windows × epochs trained, summed over trials, over the trial phase's wall time),
the speed-up (1-worker time / N-worker time, the peer in the same run) and its ratio to N.
The load average before and after is recorded: on a shared machine other jobs take cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

LABELS = ("rest", "fibrillation", "positive_sharp_wave", "complex_repetitive_discharge", "voluntary_muap",
          "myotonic_discharge")


def make_data(root: Path, clips: int, clip_s: float = 8.0) -> Path:
    """``clips`` clips per class in train/, one per class in val/ and test/ (disjoint seeds)."""
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav
    from convert.simulator import simulate_clip

    for split, n, s0 in (("train", clips, 7_000_000), ("val", 1, 7_100_000), ("test", 1, 7_200_000)):
        (root / split).mkdir(parents=True)
        for k in range(n):
            for i, label in enumerate(LABELS):
                rec = simulate_clip(label, clip_s, 44100, seed=s0 + 100 * k + i)
                write_wav(root / split / f"{label}_{k}.wav", rec.pcm, rec.sample_rate, rec.uv_per_lsb)
                write_labels_csv(root / split / f"{label}_{k}.csv", rec.segments, rec.meta.get("events", ()))
    return root


def run(grid, data: Path, results: Path, cache: Path, workers: int) -> dict:
    from convert.sweep import run_sweep

    res = run_sweep(grid, data, results, workers=workers, cache_dir=cache, log=lambda s: print(f"  [{workers}w] {s}"))
    if res["failed"]:
        raise RuntimeError(f"{res['failed']} trial(s) failed: {res['errors']}")
    metrics = [json.loads(p.read_text()) for p in sorted(results.glob("*/metrics.json"))]
    windows = sum(m["train_windows"] * m["epochs_run"] for m in metrics)
    return {
        "workers": workers, "trials": res["ran"], "startup_s": res["startup_s"], "trials_s": res["trials_s"],
        "trained_windows": windows, "windows_per_s": round(windows / res["trials_s"], 1),
        "per_trial_fit_windows_per_s": [m["windows_per_s"] for m in metrics],
        "per_trial_s": [m["seconds"] for m in metrics],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=4, help="seeds in the grid (default 4)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--clips", type=int, default=2, help="training clips per class (default 2)")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="default: all local cores")
    p.add_argument("--out", default="benchmarks/results/sweep.json")
    args = p.parse_args()
    from convert.sweep import Grid

    grid = Grid.from_dict({"base": {"model": "cnn", "epochs": args.epochs, "patience": args.epochs,
                                    "augment_copies": 0},
                           "axes": {"seed": list(range(args.trials))}})
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="emg-sweep-bench-") as tmp:
        root = Path(tmp)
        t0 = time.time()
        data = make_data(root / "data", args.clips)
        print(f"data simulated [{time.time() - t0:.0f} s]")
        one = run(grid, data, root / "r1", root / "cache", 1)
        many = run(grid, data, root / f"r{args.workers}", root / "cache", args.workers)
    speedup = one["trials_s"] / many["trials_s"]
    out = {
        "command": "python benchmarks/sweep.py " + " ".join(sys.argv[1:]),
        "grid": grid.to_dict(), "cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "one_worker": one, "all_workers": many,
        "speedup": round(speedup, 3), "speedup_per_worker": round(speedup / args.workers, 3),
        "target_speedup": round(0.7 * args.workers, 2),
        "windows_per_s_ratio": round(many["windows_per_s"] / one["windows_per_s"], 3),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"1 worker {one['trials_s']:.1f} s ({one['windows_per_s']:.0f} windows/s); {args.workers} workers "
          f"{many['trials_s']:.1f} s ({many['windows_per_s']:.0f} windows/s); speed-up {speedup:.2f} "
          f"(target {0.7 * args.workers:.1f}); load average before {load0[0]:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
