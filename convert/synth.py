"""``emg-convert synth``: build a labelled simulated corpus (WAV + labels + manifest).

Layout of ``--out DIR``::

    DIR/manifest.json                 class counts, seeds, generator version, splits, files
    DIR/<split>/<subject>_<n>.wav     int16 mono, µV per LSB in the WAV comment
    DIR/<split>/<subject>_<n>.csv     labels: start_s,end_s,label (segments, then events
                                      as rows with start_s == end_s)
    DIR/<split>/<subject>_<n>.txt     the same as an Audacity label track

Each split folder is a data directory (:mod:`convert.datadir`). Splits are disjoint by subject
(anatomy, noise, mains) and by seed. Files are built in parallel on all cores; the result does
not depend on the number of workers.

Episodes are scheduled so that every class gets about the same time across the corpus
(pathological episodes over their background, as in :func:`convert.simulator.simulate_recording`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from convert.simulator import GENERATOR_VERSION, AmplifierConfig, Subject, simulate_recording
from convert.simulator.scenes import MAX_RATE_HZ, MIN_RATE_HZ
from convert.taxonomy import LABELS, PATHOLOGICAL
from clikit import UserError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SynthConfig:
    """Corpus size and layout. ``minutes`` of audio in files of ``file_s`` seconds;
    ``files_per_subject`` recordings share one subject; ``val``/``test`` are fractions of
    subjects (each split gets at least one subject when there are three or more)."""

    minutes: float
    sample_rate: int = 44100
    seed: int = 0
    file_s: float = 30.0
    files_per_subject: int = 2
    val: float = 0.15
    test: float = 0.15

    def __post_init__(self) -> None:
        if not (0.0 < self.minutes <= 10_000):
            raise ValueError(f"minutes = {self.minutes}: allowed range is >0..10000")
        if not (MIN_RATE_HZ <= self.sample_rate <= MAX_RATE_HZ):
            raise ValueError(f"sample_rate = {self.sample_rate}: allowed range is {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz")
        if self.seed < 0:
            raise ValueError(f"seed = {self.seed}: must be >= 0")
        if not (5.0 <= self.file_s <= 600.0):
            raise ValueError(f"file_s = {self.file_s}: allowed range is 5..600 s")
        if not (1 <= self.files_per_subject <= 1000):
            raise ValueError(f"files_per_subject = {self.files_per_subject}: allowed range is 1..1000")
        for name in ("val", "test"):
            if not (0.0 <= getattr(self, name) < 0.5):
                raise ValueError(f"{name} = {getattr(self, name)}: allowed range is 0..0.5 (fraction of subjects)")


def _episode_length(rng: np.random.Generator, label: str) -> float:
    if label == "insertional":
        return float(rng.uniform(1.5, 4.0))
    if label in PATHOLOGICAL:
        return float(rng.uniform(3.0, 8.0))  # abnormal activity persists > 3 s (CW, StatPearls)
    return float(rng.uniform(2.0, 6.0))


def plan_corpus(cfg: SynthConfig) -> list[dict]:
    """Every file's subject, seed, split and episode plan; deterministic from ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 0xC0A9])
    n_files = max(1, math.ceil(cfg.minutes * 60.0 / cfg.file_s))
    n_subjects = max(1, math.ceil(n_files / cfg.files_per_subject))
    # Distinct seeds for subjects and for files (splits disjoint by seed as well as subject).
    seeds = rng.choice(2**31 - 1, size=n_subjects + n_files, replace=False)
    subject_seeds, file_seeds = seeds[:n_subjects], seeds[n_subjects:]
    n_test = round(cfg.test * n_subjects)
    n_val = round(cfg.val * n_subjects)
    if n_subjects >= 3:
        n_test, n_val = max(n_test, 1 if cfg.test > 0 else 0), max(n_val, 1 if cfg.val > 0 else 0)
    split_of = ["test"] * n_test + ["val"] * n_val + ["train"] * (n_subjects - n_test - n_val)
    # Class schedule: shuffled rounds of all classes, so every class gets a similar share.
    queue: list[str] = []
    files = []
    total_s = cfg.minutes * 60.0
    for i in range(n_files):
        dur = min(cfg.file_s, total_s - i * cfg.file_s)
        plan, t = [], 0.0
        while t < dur - 1e-9:
            if not queue:
                queue = list(rng.permutation(LABELS))
            label = str(queue.pop())
            d = min(_episode_length(rng, label), dur - t)
            plan.append([label, round(d, 6)])  # lists: the manifest (JSON) round-trips
            t += d
        s = i // cfg.files_per_subject
        subj = Subject.draw(int(subject_seeds[s]))
        files.append({
            "index": i, "split": split_of[s], "subject_id": subj.subject_id,
            "subject_seed": int(subject_seeds[s]), "seed": int(file_seeds[i]),
            "duration_s": round(dur, 6), "plan": plan,
            "path": f"{split_of[s]}/{subj.subject_id}_{i:05d}.wav",
        })
    return files


def _build_one(job: dict, out: str, sample_rate: int) -> dict:
    """Worker: simulate one file and write WAV + both label files; return its counts."""
    from convert.labels import write_audacity_labels, write_labels_csv
    from convert.recordings import write_wav

    rec = simulate_recording(job["seed"], job["duration_s"], sample_rate, plan=job["plan"],
                             subject=Subject.draw(job["subject_seed"]))
    wav = Path(out) / job["path"]
    wav.parent.mkdir(parents=True, exist_ok=True)
    write_wav(wav, rec.pcm, rec.sample_rate, uv_per_lsb=rec.uv_per_lsb)
    events = rec.meta["events"]
    write_labels_csv(wav.with_suffix(".csv"), rec.segments, events)
    write_audacity_labels(wav.with_suffix(".txt"), rec.segments, events)
    seconds = {label: 0.0 for label in LABELS}
    track = np.bincount(rec.label_track(), minlength=len(LABELS))
    for k, label in enumerate(LABELS):
        seconds[label] = float(track[k]) / sample_rate
    counts = {label: 0 for label in LABELS}
    for _, label in events:
        counts[label] += 1
    return {"index": job["index"], "seconds": seconds, "events": counts,
            "clipped_samples": rec.meta["clipped_samples"]}


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in the train extra; without it, no bar
        return None
    return tqdm(total=total, unit="file", desc="synth", file=sys.stderr)


def build_corpus(out: str | Path, cfg: SynthConfig, workers: int | None = None, force: bool = False,
                 progress: bool = True) -> dict:
    """Write the corpus to ``out``; returns the manifest (also written to manifest.json)."""
    out = Path(out)
    if (out / "manifest.json").exists():
        if not force:
            raise UserError(f"{out} already holds a corpus (manifest.json); use --force to replace it")
        for split in SPLITS:
            shutil.rmtree(out / split, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan_corpus(cfg)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = _progress(len(jobs)) if progress else None
    results: dict[int, dict] = {}
    try:
        if workers == 1:
            for job in jobs:
                results[job["index"]] = _build_one(job, str(out), cfg.sample_rate)
                if bar:
                    bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_build_one, job, str(out), cfg.sample_rate) for job in jobs]
                for fut in as_completed(futures):
                    r = fut.result()
                    results[r["index"]] = r
                    if bar:
                        bar.update(1)
    finally:
        if bar:
            bar.close()
    splits = {}
    for split in SPLITS:
        sj = [j for j in jobs if j["split"] == split]
        sec = {label: round(sum(results[j["index"]]["seconds"][label] for j in sj), 3) for label in LABELS}
        ev = {label: sum(results[j["index"]]["events"][label] for j in sj) for label in LABELS}
        splits[split] = {
            "subjects": sorted({j["subject_id"] for j in sj}),
            "subject_seeds": sorted({j["subject_seed"] for j in sj}),
            "seeds": sorted(j["seed"] for j in sj),
            "files": len(sj),
            "seconds": round(sum(j["duration_s"] for j in sj), 3),
            "class_seconds": sec,
            "class_events": ev,
        }
    manifest = {
        "generator": "convert.simulator",
        "generator_version": GENERATOR_VERSION,
        "config": asdict(cfg),
        "sample_rate": cfg.sample_rate,
        "uv_per_lsb": AmplifierConfig().uv_per_lsb,
        "amplifier": asdict(AmplifierConfig()),
        "labels": list(LABELS),
        "label_files": {"csv": "start_s,end_s,label; events as rows with start_s == end_s",
                        "audacity": "tab-separated start, end, label"},
        "splits": splits,
        "class_seconds": {label: round(sum(splits[s]["class_seconds"][label] for s in SPLITS), 3) for label in LABELS},
        "clipped_samples": int(sum(r["clipped_samples"] for r in results.values())),
        "files": [{k: j[k] for k in ("path", "split", "subject_id", "subject_seed", "seed", "duration_s", "plan")}
                  for j in jobs],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _run(args: argparse.Namespace) -> int:
    try:
        cfg = SynthConfig(minutes=args.minutes, sample_rate=args.sample_rate, seed=args.seed, file_s=args.file_seconds,
                          files_per_subject=args.files_per_subject, val=args.val, test=args.test)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    m = build_corpus(args.out, cfg, workers=args.workers, force=args.force, progress=not args.quiet)
    n = sum(s["files"] for s in m["splits"].values())
    print(f"wrote {n} files ({cfg.minutes:g} min at {cfg.sample_rate} Hz) to {args.out}: "
          + ", ".join(f"{s} {m['splits'][s]['files']} files / {len(m['splits'][s]['subjects'])} subjects" for s in SPLITS))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("synth", help="build a labelled simulated corpus (WAV + CSV/Audacity labels + manifest)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--minutes", type=float, required=True, help="total audio, minutes")
    p.add_argument("--sample-rate", type=int, default=44100, help="Hz, 8000–48000 (default 44100)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--file-seconds", type=float, default=30.0, help="length of each WAV, s (default 30)")
    p.add_argument("--files-per-subject", type=int, default=2, help="recordings per simulated subject (default 2)")
    p.add_argument("--val", type=float, default=0.15, help="fraction of subjects for validation (default 0.15)")
    p.add_argument("--test", type=float, default=0.15, help="fraction of subjects for test (default 0.15)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="replace an existing corpus in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
