"""Cross-condition benchmark: train small int8 CNNs on a restricted set of recording conditions
and evaluate each on conditions held out of training (issue 11 part 6).

    .venv/bin/python benchmarks/cross_condition.py [--seeds 3] [--epochs 15] [--out benchmarks/results/cross_condition.json]
    .venv/bin/python benchmarks/cross_condition.py --quick     # tiny sets, 2 epochs, 1 seed: checks the harness
    .venv/bin/python benchmarks/cross_condition.py [training sizes] --reuse --work DIR   # re-score DIR's bundles

Training condition: concentric needle, chain rates >= 22.05 kHz, high-pass 5-10 Hz, low-pass
>= 5 kHz (``convert.conditions.TRAIN_CHAIN``). Test conditions, each holding out one axis:
monopolar needle, 4/10 kHz archives, unseen filters (HP 2 or 20 Hz, LP 2-3 kHz), plus the
training condition on disjoint seeds for reference (definitions in ``convert/conditions.py``).
Per condition and seed: int8 macro-F1, pathological sensitivity/specificity, share of voluntary
windows called pathological, share of normal windows called pathological; the table shows
mean ± sd over seeds. Bundles go to ``--work`` (default a temporary directory); ``--reuse``
evaluates the bundles already there (trained with the same training sizes) instead of training
again, e.g. on other test sets. Test sets: 12 clips per class and 4 examinations per condition
(4,954 windows; with the earlier 4 and 2 a voluntary set held 12 clips, and one misjudged clip
moved the voluntary → pathological share by ~17 points).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from convert import cross_condition  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cross_condition.json"


def main(argv: list[str] | None = None) -> int:
    return cross_condition.main(argv, "python benchmarks/cross_condition.py", DEFAULT_OUT, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
