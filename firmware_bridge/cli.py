"""``emg-bridge``: talk to an EMG amplifier, or pretend to be one."""

from __future__ import annotations

import sys

from clikit import run

#: Subcommand modules; each defines ``add_parser(subparsers)``.
COMMANDS: list[str] = [
    "firmware_bridge.sim.virtual_amp_cli",
    "firmware_bridge.host.monitor",
]


def main(argv: list[str] | None = None) -> int:
    return run("emg-bridge", __doc__.strip(), COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
