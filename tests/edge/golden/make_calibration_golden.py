"""Regenerate calibration_v1.json: golden vectors of the calibration rule (edge/calibration.py).

Written with plain Python integers (no numpy), as a firmware engineer would check the rule:
G = floor(g·2^16 + 0.5); y = (x·G + 2^15) >> 16 (floor); −y if invert; clamp to int16.

    python tests/edge/golden/make_calibration_golden.py
"""

import json
import math
import random
from pathlib import Path

CASES = [  # source µV/LSB, target µV/LSB, invert
    (0.5, 0.5, False), (0.1, 0.5, False), (2.0, 0.5, False), (0.5, 0.1, False), (0.25, 0.5, False),
    (0.3, 0.7, False), (1.0, 0.5, True), (0.5, 0.5, True), (0.5 / 256, 0.5, False), (128.0, 0.5, False),
]
EDGES = [-32768, -32767, -16384, -3, -2, -1, 0, 1, 2, 3, 16383, 16384, 32766, 32767]


def rule(x: int, G: int, invert: bool) -> tuple[int, bool]:
    y = (x * G + (1 << 15)) >> 16
    if invert:
        y = -y
    c = min(32767, max(-32768, y))
    return c, c != y


def main() -> None:
    rnd = random.Random(11)
    vectors = []
    for s, t, inv in CASES:
        G = math.floor(s / t * 65536 + 0.5)
        xs = EDGES + [rnd.randint(-32768, 32767) for _ in range(50)] + [rnd.randint(-300, 300) for _ in range(20)]
        out = [rule(x, G, inv) for x in xs]
        vectors.append({"source_uv_per_lsb": s, "target_uv_per_lsb": t, "invert": inv, "G": G,
                        "x": xs, "y": [y for y, _ in out], "saturated": sum(c for _, c in out)})
    doc = {"rule": "G = floor(source/target*2^16 + 0.5); y = (x*G + 2^15) >> 16 (int64, floor); "
                   "y = -y if invert; clamp to [-32768, 32767]; saturated = samples the clamp changed",
           "vectors": vectors}
    Path(__file__).with_name("calibration_v1.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
