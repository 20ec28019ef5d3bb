"""Regenerate frontend_v<SPEC_VERSION>.json: `python -m tests.edge.golden.make_frontend_golden`.

Only for a NEW spec version: the golden vectors of a released version never change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from edge.frontend import SPEC_VERSION, Frontend, FrontendConfig
from tests.edge.golden.frontend_signals import CONFIGS, golden_signals


def digest(a: np.ndarray) -> str:
    """sha256 of the little-endian bytes of an integer array (row-major)."""
    return hashlib.sha256(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()


def golden_path() -> Path:
    return Path(__file__).with_name(f"frontend_v{SPEC_VERSION}.json")


def table_digests(fe: Frontend) -> dict[str, str]:
    from edge.frontend.fft import twiddles
    from edge.frontend.log import LOG2_TABLE
    c, s = twiddles(fe.cfg.fft_size)
    return {"window_q30": digest(fe.window), "cos_q26": digest(c), "sin_q26": digest(s),
            "mel_weights_q16": digest(fe.filterbank.weights), "log2_q16": digest(LOG2_TABLE)}


def build() -> dict:
    out = {"spec_version": SPEC_VERSION, "configs": {}, "tables": {}, "vectors": {}}
    for sr, kw in sorted(CONFIGS.items()):
        cfg = FrontendConfig(**kw)
        fe = Frontend(cfg)
        out["configs"][str(sr)] = cfg.to_dict()
        out["tables"][str(sr)] = table_digests(fe)
        for name, pcm in golden_signals(sr).items():
            fe.reset()
            f = fe.process(pcm)
            mid = f.shape[0] // 2
            out["vectors"][f"{sr}/{name}"] = {
                "input_sha256": digest(pcm), "shape": list(f.shape), "sha256": digest(f),
                "sum": int(f.astype(np.int64).sum()), "max": int(f.max()),
                "frame_mid_first8": [int(v) for v in f[mid, :8]],
            }
    return out


if __name__ == "__main__":
    path = golden_path()
    path.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")
