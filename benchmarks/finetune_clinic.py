"""Fine-tuning the shipped bundle to a field clinic's recording chain, against training from
scratch on the same minutes (issue 16 item 3, fourth comparison).

    .venv/bin/python benchmarks/finetune_clinic.py --out /tmp/ft16 [--minutes 2 10] [--seeds 5]
        [--ceiling-minutes 30 --ceiling-seeds 2] [--workers 2] [--json benchmarks/results/finetune_clinic.json]

The clinic: simulated monopolar-needle recordings through :data:`convert.conditions.FIELD_CHAIN`
(8 kHz, high-pass 30 Hz, low-pass 1.2 kHz, 50 Hz hum 40–120 µV, noise 10–20 µV RMS: outside
the ranges the default bundle was trained through). Labelled clinic minutes are clips of 8 s of
every class (voluntary activity ×3), one round = 14 clips = 1.87 min; ``--minutes M`` takes
round(M / 1.87) rounds on seeds 1,400,000… Every size shares one validation round (seeds
1,500,000…, for early stopping; it is labelled clinic data too) and one test set (3 rounds and
two 60 s examinations, seeds 1,600,000…), all through chains drawn from FIELD_CHAIN.

Per size, two sweeps into ``OUT/results/m<M>/`` (``emg-convert sweep``, resumable):
``benchmarks/grids/issue16_e_finetune.toml`` (the shipped bundle continued at lr 3e-4 with 2 of
4 blocks frozen, or none) and ``issue16_e_scratch.toml`` (the default CNN from scratch). The
reference "trained on that chain" is the scratch grid on ``--ceiling-minutes`` of the chain.
The shipped bundle itself is evaluated on the test set once (deterministic). The table gives
int8 macro-F1 mean ± sd over seeds, the paired difference of each fine-tuning row to scratch
(sign-flip p, :mod:`convert.sweep_summary`) and the share of the gap closed,
(fine-tuned − shipped) / (trained on the chain − shipped). Writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "benchmarks" / "grids"
ROUND_S = 14 * 8.0  # one clip per class, voluntary x3, 8 s each
SEED0 = {"train": 1_400_000, "val": 1_500_000, "test": 1_600_000}
CHAIN_SEED0 = 7_000_000
NEEDLE = "monopolar"


def rounds_for(minutes: float) -> int:
    return max(1, int(round(minutes * 60.0 / ROUND_S)))


def write_split(folder: Path, seed0: int, rounds: int, recordings: int, chain_seed0: int) -> dict:
    """Simulate, pass through the field chain and write WAV + label CSV (synth layout)."""
    from convert.conditions import FIELD_CHAIN, chain_summary, simulate, through
    from convert.labels import write_labels_csv
    from convert.recordings import write_wav

    if (folder / "done.json").is_file():
        return json.loads((folder / "done.json").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    recs, _ = simulate(seed0, rounds, 8.0, recordings, 60.0, NEEDLE, voluntary_factor=3)
    recs = through(recs, (FIELD_CHAIN,), chain_seed0)
    for i, r in enumerate(recs):
        write_wav(folder / f"r{i:03d}.wav", r.pcm, r.sample_rate, r.uv_per_lsb)
        write_labels_csv(folder / f"r{i:03d}.csv", r.segments, r.meta.get("events", ()))
    info = {"recordings": len(recs), "seconds": round(sum(len(r.pcm) / r.sample_rate for r in recs), 1),
            "seed0": seed0, "chains": chain_summary(recs)}
    (folder / "done.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def make_data(out: Path, sizes: list[float], ceiling: float) -> dict:
    """OUT/data/{val,test} shared, OUT/data/m<M>/{train, val -> ../val, test -> ../test}."""
    data = out / "data"
    info = {"val": write_split(data / "val", SEED0["val"], 1, 0, CHAIN_SEED0 + 10_000),
            "test": write_split(data / "test", SEED0["test"], 3, 2, CHAIN_SEED0 + 20_000)}
    for m in [*sizes, ceiling]:
        d = data / f"m{m:g}"
        info[f"m{m:g}"] = write_split(d / "train", SEED0["train"], rounds_for(m), 0, CHAIN_SEED0)
        for split in ("val", "test"):
            if not (d / split).exists():
                (d / split).symlink_to(Path("..") / split)
    return info


def shipped_figures(data: Path) -> dict:
    """The shipped default bundle on the clinic test set."""
    from convert import trainset
    from convert.conditions import figures
    from convert.evaluate import evaluate_windows, window_config_for
    from edge.bundle import load_bundle

    b = load_bundle("default")
    te = trainset.features(trainset.load_dir(data / "test", b.frontend_config.sample_rate, b.min_sample_rate),
                           b.frontend_config, window_config_for(b))
    return {"bundle": b.model_id, **figures(evaluate_windows(b, te.X, te.y, latency=False))}


def run_grids(results: Path, data: Path, grids: list, workers: int) -> None:
    from convert.sweep import run_sweep

    for grid in grids:
        t0 = time.time()
        res = run_sweep(grid, data, results, workers=workers, log=lambda s: print(f"  {s}", flush=True))
        print(f"  {results.name}: {res['ran']} ran, {res['skipped']} done before, {res['failed']} failed "
              f"[{time.time() - t0:.0f} s]", flush=True)
        if res["failed"]:
            raise SystemExit(f"{res['failed']} trial(s) failed in {results}: {res['errors']}")


def _grid(name: str, seeds: list[int]):
    """A grid of ``benchmarks/grids/`` with its seed axis replaced by ``seeds``."""
    from dataclasses import replace

    from convert.sweep import Grid

    g = Grid.from_toml(GRIDS / name)
    return replace(g, axes={**g.axes, "seed": seeds})


#: Rows and the resolved-config values that pick them (a from-scratch trial has no base_bundle key).
METHODS = (("scratch", {"base_bundle": None}), ("fine-tune, 2 blocks frozen", {"base_bundle": "default", "freeze_blocks": 2}),
           ("fine-tune, all layers", {"base_bundle": "default", "freeze_blocks": 0}))
FIGS = ("int8_macro_f1", "sensitivity", "specificity", "voluntary_called_pathological")


def report(out: Path, sizes: list[float], ceiling: float, shipped: dict) -> dict:
    from convert.sweep_summary import summarise

    ceil = summarise(out / "results" / f"m{ceiling:g}")["configurations"][0]["sets"]["test"]
    rows: dict = {"shipped": shipped, "trained_on_chain": {k: ceil[k] for k in FIGS}, "sizes": {}}
    base, top = shipped["int8_macro_f1"], ceil["int8_macro_f1"]["mean"]
    for m in sizes:
        s = summarise(out / "results" / f"m{m:g}", reference={"base_bundle": None})
        by = {}
        for name, sel in METHODS:
            c = next(c for c in s["configurations"]
                     if all(c["settings"].get(k, sel[k]) == v for k, v in sel.items()))
            by[name] = {k: c["sets"]["test"][k] for k in FIGS}
            f1 = by[name]["int8_macro_f1"]["mean"]
            # undefined when the model trained on the chain is no better than the shipped one
            by[name]["gap_closed"] = round((f1 - base) / (top - base), 3) if top > base else None
        rows["sizes"][f"{m:g}"] = by
    return rows


def _f(x, nd=3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def markdown(rows: dict, sizes: list[float], ceiling: float, train_info: dict) -> str:
    cols = [f"{m:g} min ({train_info[f'm{m:g}']['seconds'] / 60:.1f})" for m in sizes]
    lines = ["| int8 macro-F1 on the field-clinic test set | " + " | ".join(cols) + " |",
             "|---|" + "---|" * len(sizes)]
    sh = rows["shipped"]["int8_macro_f1"]
    lines.append(f"| shipped bundle, unchanged | " + " | ".join(f"{sh:.3f}" for _ in sizes) + " |")
    for name, _ in METHODS:
        cells = []
        for m in sizes:
            r = rows["sizes"][f"{m:g}"][name]
            f1 = r["int8_macro_f1"]
            cell = f"{_f(f1['mean'])} ± {_f(f1['sd'])}"
            p = f1.get("paired")
            if p:
                cell += f" (Δ {p['mean_diff']:+.3f}, p {p['p_sign_flip']:.3f})"
            if r["gap_closed"] is not None:
                cell += f"; gap closed {_f(r['gap_closed'], 2)}"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    c = rows["trained_on_chain"]["int8_macro_f1"]
    lines.append(f"| trained from scratch on {ceiling:g} min of the chain ({c['n']} seeds) | "
                 + " | ".join(f"{_f(c['mean'])} ± {_f(c['sd'])}" for _ in sizes) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="working folder (data, sweep results)")
    p.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0], help="clinic minutes (default 2 10)")
    p.add_argument("--seeds", type=int, default=5, help="training seeds per row (default 5)")
    p.add_argument("--ceiling-minutes", type=float, default=30.0)
    p.add_argument("--ceiling-seeds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    out = Path(args.out)
    t0 = time.time()
    info = make_data(out, args.minutes, args.ceiling_minutes)
    print(f"data ready [{time.time() - t0:.0f} s]: " + ", ".join(f"{k} {v['seconds'] / 60:.1f} min"
                                                              for k, v in info.items()), flush=True)
    shipped = shipped_figures(out / "data")
    print(f"shipped bundle on the clinic test set: int8 macro-F1 {shipped['int8_macro_f1']:.3f}", flush=True)
    seeds = list(range(args.seeds))
    for m in args.minutes:
        print(f"clinic {m:g} min", flush=True)
        run_grids(out / "results" / f"m{m:g}", out / "data" / f"m{m:g}",
                  [_grid("issue16_e_finetune.toml", seeds), _grid("issue16_e_scratch.toml", seeds)], args.workers)
    print(f"trained on the chain: {args.ceiling_minutes:g} min", flush=True)
    run_grids(out / "results" / f"m{args.ceiling_minutes:g}", out / "data" / f"m{args.ceiling_minutes:g}",
              [_grid("issue16_e_scratch.toml", list(range(args.ceiling_seeds)))], args.workers)
    rows = report(out, args.minutes, args.ceiling_minutes, shipped)
    md = markdown(rows, args.minutes, args.ceiling_minutes, info)
    print(md)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"command": "python benchmarks/finetune_clinic.py " + " ".join(
            sys.argv[1:] if argv is None else argv), "data": info, "figures": rows, "table": md,
            "seconds": round(time.time() - t0, 1)}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
