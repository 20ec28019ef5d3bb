"""Edge runtime benchmark: speed through the bridge, alert latency, memory on long runs.

    .venv/bin/python benchmarks/runtime.py [--bundle default] [--minutes 30] [--parts rtf,latency,memory]

Writes ``benchmarks/results/runtime.json``. Three measurements, in one run:

1. **rtf** — whole pipeline on one core (CPU affinity pinned, one interpreter thread): a
   simulated 44.1 kHz recording is encoded as SAMPLES frames (COBS + CRC-32, the real wire
   format), decoded by ``firmware_bridge.codec.Decoder`` and run through the service
   (reader thread, queue, front-end, windows, int8 LiteRT, smoothing, detector, outbox).
   Real-time factor = audio seconds / wall seconds (target >= 100x); ``rtf_cpu`` = audio
   seconds / process CPU seconds, less disturbed by other load on a shared machine. Peers in the same run: the
   same samples fed straight to the pipeline without the bridge (front-end + inference), the
   whole pipeline with XNNPACK, the whole pipeline without the compiled accelerators (numpy
   front-end, Python COBS decoder: a device where nothing could be compiled), and real time
   itself (ratio 1).
2. **latency** — the virtual amplifier streams a recording with pathological discharges at
   real-time speed over a pseudo-terminal; the runtime runs in-process on it. Latency = wall
   time when the unit received the alert minus the wall time the unit's clock reached the
   episode's onset sample (target <= window length + 250 ms).
3. **memory** — ``emg-edge run --speed max`` (a separate process, the real CLI) on a WAV of
   ``--minutes`` simulated minutes; RSS is sampled from /proc every 0.25 s. Reported: peak
   RSS (target <= 150 MB) and growth from the end of the first 10 % of the stream to the end
   (target < 5 MB), as medians over 10–20 % and 85–95 % of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# One BLAS thread for the peer too, as the service holds itself to (edge.runtime.service.run).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge import codec as P  # noqa: E402
from firmware_bridge.host.source import SampleBlock  # noqa: E402

from edge.bundle import load_bundle  # noqa: E402
from edge.runtime.config import RuntimeConfig  # noqa: E402
from edge.runtime.pipeline import Pipeline  # noqa: E402
from edge.runtime.service import COALESCE_S, RuntimeOptions, run  # noqa: E402

RATE = 44100
PATHOLOGY_PLAN = [
    ("rest", 4.0), ("fibrillation", 5.0), ("rest", 5.0), ("complex_repetitive_discharge", 4.0),
    ("voluntary_muap", 5.0), ("myotonic_discharge", 4.0), ("rest", 5.0), ("positive_sharp_wave", 5.0),
    ("rest", 5.0), ("myokymic_discharge", 4.0), ("rest", 5.0), ("neuromyotonic_discharge", 2.0), ("rest", 5.0),
    ("fasciculation", 6.0), ("rest", 4.0),
]


def simulate(seed: int, seconds: float, plan=None):
    from convert.simulator import simulate_recording

    return simulate_recording(seed, seconds, RATE, plan=plan)


class WireSource:
    """A byte stream of SAMPLES frames decoded by the bridge decoder, as a SampleSource."""

    def __init__(self, wire: bytes, sample_rate: int, n_samples: int, chunk: int = 4096) -> None:
        self.sample_rate = sample_rate
        self.uv_per_lsb = 1.0
        self.n_samples = n_samples
        self._wire = memoryview(wire)
        self._pos = 0
        self._chunk = chunk
        self._dec = P.Decoder()
        self._pending: list = []
        self.stats = self._dec.stats

    def read_block(self, timeout=None):
        while not self._pending:
            if self._pos >= len(self._wire):
                raise EOFError("end of wire")
            data = self._wire[self._pos:self._pos + self._chunk]
            self._pos += len(data)
            self._pending = [f for f in self._dec.feed(bytes(data)) if isinstance(f, P.Samples)]
        f = self._pending.pop(0)
        return SampleBlock(f.first_index, f.samples, 0)

    def close(self):
        pass


def encode_wire(pcm: np.ndarray, per_frame: int = 441) -> bytes:
    parts = []
    for seq, i in enumerate(range(0, pcm.size, per_frame)):
        parts.append(P.encode(P.Samples(i, pcm[i:i + per_frame], seq=seq & 0xFFFFFFFF)))
    return b"".join(parts)


def pin_one_core() -> int | None:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return cpu
    return None


def bench_rtf(bundle_name: str, seconds: float) -> dict:
    bundle = load_bundle(bundle_name)
    rec = simulate(11, seconds, PATHOLOGY_PLAN)
    pcm = rec.pcm
    wire = encode_wire(pcm)
    # Peer: the bare chain (front-end + windows + inference + smoothing + detector), no bridge.
    from edge.inference import Int8Classifier

    clf = Int8Classifier(bundle)
    pipe = Pipeline(bundle, clf, RuntimeConfig(), RATE)
    step = int(COALESCE_S * RATE)  # the largest call the service makes, so only the bridge differs
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, pcm.size, step):
        pipe.feed(SampleBlock(i, pcm[i:i + step], 0))
    bare_wall, bare_cpu = time.perf_counter() - t0, time.process_time() - c0
    # Whole pipeline through the decoder and the service loop.
    src = WireSource(wire, RATE, pcm.size)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = run(RuntimeOptions(bundle=bundle, source=src, classifier=Int8Classifier(bundle), speed=None,
                                 install_signal_handlers=False, stats_every_s=0))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    audio = pcm.size / RATE
    # The same with the XNNPACK delegate (--xnnpack): faster kernels, not bit-exact.
    src = WireSource(wire, RATE, pcm.size)
    t0 = time.perf_counter()
    run(RuntimeOptions(bundle=bundle, source=src, classifier=Int8Classifier(bundle, xnnpack=True), speed=None,
                       install_signal_handlers=False, stats_every_s=0))
    wall_x = time.perf_counter() - t0
    # Peer: the same without the compiled accelerators (numpy front-end, Python COBS decoder),
    # as on a device where nothing could be compiled at install time.
    from edge.frontend import Frontend
    from firmware_bridge.codec import cobs

    with cobs.python_decoder():
        src = WireSource(wire, RATE, pcm.size)
        t0 = time.perf_counter()
        run(RuntimeOptions(bundle=bundle, source=src, classifier=Int8Classifier(bundle), speed=None,
                           frontend=Frontend(bundle.frontend_config, kernel="numpy"),
                           install_signal_handlers=False, stats_every_s=0))
        wall_pure = time.perf_counter() - t0
    # Where the time goes: the bridge decoder alone.
    src = WireSource(wire, RATE, pcm.size)
    t0 = time.perf_counter()
    try:
        while True:
            src.read_block()
    except EOFError:
        pass
    wall_dec = time.perf_counter() - t0
    return {
        "whole_pipeline_xnnpack": {"wall_s": wall_x, "rtf": audio / wall_x},
        "whole_pipeline_without_accelerators": {"wall_s": wall_pure, "rtf": audio / wall_pure,
                                                "frontend": "numpy", "cobs": "python"},
        "accelerators": {"frontend_kernel": Frontend(bundle.frontend_config).kernel,
                         "cobs_compiled": cobs.ACCELERATED},
        "component_bridge_decoder": {"wall_s": wall_dec, "rtf": audio / wall_dec},
        "audio_s": audio, "wire_bytes": len(wire),
        "whole_pipeline": {"wall_s": wall, "cpu_s": cpu, "rtf": audio / wall, "rtf_cpu": audio / cpu,
                           "cpu_per_audio_s": cpu / audio,
                           "alerts": summary.alerts_raised, "windows": summary.windows},
        "peer_bare_frontend_inference": {"wall_s": bare_wall, "cpu_s": bare_cpu, "rtf": audio / bare_wall,
                                         "rtf_cpu": audio / bare_cpu},
        "peer_real_time": {"rtf": 1.0},
        "ratio_whole_to_bare": (audio / wall) / (audio / bare_wall),
        "target_rtf": 100.0,
        "meets_target": audio / wall >= 100.0,
    }


def bench_latency(bundle_name: str) -> dict:
    from firmware_bridge.sim.virtual_amp import VirtualAmplifier

    bundle = load_bundle(bundle_name)
    plan = [("rest", 4.0), ("complex_repetitive_discharge", 3.0), ("rest", 6.0), ("myotonic_discharge", 3.0),
            ("rest", 6.0), ("fibrillation", 4.0), ("rest", 5.0), ("myokymic_discharge", 4.0), ("rest", 5.0),
            ("positive_sharp_wave", 4.0), ("rest", 5.0), ("neuromyotonic_discharge", 2.0), ("rest", 5.0)]
    rec = simulate(23, sum(d for _, d in plan), plan)
    episodes: list[tuple[float, float, str]] = []
    for seg in sorted(rec.segments, key=lambda x: x.start_s):
        if seg.label not in bundle.pathological:
            continue
        if episodes and episodes[-1][2] == seg.label and seg.start_s - episodes[-1][1] < 1.0:
            episodes[-1] = (episodes[-1][0], seg.end_s, seg.label)  # bursts of one discharge: one episode
        else:
            episodes.append((seg.start_s, seg.end_s, seg.label))
    received: list[tuple[float, P.Alert]] = []
    amp = VirtualAmplifier(rec.pcm, RATE, rec.uv_per_lsb, speed=1.0,
                           on_alert=lambda a: received.append((time.monotonic(), a)))
    path = amp.start()
    stop = threading.Event()
    try:
        summary = run(RuntimeOptions(bundle=bundle, source=f"serial:{path}", install_signal_handlers=False,
                                     stats_every_s=0, stop_event=stop))
    finally:
        amp.stop()
    t_clock0 = getattr(amp, "_clock_t0", None)  # the unit's sample clock start (monotonic)
    window_s = bundle.window_span_samples / bundle.sample_rate
    rows = []
    used: set[int] = set()
    for start, end, label in episodes:
        hits = [(t, a) for t, a in received if a.label == label and a.onset / RATE <= end + 1.0
                and a.offset / RATE >= start - 1.0 and a.alert_id not in used]
        if hits:
            used.add(hits[0][1].alert_id)
        if not hits or t_clock0 is None:
            rows.append({"label": label, "onset_s": start, "detected": False})
            continue
        t, a = hits[0]
        rows.append({"label": label, "onset_s": start, "detected": True, "alert_id": a.alert_id,
                     "latency_s": round(t - (t_clock0 + start), 3),
                     "stream_latency_s": round(a.offset / RATE - start, 3)})
    lats = [r["latency_s"] for r in rows if r.get("detected")]
    return {
        "episodes": rows, "window_s": window_s, "target_s": window_s + 0.25,
        "max_latency_s": max(lats) if lats else None, "median_latency_s": float(np.median(lats)) if lats else None,
        "meets_target": bool(lats) and max(lats) <= window_s + 0.25,
        "within_target": sum(1 for x in lats if x <= window_s + 0.25), "detected": len(lats),
        "runtime_overhead_s": [round(r["latency_s"] - r["stream_latency_s"], 3) for r in rows if r.get("detected")],
        "alerts_received": len(received), "run_reason": summary.reason,
    }


def _rss_kb(pid: int) -> tuple[int, int]:
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def bench_memory(bundle_name: str, minutes: float) -> dict:
    from firmware_bridge.host.source import WavSource  # noqa: F401 - the CLI reads it
    import wave

    base = simulate(31, 60.0, PATHOLOGY_PLAN[:9] + [("rest", 12.0)]).pcm
    reps = int(round(minutes))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            for _ in range(reps):
                w.writeframes(base.astype("<i2").tobytes())
        cmd = [sys.executable, "-m", "edge.cli", "run", "--bundle", bundle_name, "--source", f"wav:{wav}",
               "--speed", "max", "--alerts-jsonl", str(Path(tmp) / "alerts.jsonl"),
               "--outbox", str(Path(tmp) / "outbox.sqlite"), "--stats-every", "5"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        hwm = 0
        while proc.poll() is None:
            try:
                rss, hwm = _rss_kb(proc.pid)
                samples.append((time.perf_counter() - t0, rss))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.25)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        n_alerts = len((Path(tmp) / "alerts.jsonl").read_text().splitlines()) if (Path(tmp) / "alerts.jsonl").exists() else 0
    if proc.returncode != 0 or len(samples) < 4:
        return {"error": f"exit {proc.returncode}: {err[-1500:]}"}
    t_end = samples[-1][0]
    after_warmup = [r for t, r in samples if t >= 0.1 * t_end]
    # Medians over 10-20 % and 85-95 % of the run: the last samples are the process tearing down.
    start_rss = float(np.median([r for t, r in samples if 0.1 * t_end <= t <= 0.2 * t_end]))
    end_rss = float(np.median([r for t, r in samples if 0.85 * t_end <= t <= 0.95 * t_end]))
    return {
        "audio_s": reps * 60.0, "wall_s": wall, "rtf": reps * 60.0 / wall, "exit_code": proc.returncode,
        "alerts": n_alerts,
        "rss_peak_mb": round(max(hwm, max(r for _, r in samples)) / 1024, 2),
        "rss_10_20pct_median_mb": round(start_rss / 1024, 2), "rss_85_95pct_median_mb": round(end_rss / 1024, 2),
        "rss_growth_mb": round((end_rss - start_rss) / 1024, 2),
        "rss_max_after_10pct_mb": round(max(after_warmup) / 1024, 2),
        "targets": {"rss_peak_mb": 150, "rss_growth_mb": 5},
        "meets_target": max(hwm, max(r for _, r in samples)) / 1024 <= 150 and (end_rss - start_rss) / 1024 < 5,
        "last_stats_line": next((ln for ln in reversed(err.splitlines()) if "stats:" in ln), ""),
    }


def print_summary(result: dict) -> None:
    """One table of the headline figures against their targets."""
    rows = []
    if "rtf" in result:
        r = result["rtf"]
        rows += [("whole pipeline through the decoder, one core", f"{r['whole_pipeline']['rtf']:.0f}x real time "
                  f"({r['whole_pipeline']['rtf_cpu']:.0f}x by CPU time)", ">= 100x"),
                 ("  same with XNNPACK", f"{r['whole_pipeline_xnnpack']['rtf']:.0f}x", ""),
                 ("  same without compiled accelerators", f"{r['whole_pipeline_without_accelerators']['rtf']:.0f}x", ""),
                 ("  peer: front-end + inference, no bridge", f"{r['peer_bare_frontend_inference']['rtf']:.0f}x", ""),
                 ("  bridge decoder alone", f"{r['component_bridge_decoder']['rtf']:.0f}x", "")]
    if "latency" in result:
        lat = result["latency"]
        per = ", ".join(f"{e['label']} {e['latency_s']:.2f}" if e.get("detected") else f"{e['label']} missed"
                        for e in lat["episodes"])
        rows.append(("onset to alert at the unit, real time (s)", per, f"<= {lat['target_s']:.3f} s"))
    if "memory" in result:
        m = result["memory"]
        rows += [("peak RSS", f"{m.get('rss_peak_mb', float('nan')):.1f} MB", "<= 150 MB"),
                 ("RSS growth over the run", f"{m.get('rss_growth_mb', float('nan')):+.2f} MB", "< 5 MB")]
    width = max(len(a) for a, _, _ in rows) if rows else 0
    for a, b, c in rows:
        print(f"{a:<{width}}  {b}  {c}".rstrip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--seconds", type=float, default=120.0, help="audio for the rtf part (s)")
    ap.add_argument("--minutes", type=float, default=30.0, help="simulated minutes for the memory part")
    ap.add_argument("--parts", default="rtf,latency,memory")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "runtime.json"))
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    result: dict = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "note": "shared 2-vCPU x86_64 VM, not a Raspberry Pi"},
        "bundle": args.bundle, "model_id": load_bundle(args.bundle).model_id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if "memory" in parts:  # before pinning: the child process measures itself
        result["memory"] = bench_memory(args.bundle, args.minutes)
        print("memory:", json.dumps(result["memory"]))
    if "latency" in parts:
        result["latency"] = bench_latency(args.bundle)
        print("latency:", json.dumps(result["latency"]))
    if "rtf" in parts:
        result["rtf"] = {"cpu": pin_one_core(), **bench_rtf(args.bundle, args.seconds)}
        print("rtf:", json.dumps(result["rtf"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print_summary(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
