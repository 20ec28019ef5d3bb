"""``emg-bridge monitor``: watch an amplifier link live.

Opens the port with :class:`~firmware_bridge.host.link.SerialLink`, prints the unit's HELLO, starts
the stream (unless ``--no-start``) and prints one statistics line every ``--interval`` seconds:
sample rate measured over the interval (Hz), samples received, gaps (count and samples
missing), corrupted frames (CRC), bytes dropped, reconnects and link state. ALERT frames that
arrive on the port (a unit that reports its own detections, or a tap on a loop-back) are ACKed
and printed as they come. Ends on Ctrl-C, after ``--duration`` seconds, or when the unit
signals end of stream.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from firmware_bridge.host.link import LinkStats, SerialLink

__all__ = ["Monitor", "MonitorSummary", "format_hello", "format_stats"]


def format_hello(hello) -> str:
    return (f"HELLO device={hello.device_id} firmware={hello.firmware_version} rate={hello.sample_rate} Hz "
            f"width={hello.sample_width} bit uv_per_lsb={hello.uv_per_lsb:.6g} channels={hello.channels} "
            f"protocol=v{hello.protocol_version}")


#: Counters of bad unit input (PROTOCOL.md §7.1), shown only when not zero.
_UNIT_FAULTS = ("hellos_refused", "samples_unusable", "bad_frames", "overflow_samples", "unit_alerts_dropped")


def format_stats(s: LinkStats, rate_hz: float) -> str:
    faults = "".join(f" {name}={getattr(s, name)}" for name in _UNIT_FAULTS if getattr(s, name))
    return (f"STATS rate={rate_hz:.0f} Hz samples={s.samples} gaps={s.gaps} gap_samples={s.gap_samples} "
            f"crc_errors={s.crc_errors} dropped_bytes={s.dropped_bytes} duplicates={s.duplicate_samples} "
            f"reconnects={s.reconnects} link={'up' if s.link_up else 'DOWN'}{faults}")


@dataclass
class MonitorSummary:
    """What a monitoring session saw."""

    stats: LinkStats
    blocks: int
    alerts: int
    ended: bool


class Monitor:
    """Reads a link, tallies blocks and prints HELLO, periodic statistics and alerts to ``out``."""

    def __init__(self, link: SerialLink, out: TextIO | None = None, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.05 <= interval_s <= 3600:
            raise ValueError(f"interval_s must be in 0.05..3600 s, got {interval_s}")
        self.link = link
        self.out = out if out is not None else sys.stdout
        self.interval_s = interval_s
        self._clock = clock

    def _print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def run(self, duration_s: float | None = None, hello_timeout_s: float | None = None,
            start: bool = True) -> MonitorSummary:
        t0 = self._clock()
        hello = self.link.start(hello_timeout_s) if start else self.link.wait_hello(hello_timeout_s)
        self._print(format_hello(hello))
        blocks = alerts = 0
        ended = False
        last_t, last_samples = self._clock(), 0
        next_report = last_t + self.interval_s
        while duration_s is None or self._clock() - t0 < duration_s:
            try:
                block = self.link.read_block(timeout=min(0.1, self.interval_s))
            except EOFError:
                ended = True
                break
            if block is not None:
                blocks += 1
            for alert in self.link.received_alerts():
                alerts += 1
                self._print(f"ALERT #{alert.alert_id} {alert.label} confidence={alert.confidence:.4f} "
                            f"onset={alert.onset} offset={alert.offset} severity={alert.severity}")
            now = self._clock()
            if now >= next_report:
                s = self.link.stats
                self._print(format_stats(s, (s.samples - last_samples) / max(now - last_t, 1e-9)))
                last_t, last_samples = now, s.samples
                next_report = now + self.interval_s
        s = self.link.stats
        if ended:
            self._print("END of stream")
        self._print(format_stats(s, (s.samples - last_samples) / max(self._clock() - last_t, 1e-9)))
        return MonitorSummary(s, blocks, alerts, ended)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="show HELLO, stream statistics and alerts of an amplifier link",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--port", required=True, help="pyserial URL: /dev/ttyACM0, /dev/pts/5, socket://host:port, ...")
    p.add_argument("--baud", type=int, default=3_000_000, help="baud rate (default 3000000; ignored by USB CDC)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between statistics lines (default 1)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--hello-timeout", type=float, default=None,
                   help="give up if no HELLO within this many seconds (default: keep retrying)")
    p.add_argument("--no-start", action="store_true", help="do not send START (just listen)")
    p.add_argument("-v", "--verbose", action="store_true", help="log link events (reconnects, errors)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="monitor: %(message)s", stream=sys.stderr)
    link = SerialLink(args.port, baudrate=args.baud)
    try:
        try:
            Monitor(link, interval_s=args.interval).run(args.duration, args.hello_timeout, start=not args.no_start)
        except TimeoutError as exc:
            print(f"emg-bridge: error: {exc}", file=sys.stderr)
            return 1
    finally:
        link.close()
    return 0
