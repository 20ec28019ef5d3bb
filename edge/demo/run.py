"""``make demo``: the whole system on its own, over the real protocol on a pseudo-terminal.

1. A virtual amplifier (:mod:`firmware_bridge.sim.virtual_amp`) streams the shipped recording on a
   pty, as a unit's firmware would.
2. ``emg-edge run --bundle default --source serial:<pty>`` runs as a separate process: front-end,
   int8 inference, event detection, durable outbox, ALERT frames back over the link.
3. The amplifier ACKs each alert and shows it live, once.
4. When the stream has ended and the runtime has drained, the alerts that reached the
   amplifier are scored against the ground truth (:mod:`edge.scorecard`) and drawn on a
   timeline PNG (:mod:`edge.demo.timeline`).

By default the amplifier streams as fast as the runtime reads; ``--realtime`` paces it at the
recording's own rate.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from clikit import EXIT_FAILURE, EXIT_OK, UserError
from firmware_bridge.sim.virtual_amp import VirtualAmplifier, format_alert

from edge.demo.recording import DemoRecording, demo_wav, load_demo_recording
from edge.scorecard import Episode, Scorecard, merge_episodes, score

#: Pathological classes, in display order (the bundle's manifest says which labels are).
PATHOLOGICAL_ORDER = (
    "fibrillation", "positive_sharp_wave", "fasciculation", "complex_repetitive_discharge",
    "myotonic_discharge", "myokymic_discharge", "neuromyotonic_discharge",
)

#: Pass marks (issue 7): event recall over pathological episodes, false alarms per 10 min.
MIN_RECALL = 0.9
MAX_FALSE_ALARMS_PER_10_MIN = 1.0
#: Same-class labelled spans closer than this (s) are one episode, in the header and the scorecard.
MERGE_GAP_S = 1.0


@dataclass
class DemoResult:
    scorecard: Scorecard
    alerts: list[dict]
    runtime_exit: int
    wall_s: float
    out_dir: Path
    timeline: bool = False  # timeline.png was drawn

    @property
    def passed(self) -> bool:
        return (self.runtime_exit == 0 and self.scorecard.recall >= MIN_RECALL
                and self.scorecard.false_alarms_per_10_min <= MAX_FALSE_ALARMS_PER_10_MIN)


def _read_jsonl(path: Path) -> dict[int, dict]:
    out: dict[int, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                if "type" not in rec:  # alerts only: QEMG summaries ({"type": "qemg_summary"}) share the file
                    out[int(rec["id"])] = rec
    return out


def header(rec: DemoRecording, realtime: bool) -> str:
    """The demo's first line; episodes are counted as the scorecard counts them (merged)."""
    episodes = merge_episodes([e for e in rec.segments if e.label in PATHOLOGICAL_ORDER], MERGE_GAP_S)
    return (f"demo: {rec.duration_s:.0f} s of simulated needle EMG at {rec.sample_rate} Hz, "
            f"{len(episodes)} pathological episodes; amplifier "
            f"{'in real time' if realtime else 'as fast as the host reads'}")


def run_demo(
    out_dir: str | Path,
    realtime: bool = False,
    bundle: str = "default",
    wav: str | Path | None = None,
    timeline: bool = True,
    echo=print,
) -> DemoResult:
    """Run the demo; writes ``alerts.jsonl``, ``scorecard.json``, ``timeline.png`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = load_demo_recording(wav, echo=echo)
    jsonl = out / "alerts.jsonl"
    outbox = out / "outbox.sqlite"
    for stale in (jsonl, outbox, Path(f"{outbox}-wal"), Path(f"{outbox}-shm")):
        stale.unlink(missing_ok=True)  # a fresh run: the outbox would otherwise resend old alerts

    episodes = [e for e in rec.segments if e.label in PATHOLOGICAL_ORDER]
    echo(header(rec, realtime))
    amp = VirtualAmplifier(
        rec.pcm, rec.sample_rate, rec.uv_per_lsb, speed=1.0 if realtime else None,
        on_alert=lambda a: echo(f"  amplifier shows: {format_alert(a, rec.sample_rate)}"),
    )
    t0 = time.monotonic()
    path = amp.start()
    echo(f"demo: virtual amplifier on {path}; starting emg-edge run")
    cmd = [sys.executable, "-m", "edge.cli", "run", "--bundle", str(bundle), "--source", f"serial:{path}",
           "--alerts-jsonl", str(jsonl), "--outbox", str(outbox), "--quiet"]
    guard_s = (rec.duration_s if realtime else 0.0) + 300.0
    try:
        proc = subprocess.run(cmd, timeout=guard_s, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"emg-edge run did not finish within {guard_s:.0f} s") from None
    finally:
        amp.stop()
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        echo(proc.stderr.strip())
    if amp.error is not None:
        raise RuntimeError(f"virtual amplifier failed: {amp.error}")

    details = _read_jsonl(jsonl)
    alerts = []
    for a in amp.alerts:  # what reached the unit is what counts
        d = details.get(a.alert_id, {})
        alerts.append({
            "id": a.alert_id, "label": a.label, "confidence": a.confidence, "severity": a.severity,
            "onset_s": a.onset / rec.sample_rate, "offset_s": a.offset / rec.sample_rate,
            "detected_s": d.get("detected_s", a.offset / rec.sample_rate),
        })
    card = score(episodes, alerts, rec.duration_s, PATHOLOGICAL_ORDER, merge_gap_s=MERGE_GAP_S)
    (out / "scorecard.json").write_text(json.dumps({
        **card.to_dict(), "runtime_exit": proc.returncode, "wall_s": round(wall, 2),
        "alerts_at_amplifier": len(alerts), "alerts_logged": len(details),
        "amplifier": {"alert_frames": amp.stats.alerts_received, "duplicates_suppressed": amp.stats.alert_duplicates,
                      "samples_sent": amp.stats.samples_sent, "samples_lost": amp.stats.samples_lost},
        "recording": rec.info,
    }, indent=2))
    if timeline and importlib.util.find_spec("matplotlib") is None:
        # a device install (no demo extra): the scorecard is the result, the picture is optional
        echo("demo: no timeline PNG: matplotlib is not installed (pip install 'emg-edge-kit[demo]')")
        timeline = False
    if timeline:
        from edge.demo.timeline import render_timeline

        render_timeline(out / "timeline.png", rec.pcm, rec.sample_rate, rec.uv_per_lsb,
                        episodes, alerts, PATHOLOGICAL_ORDER)
    return DemoResult(card, alerts, proc.returncode, wall, out, timeline)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options, for ``python -m edge.demo`` and ``emg-edge demo``."""
    parser.add_argument("--realtime", action="store_true", help="stream at the recording's own rate (about 3 min)")
    parser.add_argument("--out", default=None, help="output folder (default: a new temporary folder)")
    parser.add_argument("--bundle", default="default", help="model bundle (default: the shipped one)")
    parser.add_argument("--wav", default=None, help="another recording with same-stem .labels.csv and .json")
    parser.add_argument("--no-timeline", action="store_true", help="skip the timeline PNG")
    parser.add_argument("--recording-path", action="store_true",
                        help="print the demo WAV's path (making it on first use) and exit")


def add_parser(subparsers) -> None:
    """``emg-edge demo`` (edge/cli.py lists this module among its subcommands)."""
    p = subparsers.add_parser("demo", help="run the demo: virtual amplifier, emg-edge run, scorecard",
                              description=__doc__.split("\n\n")[0])
    add_arguments(p)
    p.set_defaults(func=run_from_args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.demo", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    if args.recording_path:
        try:
            print(demo_wav(echo=lambda line: print(line, file=sys.stderr)))
        except UserError as exc:
            print(f"demo: error: {exc}", file=sys.stderr)
            return 2
        return EXIT_OK
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="emg-demo-"))
    try:
        result = run_demo(out, realtime=args.realtime, bundle=args.bundle, wav=args.wav,
                          timeline=not args.no_timeline)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"demo: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print()
    print(result.scorecard.table())
    print(f"\ndemo: {len(result.alerts)} alerts reached the amplifier in {result.wall_s:.1f} s; "
          f"scorecard {'PASS' if result.passed else 'FAIL'} (recall >= {MIN_RECALL}, "
          f"<= {MAX_FALSE_ALARMS_PER_10_MIN:g} false alarm per 10 min)")
    print(f"demo: wrote {out / 'scorecard.json'}" + (f" and {out / 'timeline.png'}" if result.timeline else ""))
    return EXIT_OK if result.passed else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
