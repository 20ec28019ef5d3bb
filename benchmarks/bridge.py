"""Wire-protocol benchmark: Python decoder throughput and encoder overhead.

    .venv/bin/python benchmarks/bridge.py [--seconds 20] [--rate 48000] [--spf 480]

Writes ``benchmarks/results/bridge.json``. One core, one thread (CPU affinity pinned where
the OS allows). The stream is ``--seconds`` of synthetic 16-bit needle-EMG-like signal at
``--rate`` Hz (quiet baseline of sigma 40 LSB = 20 µV at 0.5 µV/LSB, which has many 0x00
bytes and so is the hard case for COBS, plus bursts of large spikes), framed as SAMPLES of
``--spf`` samples with a HEARTBEAT every 250 ms, exactly as a unit sends it.

Measured:
* encoder: wire overhead in percent of the sample bytes (SAMPLES only, and with heartbeats),
  for several frame sizes, next to the worst case from PROTOCOL.md §9; encode speed;
* Python ``Decoder`` throughput as a multiple of the real-time stream (target >= 20x) for
  serial-sized reads (4096 B) and USB-packet-sized reads (64 B), as installed (COBS blocks
  decoded by the firmware's C decoder bound as ``firmware_bridge.codec._ccodec`` when it is built)
  and with the pure-Python COBS decoder forced;
* peers in the same run: the C decoder (firmware_bridge/c, built with ``cc -O2``, byte at a
  time, CPU time from clock()) and a naive pure-Python byte-at-a-time decoder (the C
  algorithm transliterated) to show what the vectorised decoder gains.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge.codec import cobs  # noqa: E402
from firmware_bridge import codec as P  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass


def emg_like(seconds: float, rate: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = rng.normal(0.0, 40.0, n)
    # Bursts of biphasic spikes (motor-unit-like), a few hundred per second during bursts.
    width = max(2, rate // 2000)
    kernel = np.concatenate([np.hanning(width), -0.6 * np.hanning(2 * width)])
    for start in range(0, n, rate):
        if rng.random() < 0.5:
            continue
        idx = start + rng.integers(0, rate // 2, size=rng.integers(50, 300))
        spikes = np.zeros(n)
        spikes[idx[idx < n]] = rng.uniform(500, 4000, size=(idx < n).sum())
        x += np.convolve(spikes, kernel, mode="same")
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def frame_stream(pcm: np.ndarray, rate: int, spf: int, heartbeats: bool = True) -> tuple[bytes, float]:
    """Wire bytes of the whole stream and the encode time in seconds."""
    parts = []
    seq = 0
    hb_every = rate // 4
    next_hb = 0
    t0 = time.perf_counter()
    for first in range(0, len(pcm) - spf + 1, spf):
        if heartbeats and first >= next_hb:
            parts.append(P.encode(P.Heartbeat(first * 1000 // rate, 1, first, 0, seq=seq)))
            seq += 1
            next_hb += hb_every
        parts.append(P.encode(P.Samples(first, pcm[first:first + spf], seq=seq)))
        seq += 1
    wire = b"".join(parts)
    return wire, time.perf_counter() - t0


def worst_case_wire(spf: int) -> int:
    inner = P.HEADER_SIZE + 8 + 2 * spf + P.CRC_SIZE
    return inner + math.ceil(inner / 254) + 1


def time_python_decoder(wire: bytes, chunk: int, repeats: int = 3) -> tuple[float, int]:
    best, frames = float("inf"), 0
    for _ in range(repeats):
        dec = P.Decoder()
        t0 = time.perf_counter()
        n = 0
        for i in range(0, len(wire), chunk):
            n += len(dec.feed(wire[i:i + chunk]))
        best = min(best, time.perf_counter() - t0)
        frames = n
    return best, frames


class NaiveDecoder:
    """Byte-at-a-time decoder in pure Python (the C algorithm); a peer, not for use."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skipping = False

    def feed(self, data: bytes) -> int:
        frames = 0
        for b in data:
            if b == 0:
                if self.skipping:
                    self.skipping = False
                elif self.buf:
                    frames += self._finish(bytes(self.buf))
                    self.buf.clear()
            elif self.skipping:
                pass
            elif len(self.buf) >= P.MAX_ENCODED:
                self.buf.clear()
                self.skipping = True
            else:
                self.buf.append(b)
        return frames

    @staticmethod
    def _finish(block: bytes) -> int:
        try:
            body = cobs._decode_loop(block)
        except cobs.CobsError:
            return 0
        if len(body) < 14 or zlib.crc32(body[:-4]) != int.from_bytes(body[-4:], "little"):
            return 0
        ftype = body[1]
        payload = body[10:-4]
        if ftype == P.FrameType.SAMPLES:
            np.frombuffer(payload, "<i2", offset=8).astype(np.int16)
        return 1


def c_decoder_seconds(wire: bytes, audio_seconds: float) -> dict | None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    c_dir = ROOT / "firmware_bridge" / "c"
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "emg_proto_tool"
        subprocess.run([cc, "-std=c99", "-O2", "-o", str(exe), str(c_dir / "emg_proto_tool.c"),
                        str(c_dir / "emg_proto.c")], check=True)
        reps = 1
        while True:
            out = subprocess.run([str(exe), "bench", str(reps)], input=wire, capture_output=True,
                                 check=True).stdout.decode()
            fields = dict(kv.split("=") for kv in out.split())
            secs = float(fields["seconds"])
            if secs >= 0.3 or reps >= 1024:
                break
            reps *= 4
    return {"compiler": Path(cc).name, "flags": "-std=c99 -O2", "repeats": reps, "cpu_seconds": secs,
            "frames": int(fields["frames"]) // reps,
            "x_realtime": audio_seconds * reps / secs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="stream length, s")
    ap.add_argument("--rate", type=int, default=48000, help="sample rate, Hz")
    ap.add_argument("--spf", type=int, default=480, help="samples per SAMPLES frame")
    ap.add_argument("--out", type=Path, default=RESULTS / "bridge.json")
    args = ap.parse_args(argv)
    pin_one_core()

    pcm = emg_like(args.seconds, args.rate)
    audio_s = len(pcm) / args.rate
    sample_bytes = 2 * (len(pcm) // args.spf) * args.spf

    wire, enc_s = frame_stream(pcm, args.rate, args.spf)
    samples_only, _ = frame_stream(pcm, args.rate, args.spf, heartbeats=False)
    overhead = {}
    for spf in sorted({64, 128, 240, 256, 441, 480, 508, args.spf}):
        w, _ = frame_stream(pcm, args.rate, spf, heartbeats=False)
        nbytes = 2 * (len(pcm) // spf) * spf
        overhead[str(spf)] = {
            "measured_percent": round(100 * (len(w) - nbytes) / nbytes, 3),
            "worst_case_percent": round(100 * (worst_case_wire(spf) - 2 * spf) / (2 * spf), 3),
        }

    def decoder_rows() -> dict:
        rows = {}
        for chunk in (4096, 64):
            secs, frames = time_python_decoder(wire, chunk)
            rows[f"chunk_{chunk}"] = {"seconds": secs, "frames": frames, "x_realtime": audio_s / secs,
                                      "MB_per_s": len(wire) / secs / 1e6}
        return rows

    py = decoder_rows()
    with cobs.python_decoder():  # the same Decoder with Python COBS blocks
        py_pure = decoder_rows()

    naive_part = wire[: len(wire) // 10]  # it is slow: a tenth of the stream, scaled
    t0 = time.perf_counter()
    NaiveDecoder().feed(naive_part)
    naive_s = (time.perf_counter() - t0) * len(wire) / len(naive_part)
    c = c_decoder_seconds(wire, audio_s)

    best_py = py["chunk_4096"]["x_realtime"]
    result = {
        "benchmark": "bridge",
        "command": "python benchmarks/bridge.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(), "cores_used": 1},
        "stream": {"rate_hz": args.rate, "seconds": audio_s, "samples_per_frame": args.spf,
                   "wire_bytes": len(wire), "sample_bytes": sample_bytes,
                   "signal": "synthetic needle-EMG-like: baseline sigma 40 LSB + spike bursts"},
        "encoder": {
            "overhead_percent_samples_only": round(100 * (len(samples_only) - sample_bytes) / sample_bytes, 3),
            "overhead_percent_with_heartbeats": round(100 * (len(wire) - sample_bytes) / sample_bytes, 3),
            "target_overhead_percent": 5.0,
            "x_realtime": audio_s / enc_s,
            "by_samples_per_frame": overhead,
        },
        "python_decoder": py,
        "python_decoder_cobs_accelerated": cobs.ACCELERATED,
        "python_decoder_pure_python_cobs": py_pure,
        "peers": {
            "naive_python_byte_loop": {"seconds_scaled": naive_s, "x_realtime": audio_s / naive_s},
            "c_decoder": c,
        },
        "ratios": {
            "python_decoder_x_realtime": best_py,
            "target_x_realtime": 20.0,
            "python_vs_naive_python": (audio_s / naive_s and best_py / (audio_s / naive_s)),
            "python_vs_c": best_py / c["x_realtime"] if c else None,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    e = result["encoder"]
    print(f"stream: {audio_s:.0f} s at {args.rate} Hz, {args.spf} samples/frame, {len(wire):,} wire bytes")
    print(f"encoder overhead: {e['overhead_percent_samples_only']:.2f} % (SAMPLES only), "
          f"{e['overhead_percent_with_heartbeats']:.2f} % with heartbeats (target <= 5 %); "
          f"encode {e['x_realtime']:.0f}x real time")
    for spf, o in overhead.items():
        print(f"  {spf:>4} samples/frame: {o['measured_percent']:.2f} % measured, {o['worst_case_percent']:.2f} % worst case")
    cobs_kind = "C COBS (firmware_bridge.codec._ccodec)" if cobs.ACCELERATED else "Python COBS: _ccodec not built"
    for k, v in py.items():
        print(f"python decoder, {cobs_kind} ({k}): {v['x_realtime']:.0f}x real time, {v['MB_per_s']:.1f} MB/s "
              f"(target >= 20x)")
    for k, v in py_pure.items():
        print(f"python decoder, Python COBS ({k}): {v['x_realtime']:.0f}x real time, {v['MB_per_s']:.1f} MB/s")
    print(f"peer naive python byte loop: {audio_s / naive_s:.1f}x real time "
          f"(vectorised decoder is {result['ratios']['python_vs_naive_python']:.1f}x faster)")
    if c:
        print(f"peer C decoder ({c['flags']}): {c['x_realtime']:.0f}x real time "
              f"(python/C = {result['ratios']['python_vs_c']:.2f})")
    else:
        print("peer C decoder: skipped (no C compiler)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
