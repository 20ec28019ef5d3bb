"""Command-line plumbing shared by the kit's three console scripts.

A console script is a set of subcommands; each subcommand module exposes
``add_parser(subparsers)`` which registers itself and sets ``func`` on its parser.
User errors (bad arguments, missing files, invalid configs) end in one line on stderr and
a non-zero exit status, never a traceback. A package of its own below ``firmware_bridge``,
``edge`` and ``convert`` (it imports none of them), so each may use it without depending on
another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

#: Exit statuses shared by all commands.
EXIT_OK = 0
EXIT_FAILURE = 1  # runtime failure (link lost for good, model error)
EXIT_USAGE = 2  # bad arguments or input the user can fix
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status :data:`EXIT_USAGE`."""


def kit_version() -> str:
    """The installed distribution's version (``emg-edge-kit``), for ``--version``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


#: The distribution all three console scripts come from (setup.cfg ``name``).
DISTRIBUTION = "emg-edge-kit"


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    """Build ``prog`` with one subcommand per module path in ``modules`` (and ``--version``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {kit_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in modules:
        importlib.import_module(name).add_parser(sub)
    return parser


def run(prog: str, description: str, modules: Sequence[str], argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen subcommand and map errors to exit statuses."""
    parser = build_parser(prog, description, modules)
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int | None] = args.func
    try:
        return int(func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
