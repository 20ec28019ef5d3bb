"""The shared command-line plumbing: --version on every console script, one-line user errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import edge
from clikit import UserError, run


@pytest.mark.parametrize("module", ["edge.cli", "convert.cli", "firmware_bridge.cli"])
def test_every_console_script_has_version(module):
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith(edge.__version__)


def test_user_error_is_one_line_and_exit_2(capsys, monkeypatch):
    import types

    mod = types.ModuleType("_fake_cmd")

    def add_parser(sub):
        p = sub.add_parser("boom")
        p.set_defaults(func=lambda args: (_ for _ in ()).throw(UserError("bad input X")))

    mod.add_parser = add_parser
    monkeypatch.setitem(sys.modules, "_fake_cmd", mod)
    assert run("prog", "d", ["_fake_cmd"], ["boom"]) == 2
    assert capsys.readouterr().err == "prog: error: bad input X\n"


def test_emg_edge_lists_the_demo():
    out = subprocess.run([sys.executable, "-m", "edge.cli", "demo", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "--realtime" in out.stdout
