"""``emg-convert``: simulate, read, train, quantize, evaluate and export needle-EMG detectors."""

from __future__ import annotations

import sys

from clikit import run

#: Subcommand modules; each defines ``add_parser(subparsers)``.
COMMANDS: list[str] = [
    "convert.train",
    "convert.finetune",
    "convert.ensemble",
    "convert.evaluate",
    "convert.check_data",
    "convert.gallery",
    "convert.synth",
    "convert.detector_tuning",
    "convert.pattern_model",
    "convert.sign",
    "convert.annotations",
    "convert.sweep",
    "convert.sweep_ensemble",
    "convert.sweep_evaluate",
]


def main(argv: list[str] | None = None) -> int:
    return run("emg-convert", __doc__.strip(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
