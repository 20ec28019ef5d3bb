"""``emg-edge``: the on-device detection runtime."""

from __future__ import annotations

import sys

from clikit import run

#: Subcommand modules; each defines ``add_parser(subparsers)``.
COMMANDS: list[str] = [
    "edge.runtime.cli_run",
    "edge.runtime.outbox_cli",
    "edge.frontend.export_c",
    "edge.quant.cli",
    "edge.demo.run",
]


def main(argv: list[str] | None = None) -> int:
    return run("emg-edge", __doc__.strip(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
