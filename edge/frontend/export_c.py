"""``emg-edge frontend-tables``: the front-end's tables as a C header for firmware.

    emg-edge frontend-tables --bundle default --out emg_fe_tables.h
    emg-edge frontend-tables --sample-rate 16000 --window-ms 25 --hop-ms 10 --n-mels 40 \\
                             --fmin-hz 20 --fmax-hz 8000 --name emg16k --out emg_fe_tables_16k.h

The C kernel (edge/frontend/c/, API emg_frontend.h) takes its tables as inputs and never
evaluates cos, sin or log itself, because a C libm may round a last bit differently from the
float64 construction of FRONTEND.md §8. This command writes exactly the tables the Python
front-end uses (the same arrays `Frontend` hands to the compiled extension), so a unit built
with the header computes the features a model bundle was trained on, bit for bit. The header
also records the spec version and the SHA-256 of every table, to compare with the golden file.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np

from clikit import UserError

from .config import FrontendConfig
from .pipeline import Frontend

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


def c_tables(cfg: FrontendConfig) -> dict[str, object]:
    """The emg_fe_tables fields of ``cfg``: the arrays `Frontend` hands to the compiled
    extension (int64 numpy), the scalars, and the struct's n_weights."""
    t = Frontend(cfg, kernel="numpy").kernel_tables()
    t["n_weights"] = int(t["weight"].size)
    return t


def _array(name: str, values: np.ndarray) -> str:
    v = np.asarray(values, dtype=np.int64).ravel()
    rows = [", ".join(f"{int(x)}" for x in v[i:i + 8]) for i in range(0, v.size, 8)]
    body = ",\n    ".join(rows)
    return f"static const int64_t {name}[{v.size}] = {{\n    {body}\n}};\n"


def render_header(cfg: FrontendConfig, name: str) -> str:
    """A self-contained C header defining ``<name>_tables`` (an emg_fe_tables initialiser)."""
    from . import SPEC_VERSION

    if not _NAME.match(name) or name.startswith("emg_fe"):
        raise ValueError(f"name={name!r}: allowed a C identifier of 1..41 characters ([A-Za-z_][A-Za-z0-9_]*) "
                         f"not starting with emg_fe (the kernel's own prefix)")
    t = c_tables(cfg)
    arrays = [k for k, v in t.items() if isinstance(v, np.ndarray)]
    guard = f"EMG_FE_TABLES_{name.upper()}_H"
    digests = "\n".join(f" *   {k:<11} sha256 {hashlib.sha256(np.asarray(t[k], dtype='<i8').tobytes()).hexdigest()}"
                        for k in arrays)
    out = [
        f"/* Front-end tables for emg_frontend.h, written by `emg-edge frontend-tables`; do not edit.\n"
        f" *\n"
        f" * Spec version {SPEC_VERSION}. Config: sample_rate={cfg.sample_rate} Hz, window_ms={cfg.window_ms}, "
        f"hop_ms={cfg.hop_ms},\n"
        f" * n_mels={cfg.n_mels}, fmin_hz={cfg.fmin_hz}, fmax_hz={cfg.fmax_hz} "
        f"(L={cfg.frame_length}, H={cfg.hop_length}, N={cfg.fft_size}).\n"
        f" * Frames advance by H = {cfg.hop_length} samples: pass it as frame_stride to emg_fe_compute.\n"
        f" * Digests of the little-endian int64 tables:\n{digests}\n */\n",
        f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n\n#include \"emg_frontend.h\"\n\n",
        f"#define {name.upper()}_HOP {cfg.hop_length}\n#define {name.upper()}_SAMPLE_RATE {cfg.sample_rate}\n\n",
    ]
    out += [_array(f"{name}_{k}", t[k]) + "\n" for k in arrays]
    fields = []
    for k, v in t.items():
        fields.append(f"    .{k} = {name}_{k}," if isinstance(v, np.ndarray) else f"    .{k} = {int(v)},")
    fields.append("    .flags = 0u,")
    out.append(f"static const emg_fe_tables {name}_tables = {{\n" + "\n".join(fields) + "\n};\n\n")
    out.append(f"#endif /* {guard} */\n")
    return "".join(out)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "frontend-tables", help="write the front-end tables as a C header for the firmware kernel",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--bundle", help="take the front-end config from this bundle ('default' or a directory)")
    for flag, kind, default, unit in (("--sample-rate", int, 44100, "Hz"), ("--window-ms", float, 25.0, "ms"),
                                      ("--hop-ms", float, 10.0, "ms"), ("--n-mels", int, 64, "bands"),
                                      ("--fmin-hz", float, 20.0, "Hz"), ("--fmax-hz", float, 10000.0, "Hz")):
        p.add_argument(flag, type=kind, default=None, help=f"{unit} (default {default}; ignored with --bundle)")
    p.add_argument("--name", default="fe", help="C identifier prefix of the tables (default fe: fe_tables, FE_HOP)")
    p.add_argument("--out", default="-", help="header file to write ('-' = stdout, the default)")
    p.set_defaults(func=main)


def config_from_args(args: argparse.Namespace) -> FrontendConfig:
    if args.bundle:
        from edge.bundle import BundleError, load_bundle

        try:
            return load_bundle(args.bundle).frontend_config
        except BundleError as exc:  # a user error: one line and exit 2, as in emg-edge run
            raise UserError(f"bundle refused: {exc}") from None
    given = {k: getattr(args, k) for k in ("sample_rate", "window_ms", "hop_ms", "n_mels", "fmin_hz", "fmax_hz")
             if getattr(args, k) is not None}
    return FrontendConfig(**given)


def main(args: argparse.Namespace) -> int:
    text = render_header(config_from_args(args), args.name)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
