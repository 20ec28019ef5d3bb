"""The standing fault suite (issue 14): the runtime against corrupted input, crashes, unplugs, a
full disk and a long stream. Prints a table, writes ``benchmarks/results/faults.json``.

    .venv/bin/python benchmarks/faults.py      # the issue's sizes: 10^6 frames, 100 faults, 24 h
    .venv/bin/python benchmarks/faults.py --only chaos --chaos 10    # one part, smaller

Three parts, each with its own figures:

* **fuzz**: ``--frames`` frames through the codec's :class:`~firmware_bridge.codec.Decoder` as
  one stream: valid frames of every type (random fields) mutated by bit flips, byte changes,
  insertions, deletions, truncations, splices and pure garbage, each followed by a delimiter,
  with one in ten sent clean. Counted: *accepted corruptions* (a frame decoded that differs from
  the frame it was made from; target 0), exceptions (target 0), clean frames decoded (must be
  all), the most bytes the decoder held and the process's RSS growth (bounded memory).
* **chaos**: ``--chaos`` faults, one every 0.5–3 s at random (seeded), against the service
  (a child process, the test stand-in model) on a virtual amplifier over a pty streaming a 2 s
  burst every 10 s at 6× real time: ``kill -9`` then a restart on the same outbox, an unplug
  of 0.2–2 s, or a full disk (every outbox write fails for 1–4 s as SQLite's does). At the end
  the service is stopped (SIGTERM) and started once more until nothing is pending. Counted:
  alerts stored, shown by the unit, shown twice (target 0), stored but never shown (lost,
  target 0), shown but never stored, not delivered.
* **stream**: ``--hours`` of a simulated 8 kHz stream (bursts every 20 s) through the service
  as fast as it runs (stand-in model, outbox file, JSON lines to /dev/null); RSS after the first
  5 % and at the end (growth target < 5 MB for 24 h).

Report what ran: the sizes are in the JSON next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge import codec as P  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def rss_mb() -> float:
    """Resident set size of this process now (MB), from /proc."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------------------------ fuzz
def frame_pool(rng: random.Random, n: int = 600) -> list:
    """``n`` valid frames of every type with random fields; ``seq`` is unique per frame."""
    out = []
    for seq in range(n):
        kind = seq % 9
        r = rng.randrange
        if kind in (0, 1, 2):
            k = r(1, P.MAX_SAMPLES + 1)
            f = P.Samples(first_index=r(0, 2**64), samples=[r(-32768, 32768) for _ in range(k)])
        elif kind == 3:
            onset = r(0, 2**63)
            f = P.Alert(alert_id=r(0, 2**32), label=rng.choice(["fibrillation", "rest", "x" * 64, "é"]),
                        confidence=rng.random(), onset=onset, offset=onset + r(0, 2**40), severity=r(0, 3))
        elif kind == 4:
            f = P.Hello(device_id=f"unit-{r(10**6)}", firmware_version="1.2.3", sample_rate=r(1000, 384001),
                        sample_width=16, uv_per_lsb=rng.uniform(0.01, 10), channels=r(1, 9))
        elif kind == 5:
            f = P.Ack(ref_type=r(0, 256), ref_id=r(0, 2**32))
        elif kind == 6:
            f = P.Heartbeat(uptime_ms=r(0, 2**32), state=r(0, 3), next_index=r(0, 2**64), rx_errors=r(0, 2**32))
        elif kind == 7:
            f = P.Start(sample_rate=r(0, 2**32), samples_per_frame=r(0, 509))
        else:
            f = P.Config(key=r(0, 65536), value=r(-2**31, 2**31))
        f.seq = seq
        out.append(f)
    return out


def mutate(rng: random.Random, wire: bytes, other: bytes) -> bytes:
    """One corruption of an encoded frame (its 0x00 delimiter removed) that changes it."""
    b = bytearray(wire)
    how = rng.randrange(8)
    if how == 0:  # 1..8 bit flips
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif how == 1:  # bytes replaced
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(b))
            b[i] = (b[i] + rng.randrange(1, 256)) % 256
    elif how == 2:  # bytes inserted
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
    elif how == 3:  # bytes deleted
        i = rng.randrange(len(b))
        del b[i:i + rng.randrange(1, 5)]
    elif how == 4:  # truncated
        del b[rng.randrange(len(b)):]
    elif how == 5:  # spliced with another frame
        b = b[:rng.randrange(1, len(b) + 1)] + other[rng.randrange(len(other)):]
    elif how == 6:  # a slice repeated
        i = rng.randrange(len(b))
        b[i:i] = b[i:i + rng.randrange(1, 16)]
    else:  # garbage of random length (up to beyond the decoder's limit)
        b = bytearray(os.urandom(rng.choice([rng.randrange(1, 64), rng.randrange(64, 2 * P.MAX_ENCODED)])))
    if bytes(b) == wire:
        b.append(1)
    return bytes(b)


def fuzz(n_frames: int, seed: int = 14) -> dict:
    rng = random.Random(seed)
    pool = frame_pool(rng)
    wires = [P.encode(f)[:-1] for f in pool]
    by_key = {(type(f).__name__, f.seq): f for f in pool}
    dec = P.Decoder()
    accepted_bad = exceptions = clean_sent = clean_got = decoded = max_buffered = 0
    rss0 = rss_mb()
    t0 = time.process_time()
    batch = 2000
    done = 0
    while done < n_frames:
        parts, expect = [], []
        for _ in range(min(batch, n_frames - done)):
            i = rng.randrange(len(pool))
            if rng.random() < 0.1:
                parts.append(wires[i])
                expect.append(i)
            else:
                parts.append(mutate(rng, wires[i], wires[rng.randrange(len(pool))]))
            parts.append(b"\x00")
            done += 1
        data = b"".join(parts)
        try:
            # fed in serial-sized reads, so frames also straddle feed calls
            got = []
            for k in range(0, len(data), 4096):
                got += dec.feed(data[k:k + 4096])
                max_buffered = max(max_buffered, dec.buffered)
        except Exception:  # noqa: BLE001 - counted: the target is none
            exceptions += 1
            dec = P.Decoder()
            continue
        clean_sent += len(expect)
        decoded += len(got)
        for f in got:
            if by_key.get((type(f).__name__, f.seq)) != f:
                accepted_bad += 1
            else:
                clean_got += 1
    cpu = time.process_time() - t0
    # a mutated frame may still be a whole valid frame (a splice that keeps a whole other frame,
    # a repeat of a complete frame): those decode to pool frames and are not corruptions; so
    # clean frames decoded may exceed clean frames sent, never fall short of them.
    return dict(frames=n_frames, accepted_corruptions=accepted_bad, exceptions=exceptions,
                clean_sent=clean_sent, valid_decoded=clean_got, all_decoded=decoded,
                crc_errors=dec.stats.crc_errors, max_buffered_bytes=max_buffered,
                decoder_limit_bytes=P.MAX_ENCODED, rss_growth_mb=round(rss_mb() - rss0, 2), cpu_s=round(cpu, 1))


# ----------------------------------------------------------------------------------- chaos
def child_main(link: str, outbox: str, jsonl: str, control: str) -> int:
    """The service with the test stand-ins; while the file ``control`` exists every outbox write
    fails as SQLite fails on a full disk (``database or disk is full``, inside the write, so the
    outbox's own rollback and the delivery's holding run as they would)."""
    import logging
    import sqlite3
    from contextlib import contextmanager

    from edge.runtime import delivery as delivery_mod
    from edge.runtime.service import RuntimeOptions, run
    from edge.runtime.sources import SourceFault

    from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, standin_bundle

    logging.basicConfig(level=logging.INFO, format="child: %(levelname)s %(message)s")

    class DiskFullOutbox(delivery_mod.Outbox):
        @contextmanager
        def _writing(self):
            with super()._writing():
                if os.path.exists(control):
                    raise sqlite3.OperationalError("database or disk is full")
                yield

    delivery_mod.Outbox = DiskFullOutbox
    b = standin_bundle(8000)
    try:
        summary = run(RuntimeOptions(
            bundle=b, source=f"serial:{link}", classifier=ThresholdClassifier(),
            frontend=EnergyFrontend(b.frontend_config), outbox=outbox, alerts_jsonl=jsonl, stats_every_s=0, drain_s=5.0,
        ))
    except SourceFault as exc:  # as emg-edge run reports it (a restart after the unit's end of stream)
        print(f"child: error: {exc}", file=sys.stderr)
        return 1
    print(f"child done: {summary.reason}, alerts {summary.alerts_raised}, pending {summary.pending_alerts}",
          file=sys.stderr)
    return summary.exit_code


def _pending(outbox: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(con.execute("SELECT COUNT(*) FROM alerts WHERE delivered=0").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 1  # not readable now: look again


def chaos(n_faults: int, workdir: Path, seed: int = 14) -> dict:
    import sqlite3

    from firmware_bridge.sim.virtual_amp import VirtualAmplifier

    from tests.edge.runtime_standins import bursts

    rng = random.Random(seed)
    speed, rate = 6.0, 8000
    # long enough for every fault: a gap of at most 3 s, a full disk of at most 4 s, a restart
    cycles = int((10.0 + n_faults * 6.0) * speed / 10.0) + 1
    audio_s = cycles * 10.0
    starts = [1.0 + 10.0 * k for k in range(cycles)]  # well apart: the refractory time is 4 s
    pcm = np.tile(bursts(10.0, rate, [1.0], length_s=2.0, seed=seed), cycles)  # 2 bytes per sample
    amp = VirtualAmplifier(pcm, rate, 0.5, speed=speed,
                           link_path=str(workdir / "emg-amp"), host_timeout_s=1.0)
    amp.start()
    outbox, jsonl, control = workdir / "outbox.sqlite", workdir / "alerts.jsonl", workdir / "disk-full"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    logs: list[Path] = []

    def spawn() -> subprocess.Popen:
        log = workdir / f"child-{len(logs)}.log"
        logs.append(log)
        with open(log, "w") as fh:
            return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(workdir / "emg-amp"),
                                     str(outbox), str(jsonl), str(control)], cwd=ROOT, env=env, stdout=fh, stderr=fh)

    counts = {"kill -9": 0, "unplug": 0, "disk full": 0}
    proc = spawn()
    t0 = time.monotonic()
    try:
        time.sleep(3.0)
        for _ in range(n_faults):
            time.sleep(rng.uniform(0.5, 3.0))
            if amp.stats.ended:
                break
            fault = rng.choice(list(counts))
            counts[fault] += 1
            if fault == "kill -9":
                proc.kill()
                proc.wait()
                proc = spawn()
            elif fault == "unplug":
                amp.unplug(rng.uniform(0.2, 2.0))
            else:
                control.touch()
                time.sleep(rng.uniform(1.0, 4.0))
                control.unlink()
        if control.exists():
            control.unlink()
        # the end: a clean stop, then a last start that re-sends what is pending until none is
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proc = spawn()
        deadline = time.monotonic() + 60
        time.sleep(3.0)
        while time.monotonic() < deadline and _pending(outbox):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        amp.stop()
    text = "".join(p.read_text(errors="replace") for p in logs)
    con = sqlite3.connect(outbox)
    rows = con.execute("SELECT id, delivered FROM alerts ORDER BY id").fetchall()
    con.close()
    stored = [r[0] for r in rows]
    shown = [a.alert_id for a in amp.alerts]
    lines = [json.loads(x)["id"] for x in jsonl.read_text().splitlines() if x.strip()]
    return dict(
        faults=sum(counts.values()), by_kind=counts, bursts=len(starts), wall_s=round(time.monotonic() - t0, 1),
        audio_s=audio_s, last_exit=proc.returncode, alerts_stored=len(stored), alerts_shown=len(set(shown)),
        shown_twice=len(shown) - len(set(shown)), lost=len(set(stored) - set(shown)),
        shown_not_stored=len(set(shown) - set(stored)), not_delivered=sum(1 for r in rows if not r[1]),
        ids_contiguous=stored == list(range(1, len(stored) + 1)), jsonl_missing=len(set(stored) - set(lines)),
        retransmitted_frames=amp.stats.alert_duplicates, samples_sent=amp.stats.samples_sent,
        samples_lost=amp.stats.samples_lost, disk_full_warnings=text.count("database or disk is full"),
        tracebacks=text.count("Traceback"),
    )


# ---------------------------------------------------------------------------------- stream
class SimulatedStream:
    """A SampleSource: ``hours`` of 8 kHz noise with a 1.5 s burst every 20 s, in 0.1 s blocks, as
    fast as it is read; then EOF. Calls ``at(fraction)`` as it goes."""

    def __init__(self, hours: float, rate: int = 8000, at=None) -> None:
        from tests.edge.runtime_standins import bursts

        self.sample_rate, self.uv_per_lsb = rate, 0.5
        self.total = int(hours * 3600 * rate)
        self.cycle = bursts(20.0, rate, [5.0], length_s=1.5, seed=1)  # 20 s, repeated
        self.pos, self.block, self.at = 0, rate // 10, at

    def read_block(self, timeout=None):
        from firmware_bridge.host.source import SampleBlock

        if self.pos >= self.total:
            raise EOFError("end")
        i = self.pos % self.cycle.size
        n = min(self.block, self.cycle.size - i, self.total - self.pos)
        blk = SampleBlock(first_index=self.pos, samples=self.cycle[i:i + n].copy(), gap_before=0)
        self.pos += n
        if self.at is not None:
            self.at(self.pos / self.total)
        return blk

    def close(self) -> None:
        pass


def stream(hours: float, workdir: Path) -> dict:
    from edge.runtime.service import RuntimeOptions, run

    from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, standin_bundle

    marks: dict[str, float] = {}

    def at(frac: float) -> None:
        if frac >= 0.05 and "warm" not in marks:
            marks["warm"] = rss_mb()

    b = standin_bundle(8000)
    t0 = time.monotonic()
    summary = run(RuntimeOptions(
        bundle=b, source=SimulatedStream(hours, at=at), classifier=ThresholdClassifier(),
        frontend=EnergyFrontend(b.frontend_config), outbox=str(workdir / "stream.sqlite"), alerts_jsonl=os.devnull,
        install_signal_handlers=False, stats_every_s=0, speed=None,
    ))
    end = rss_mb()
    wall = time.monotonic() - t0
    return dict(hours=hours, audio_s=round(summary.audio_s, 1), wall_s=round(wall, 1),
                real_time_factor=round(summary.audio_s / wall, 1), windows=summary.windows,
                alerts=summary.alerts_raised, rss_after_5pct_mb=round(marks.get("warm", float("nan")), 1),
                rss_end_mb=round(end, 1), rss_growth_mb=round(end - marks.get("warm", end), 2),
                exit_code=summary.exit_code)


# ------------------------------------------------------------------------------------ main
def table(res: dict) -> str:
    rows = []
    if "fuzz" in res:
        f = res["fuzz"]
        rows += [("fuzz", "frames", f["frames"], ""), ("fuzz", "accepted corruptions", f["accepted_corruptions"], "0"),
                 ("fuzz", "exceptions", f["exceptions"], "0"),
                 ("fuzz", "clean frames decoded / sent", f"{f['valid_decoded']} / {f['clean_sent']}", ">= sent"),
                 ("fuzz", "decoder buffer max (B)", f["max_buffered_bytes"], f"<= {f['decoder_limit_bytes']}"),
                 ("fuzz", "RSS growth (MB)", f["rss_growth_mb"], "bounded")]
    if "chaos" in res:
        c = res["chaos"]
        rows += [("chaos", "faults (kill -9 / unplug / disk full)",
                  f"{c['faults']} ({c['by_kind']['kill -9']}/{c['by_kind']['unplug']}/{c['by_kind']['disk full']})", ""),
                 ("chaos", "alerts stored / shown by the unit", f"{c['alerts_stored']} / {c['alerts_shown']}", "equal"),
                 ("chaos", "shown twice", c["shown_twice"], "0"), ("chaos", "lost", c["lost"], "0"),
                 ("chaos", "not delivered at the end", c["not_delivered"], "0"),
                 ("chaos", "disk-full warnings / tracebacks", f"{c['disk_full_warnings']} / {c['tracebacks']}", "- / 0")]
    if "stream" in res:
        s = res["stream"]
        rows += [("stream", "simulated hours", s["hours"], ""), ("stream", "real-time factor", s["real_time_factor"], ""),
                 ("stream", "alerts", s["alerts"], ""), ("stream", "RSS growth (MB)", s["rss_growth_mb"], "< 5 (24 h)")]
    w = max(len(r[1]) for r in rows)
    out = [f"{'part':7} {'figure':{w}}  {'measured':>16}  target"]
    out += [f"{p:7} {n:{w}}  {str(v):>16}  {t}" for p, n, v, t in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=1_000_000, help="fuzzed frames (the issue's size)")
    ap.add_argument("--chaos", type=int, default=100, help="chaos faults (the issue's size)")
    ap.add_argument("--hours", type=float, default=24.0, help="simulated stream hours (the issue's size)")
    ap.add_argument("--only", default="fuzz,chaos,stream", help="comma-separated parts to run")
    ap.add_argument("--out", default=str(RESULTS / "faults.json"), help="JSON results ('' = none)")
    ap.add_argument("--child", nargs=4, metavar=("LINK", "OUTBOX", "JSONL", "CONTROL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(*args.child)
    import tempfile

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    res: dict = {"python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory(prefix="emg-faults-") as tmp:
        if "fuzz" in parts:
            res["fuzz"] = fuzz(args.frames)
        if "chaos" in parts:
            d = Path(tmp) / "chaos"
            d.mkdir()
            res["chaos"] = chaos(args.chaos, d)
        if "stream" in parts:
            res["stream"] = stream(args.hours, Path(tmp))
    print(table(res))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
