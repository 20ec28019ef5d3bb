"""``emg-bridge virtual-amp``: play a WAV file as an EMG amplifier on a pseudo-terminal.

Standard output, one line each, flushed (so a supervising program can follow it):

* first line ``PTY <path>``: the port to open (the ``--link`` symlink if given);
* ``ALERT #<id> <SEVERITY> <label> <confidence>% at <onset>-<offset> s (samples a-b)`` for
  every new alert, as the unit's display shows it (``--format jsonl``: one JSON object);
* ``END samples=<n> sent=<k> lost=<m>`` once the last sample went out;
* ``UNPLUG`` / ``REPLUG <path>`` around a simulated unplug.

It exits with status 0 on SIGINT/SIGTERM or ``--linger`` seconds after the end of the stream
(the link stays up meanwhile so the host can still deliver alerts); statistics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict

from clikit import UserError
from firmware_bridge.sim.faults import FaultConfig
from firmware_bridge.host.source import parse_speed, read_wav_int16
from firmware_bridge.sim.virtual_amp import VirtualAmplifier, format_alert


def _times(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 5 or 5,12.5, got {text!r}") from None


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "virtual-amp", help="play a WAV file as an amplifier on a pseudo-terminal",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--wav", required=True, help="16-bit PCM WAV file to stream")
    p.add_argument("--speed", default="1", help="1 = real time, N = N times faster, max = as fast as read")
    p.add_argument("--uv-per-lsb", type=float, default=0.5, help="µV per LSB announced in HELLO (default 0.5)")
    p.add_argument("--channel", default="0", metavar="N|all",
                   help="WAV channel to stream (default 0), or all: a multi-channel unit interleaving every one")
    p.add_argument("--link", metavar="PATH", help="stable symlink to the pty, re-pointed on every replug")
    p.add_argument("--samples-per-frame", type=int, default=None, help="default: 10 ms of samples")
    p.add_argument("--device-id", default="virtual-amp")
    p.add_argument("--format", choices=("text", "jsonl"), default="text", help="alert line format")
    p.add_argument("--linger", type=float, metavar="S", default=None,
                   help="exit S seconds after the end of the stream (default: run until interrupted)")
    f = p.add_argument_group("fault injection")
    f.add_argument("--ber", type=float, default=0.0, help="bit error rate (0..0.01)")
    f.add_argument("--drop-rate", type=float, default=0.0, help="probability of losing each byte (0..0.5)")
    f.add_argument("--burst-every", type=float, default=0.0, metavar="BYTES",
                   help="mean bytes between burst losses (0 = off, else >= 100)")
    f.add_argument("--burst-len", type=int, default=64, metavar="BYTES", help="bytes lost per burst")
    f.add_argument("--faults-both-ways", action="store_true", help="also corrupt host -> amplifier bytes")
    f.add_argument("--unplug-at", type=_times, default=(), metavar="S[,S...]",
                   help="stream times (s of the recording) at which the USB lead is pulled")
    f.add_argument("--unplug-for", type=float, default=1.0, metavar="S", help="seconds unplugged (default 1)")
    f.add_argument("--seed", type=int, default=0, help="fault injection seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    speed = parse_speed(args.speed)
    faults = FaultConfig(bit_error_rate=args.ber, drop_rate=args.drop_rate, burst_every_bytes=args.burst_every,
                         burst_len=args.burst_len, both_directions=args.faults_both_ways,
                         unplug_at_s=args.unplug_at, unplug_for_s=args.unplug_for, seed=args.seed)
    if args.linger is not None and args.linger < 0:
        raise UserError(f"--linger must be >= 0 s, got {args.linger}")
    if args.channel != "all" and not args.channel.isdigit():
        raise UserError(f"--channel must be a channel number or all, got {args.channel!r}")
    pcm, rate = read_wav_int16(args.wav, channel=None if args.channel == "all" else int(args.channel))
    if pcm.size == 0:
        raise UserError(f"{args.wav}: no samples")
    logging.basicConfig(level=logging.WARNING, format="virtual-amp: %(message)s", stream=sys.stderr)
    out_lock = threading.Lock()

    def emit(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_alert(alert) -> None:
        if args.format == "jsonl":
            d = {k: v for k, v in asdict(alert).items() if k != "seq"}
            emit(json.dumps({"alert": d, "onset_s": alert.onset / rate, "offset_s": alert.offset / rate}))
        else:
            emit(format_alert(alert, rate))

    def on_event(what: str, detail: str) -> None:
        emit(f"{what.upper()} {detail}".rstrip())

    amp = VirtualAmplifier(pcm, rate, args.uv_per_lsb, speed=speed, faults=faults, link_path=args.link,
                           device_id=args.device_id, samples_per_frame=args.samples_per_frame,
                           on_alert=on_alert, on_event=on_event)
    done = threading.Event()
    previous = {s: signal.signal(s, lambda *_: done.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            path = amp.start()
        except FileExistsError:
            raise UserError(f"--link {args.link}: exists and is not ours") from None
        emit(f"PTY {path}")
        while not done.is_set() and not amp.wait_streamed(0.1):
            pass
        if amp.error is not None:
            raise amp.error
        if not done.is_set():
            s = amp.stats
            emit(f"END samples={amp.n_samples} sent={s.samples_sent} lost={s.samples_lost}")
            done.wait(args.linger)
    finally:
        amp.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        print(f"virtual-amp: {amp.stats}", file=sys.stderr)
    return 0
