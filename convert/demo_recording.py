"""Make the demo's shipped recording: ``python -m convert.demo_recording [--out DIR]``.

A scripted examination of one simulated subject (seed :data:`DEMO_SEED`, outside every seed
range the default bundle was trained, validated or tested on) at 44.1 kHz: rest, insertional
activity, endplate noise and spikes, voluntary motor units, and two episodes of every
pathological class, separated by normal activity. Writes ``demo.wav`` (16-bit, µV per LSB in
its comment), ``demo.labels.csv`` (ground truth, ``start_s,end_s,label``) and ``demo.json``
(rate, µV per LSB, generator version, seed, plan, sha256 of the WAV) to ``edge/demo/data``.
Deterministic: the same kit version makes the same bytes (a test checks it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from convert.labels import write_labels_csv
from convert.recordings import write_wav
from convert.simulator import GENERATOR_VERSION, simulate_recording

DEMO_SEED = 9_000_001
SAMPLE_RATE = 44100

#: (label, duration s). Pathological episodes last 5–9 s (abnormal spontaneous activity
#: persists > 3 s, clinical-waveforms.md §2), neuromyotonic discharges 2 s (0.5–2 s bursts);
#: at least 4 s of normal activity separates them so that each is a distinct event.
DEMO_PLAN: tuple[tuple[str, float], ...] = (
    ("rest", 4.0), ("insertional", 0.8), ("rest", 3.2),
    ("fibrillation", 8.0), ("rest", 4.0), ("voluntary_muap", 6.0),
    ("positive_sharp_wave", 8.0), ("endplate_noise", 5.0),
    ("fasciculation", 9.0), ("rest", 4.0), ("insertional", 0.6), ("rest", 3.4),
    ("complex_repetitive_discharge", 7.0), ("endplate_spike", 5.0),
    ("myotonic_discharge", 6.0), ("rest", 4.0), ("voluntary_muap", 5.0),
    ("myokymic_discharge", 8.0), ("endplate_noise", 5.0),
    ("neuromyotonic_discharge", 2.0), ("rest", 5.0), ("insertional", 0.5), ("rest", 3.5),
    ("positive_sharp_wave", 7.0), ("voluntary_muap", 5.0),
    ("myokymic_discharge", 7.0), ("rest", 4.0), ("endplate_spike", 5.0),
    ("fibrillation", 7.0), ("endplate_noise", 5.0),
    ("neuromyotonic_discharge", 2.0), ("rest", 4.0), ("voluntary_muap", 5.0),
    ("complex_repetitive_discharge", 6.0), ("rest", 4.0), ("insertional", 0.7), ("rest", 3.3),
    ("myotonic_discharge", 5.0), ("endplate_noise", 5.0),
    ("fasciculation", 9.0), ("rest", 5.0),
)
DURATION_S = sum(d for _, d in DEMO_PLAN)


def make(out_dir: Path) -> dict:
    rec = simulate_recording(DEMO_SEED, DURATION_S, SAMPLE_RATE, plan=DEMO_PLAN)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / "demo.wav"
    write_wav(wav, rec.pcm, rec.sample_rate, uv_per_lsb=rec.uv_per_lsb)
    write_labels_csv(out_dir / "demo.labels.csv", rec.segments)
    info = {
        "sample_rate": rec.sample_rate,
        "uv_per_lsb": rec.uv_per_lsb,
        "duration_s": rec.duration_s,
        "generator": "convert.simulator",
        "generator_version": GENERATOR_VERSION,
        "seed": DEMO_SEED,
        "subject_id": rec.meta.get("subject_id"),
        "plan": [list(p) for p in DEMO_PLAN],
        "made_by": "python -m convert.demo_recording",
        "sha256": hashlib.sha256(wav.read_bytes()).hexdigest(),
    }
    (out_dir / "demo.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    default = Path(__file__).resolve().parent.parent / "edge" / "demo" / "data"
    p = argparse.ArgumentParser(prog="python -m convert.demo_recording", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=default, help=f"output folder (default {default})")
    info = make(p.parse_args(argv).out)
    print(f"wrote {info['duration_s']:.1f} s at {info['sample_rate']} Hz, sha256 {info['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
