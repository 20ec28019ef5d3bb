"""``emg-edge quantify``: motor unit potentials of a voluntary recording (QEMG) as JSON.

    emg-edge quantify --source 'wav:ta.wav?uv_per_lsb=0.5' --muscle tibialis_anterior \\
                      --json ta.json --plot ta.png
    emg-edge quantify --source serial:/dev/emg-amp --seconds 20 --json site3.json

A file is quantified whole; a live source (``serial:``, ``alsa:``) for ``--seconds``. The
source must state its µV per LSB (``?uv_per_lsb=``, the WAV comment or the unit's HELLO):
amplitudes are in µV. Exit status 2 for what the user must fix.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from clikit import UserError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("quantify", help="quantify motor unit potentials (QEMG) of a voluntary recording",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True,
                   help="wav:FILE[?uv_per_lsb=X], serial:URL, alsa:DEVICE[?rate=N&uv_per_lsb=X]; any ?invert=1")
    p.add_argument("--muscle", default=None, help="muscle for the reference values (e.g. tibialis_anterior)")
    p.add_argument("--json", metavar="OUT", default="-", help="write the result JSON to OUT ('-' = stdout)")
    p.add_argument("--plot", metavar="PNG", default=None, help="also draw templates, raster and rates (matplotlib)")
    p.add_argument("--seconds", type=float, default=20.0,
                   help="seconds to record from a live source (default 20; files are read whole)")
    p.set_defaults(func=main)


def read_source(text: str, seconds: float) -> tuple[np.ndarray, int, float]:
    """(int16 samples, rate Hz, µV per LSB) of a file, or ``seconds`` of a live source."""
    from edge.runtime.sources import open_source, parse_source

    spec = parse_source(text)
    if spec.live and not (0.5 <= seconds <= 3600.0):
        raise UserError(f"--seconds {seconds:g} must be within 0.5..3600 s")
    opened = open_source(spec, speed=None, give_up_s=30.0)
    if opened is None:
        raise UserError(f"{text}: not opened")
    src = opened.source
    try:
        if src.uv_per_lsb is None:
            raise UserError(f"{opened.name} does not say its µV per LSB: {opened.scale_hint}")
        fs = int(src.sample_rate)
        want = int(seconds * fs) if spec.live else None
        parts, got = [], 0
        while want is None or got < want:
            try:
                block = src.read_block(timeout=5.0)
            except EOFError:
                break
            if block is None:
                continue
            if block.gap_before:  # lost samples: keep time right with silence
                parts.append(np.zeros(block.gap_before, dtype=np.int16))
                got += block.gap_before
            parts.append(block.samples)
            got += len(block.samples)
        x = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        if want is not None:
            x = x[:want]
        if opened.invert:
            x = np.clip(-x.astype(np.int32), -32768, 32767).astype(np.int16)
        return x, fs, float(src.uv_per_lsb)
    finally:
        src.close()


def main(args: argparse.Namespace) -> int:
    from edge.quant import quantify

    if args.plot is not None:
        from edge.quant.plot import check_matplotlib

        check_matplotlib()
    x, fs, uv = read_source(args.source, args.seconds)
    result = quantify(x, fs, uv_per_lsb=uv, muscle=args.muscle)
    doc = json.dumps(result.to_json(), indent=1)
    if args.json == "-":
        print(doc)
    else:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(doc + "\n")
    if args.plot is not None:
        from edge.quant.plot import plot_result

        plot_result(result, args.plot, title=args.source)
    m = result.measures
    print(f"emg-edge quantify: {len(m.units)} motor unit(s) in {m.duration_s:.1f} s"
          + (f" ({m.reason})" if m.reason else ""), file=sys.stderr)
    for c in (result.pattern or {}).get("caveats", []):
        print(f"emg-edge quantify: caveat: {c}", file=sys.stderr)
    return 0
