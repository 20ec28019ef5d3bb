"""``emg-edge run``: the detection service on one source.

    emg-edge run --bundle default --source serial:/dev/emg-amp?baud=3000000 \\
                 --outbox /var/lib/emg-edge/outbox.sqlite --alerts-jsonl /var/log/emg-edge/alerts.jsonl
    emg-edge run --bundle default --source wav:recording.wav --speed max

Alerts go to stdout as JSON lines unless ``--alerts-jsonl FILE`` is given; logs and the stats
line go to stderr. With a detector bundle (one with ``voluntary_muap``) each voluntary stretch of
5-30 s is also quantified in the background and reported as a ``{"type": "qemg_summary", ...}``
line and a QEMG_SUMMARY frame to the unit (``--no-qemg``: off). Exit status: 0 when a WAV source ends or on SIGTERM, 130 on SIGINT, 2 for
what the operator must fix (bundle refused, bad source string, a file's rate too low, config,
a source of unknown µV per LSB with ``--strict``, an outbox in use by another process or
damaged: ``emg-edge outbox salvage FILE``), 1 for a runtime failure and for anything the unit
or the line caused (its HELLO's rate or scale refused, a failure once the stream runs, an
outbox that cannot be written now): systemd restarts on 1, not on 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from clikit import EXIT_FAILURE, UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run detection on a serial amplifier, an ALSA ADC or a WAV file",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--bundle", default="default", help="model bundle: 'default' or a bundle directory")
    p.add_argument("--source", required=True,
                   help="serial:URL?baud=N (any pyserial URL or pty path), alsa:DEVICE[?rate=N&uv_per_lsb=X], "
                        "wav:FILE[?uv_per_lsb=X], edf:FILE[?channel=N|LABEL], wfdb:RECORD[?channel=N] (io extra); "
                        "any of them ?invert=1")
    p.add_argument("--config", metavar="FILE.toml", help="runtime config (smoothing, detector rules, service)")
    p.add_argument("--speed", default="1", help="file replay pacing: 1 = real time, N = N times faster, max")
    p.add_argument("--alerts-jsonl", metavar="FILE", default="-",
                   help="append alerts as JSON lines to FILE ('-' = stdout, the default)")
    p.add_argument("--outbox", metavar="FILE", default=None,
                   help="durable alert outbox (SQLite); without it alerts are not kept across restarts")
    p.add_argument("--xnnpack", action="store_true", help="use the XNNPACK delegate (faster, not bit-exact)")
    p.add_argument("--threads", type=int, default=1, help="LiteRT interpreter threads (default 1)")
    p.add_argument("--stats-every", type=float, default=None, metavar="S",
                   help="seconds between stats lines on stderr (0 = off; default from config, 10)")
    p.add_argument("--strict", action="store_true",
                   help="refuse a source that does not say its µV per LSB (instead of warning and using "
                        "its samples at the bundle's scale)")
    p.add_argument("--trusted-keys", default=None, metavar="DIR",
                   help="directory of *.pub bundle-signing keys: refuse bundles not signed by one "
                        "(default: $EMG_EDGE_TRUSTED_KEYS, else /etc/emg-edge/trusted-keys if present)")
    p.add_argument("--mqtt", default=None, metavar="URL",
                   help="also publish alerts and stats to this MQTT broker at QoS 1: mqtt://HOST[:PORT] or "
                        "mqtts://HOST[:PORT] (TLS, credentials: the config's [fleet] section); overrides fleet.url")
    p.add_argument("--unit-id", default=None, metavar="ID",
                   help="this unit's id in the MQTT topics (default: fleet.unit_id, else the host name)")
    p.add_argument("--qemg", action=argparse.BooleanOptionalAction, default=None,
                   help="quantify voluntary stretches as they end (JSON line type qemg_summary, QEMG_SUMMARY "
                        "frame); default: on when the bundle has the voluntary_muap class")
    p.add_argument("--qemg-min-s", type=float, default=5.0, metavar="S",
                   help="shortest voluntary stretch quantified, s (1-120, default 5)")
    p.add_argument("--qemg-max-s", type=float, default=30.0, metavar="S",
                   help="longest; a longer contraction reports every S seconds (min-s..600, default 30)")
    p.add_argument("--qemg-muscle", default=None, metavar="NAME",
                   help="reference values of this muscle for the pattern (default: the wide unspecified limits)")
    p.add_argument("--qemg-model", default="muap_pattern", metavar="BUNDLE",
                   help="learned pattern model bundle, or 'none' (default muap_pattern)")
    p.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    p.set_defaults(func=main)


#: Loggers whose records reach stderr (the journal under systemd): the runtime's own and the
#: bridge's (the link logs "HELLO from …", refused HELLOs, line faults).
LOGGERS = ("emg-edge", "firmware_bridge")


def _setup_logging(quiet: bool) -> None:
    for name in LOGGERS:
        log = logging.getLogger(name)
        if not log.handlers:
            h = logging.StreamHandler(sys.stderr)
            h.setFormatter(logging.Formatter("emg-edge: %(levelname)s %(message)s"))
            log.addHandler(h)
            log.propagate = False
        log.setLevel(logging.WARNING if quiet else logging.INFO)


def _with_fleet(config_path: str | None, url: str | None, unit_id: str | None):
    """The config file's path, or, with ``--mqtt``/``--unit-id``, the loaded config with them as
    its ``[fleet]`` url and unit id (validated there)."""
    if url is None and unit_id is None:
        return config_path
    import dataclasses

    from edge.runtime.options import load_config

    cfg = load_config(config_path)
    changes = {k: v for k, v in (("url", url), ("unit_id", unit_id)) if v is not None}
    try:
        return dataclasses.replace(cfg, fleet=dataclasses.replace(cfg.fleet, **changes))
    except ValueError as exc:
        raise UserError(f"--mqtt/--unit-id: {exc}") from None


def main(args: argparse.Namespace) -> int:
    from firmware_bridge.host.source import parse_speed

    from edge.runtime.service import RuntimeOptions, run
    from edge.runtime.sources import parse_source

    _setup_logging(args.quiet)
    spec = parse_source(args.source)
    if args.threads < 1:
        raise UserError(f"--threads {args.threads} must be >= 1")
    if args.stats_every is not None and args.stats_every < 0:
        raise UserError(f"--stats-every {args.stats_every} must be >= 0 s")
    if spec.live and args.outbox is None:
        logging.getLogger("emg-edge").warning(
            "no --outbox: alerts are kept in memory only and lost if the service dies before the ACK")
    config = _with_fleet(args.config, args.mqtt, args.unit_id)
    from edge.runtime.qemg_stretches import QemgConfig

    try:
        qemg_config = QemgConfig(min_s=args.qemg_min_s, max_s=args.qemg_max_s, muscle=args.qemg_muscle,
                                 pattern_bundle=None if args.qemg_model == "none" else args.qemg_model)
    except ValueError as exc:
        raise UserError(f"--qemg-*: {exc}") from None
    opts = RuntimeOptions(
        bundle=args.bundle, source=spec, config=config, speed=parse_speed(args.speed),
        alerts_jsonl=args.alerts_jsonl, outbox=args.outbox, xnnpack=args.xnnpack, num_threads=args.threads,
        stats_every_s=args.stats_every, strict=args.strict, trusted_keys=args.trusted_keys,
        qemg=args.qemg, qemg_config=qemg_config,
    )
    from edge.runtime.outbox import OutboxWriteError
    from edge.runtime.sources import SourceFault

    try:
        summary = run(opts)
    except (OSError, SourceFault, OutboxWriteError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        print(f"emg-edge: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILURE
    logging.getLogger("emg-edge").info(
        "%s: %.1f s of audio in %.1f s (%.1fx real time), %d windows, %d alert(s), %d pending, "
        "%d saturated sample(s), %d window(s) withheld as unknown by the open-set guard, "
        "%d as irregular by the rhythm check, %d pathological call(s) turned normal by the class prior, "
        "%d QEMG stretch summary line(s) (%d stretch(es) skipped, %d failed)",
        summary.reason, summary.audio_s, summary.wall_s, summary.rtf, summary.windows, summary.alerts_raised,
        summary.pending_alerts, summary.saturated_samples, summary.unknown_windows,
        summary.irregular_windows, summary.prior_windows,
        summary.qemg_summaries, summary.qemg_skipped, summary.qemg_failed,
    )
    return summary.exit_code
