"""Realism check (issue 11): simulated normal voluntary activity vs PhysioNet emg_healthy.

    .venv/bin/python benchmarks/realism.py [--seeds 6] [--seconds 10] [--out benchmarks/results/realism.json] [--figure docs/realism.png]

Writes the comparison of convert.realism (amplitude percentiles, Welch octaves and log-Mel
levels relative to band 0, turns/amplitude) as JSON, the failed tolerances, and a figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from convert import realism as R  # noqa: E402
from convert.simulator import GENERATOR_VERSION  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/realism.json"))
    ap.add_argument("--figure", default=str(ROOT / "docs/realism.png"))
    a = ap.parse_args()
    real = R.load_physionet(ROOT / "tests/data/physionet-emgdb/emg_healthy")
    sims = R.simulated_voluntary(range(a.seeds), a.seconds)
    res = R.compare(real, sims)
    res["generator_version"] = GENERATOR_VERSION
    res["failed_tolerances"] = R.check(res)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("real", "sim", "failed_tolerances")}, indent=1))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(12, 7))
    t = np.arange(8000) / R.REAL_RATE
    ax[0, 0].plot(t, real[:8000], lw=0.5, label="real emg_healthy")
    ax[0, 0].plot(t, sims[0][:8000] - 800, lw=0.5, label="sim (offset −800 µV)")
    ax[0, 0].set(xlabel="s", ylabel="µV", title="first 2 s at 4 kHz")
    ax[0, 0].legend(fontsize=7)
    ax[0, 1].plot(res["mel_bands"], res["real"]["mel_db"], "o-", label="real")
    ax[0, 1].plot(res["mel_bands"], res["sim"]["mel_db"], "o-", label=f"sim {GENERATOR_VERSION}")
    ax[0, 1].set(xlabel="Mel band (default bundle)", ylabel="dB re band 0", title="front-end log-Mel")
    ax[0, 1].legend(fontsize=7)
    oc = [f"{lo}-{hi}" for lo, hi in R.OCTAVES_HZ]
    ax[1, 0].plot(oc, res["real"]["welch_octaves_db"], "o-", label="real")
    ax[1, 0].plot(oc, res["sim"]["welch_octaves_db"], "o-", label="sim")
    ax[1, 0].set(xlabel="Hz", ylabel="dB re band 0", title="Welch PSD, octaves")
    ax[1, 0].legend(fontsize=7)
    for name, parts in (("real", [real]), ("sim", sims)):
        ta = np.concatenate([R.turns_amplitude(p) for p in parts])
        ax[1, 1].scatter(ta[:, 1], ta[:, 0], s=5, alpha=0.5, label=name)
    ax[1, 1].set(xlabel="mean amplitude between turns, µV", ylabel="turns/s", title="turns/amplitude, 100 ms epochs")
    ax[1, 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.figure, dpi=90)


if __name__ == "__main__":
    main()
