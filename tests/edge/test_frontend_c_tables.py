"""`emg-edge frontend-tables` + the C kernel compiled outside Python (as firmware would build it):
the features equal the Python front-end's bit for bit, so a unit can compute what a bundle was
trained on. Skipped only when no C compiler is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main as edge_main
from edge.frontend import Frontend, FrontendConfig
from edge.frontend.export_c import render_header
from tests.edge.golden.frontend_signals import CONFIGS, golden_signals

C_DIR = Path(__file__).resolve().parents[2] / "edge" / "frontend" / "c"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) on PATH")
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]


def build(tmp_path: Path, cfg: FrontendConfig) -> Path:
    (tmp_path / "emg_fe_tables.h").write_text(render_header(cfg, "fe"))
    exe = tmp_path / "fe_example"
    subprocess.run([CC, *STRICT, f"-I{C_DIR}", f"-I{tmp_path}", str(C_DIR / "fe_example.c"),
                    str(C_DIR / "emg_frontend.c"), "-o", str(exe)], check=True, capture_output=True, text=True)
    return exe


@needs_cc
@pytest.mark.parametrize("rate", [8000, 44100])
def test_standalone_c_kernel_with_exported_tables_equals_python(tmp_path, rate):
    cfg = FrontendConfig(**CONFIGS[rate])
    exe = build(tmp_path, cfg)
    for name, pcm in golden_signals(rate).items():
        out = subprocess.run([str(exe)], input=pcm.astype("<i2").tobytes(), capture_output=True, check=True).stdout
        got = np.frombuffer(out, dtype="<i2").reshape(-1, cfg.n_mels)
        np.testing.assert_array_equal(got, Frontend(cfg, kernel="numpy").process(pcm), err_msg=name)


def test_cli_writes_the_bundle_config_header(tmp_path, capsys):
    out = tmp_path / "t.h"
    assert edge_main(["frontend-tables", "--bundle", "default", "--name", "dflt", "--out", str(out)]) == 0
    text = out.read_text()
    assert "static const emg_fe_tables dflt_tables" in text and "Spec version 1.1" in text
    assert "#define DFLT_HOP 441" in text


def test_cli_rejects_a_bad_config_in_one_line(capsys):
    assert edge_main(["frontend-tables", "--sample-rate", "8000", "--fmax-hz", "6000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fmax" in err
