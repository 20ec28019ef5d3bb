"""Gallery: renders one row per class to a PNG, via the API and the CLI; matplotlib is lazy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from convert.cli import main

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_gallery_cli_writes_png(tmp_path):
    out = tmp_path / "g" / "gallery.png"
    assert main(["gallery", "--out", str(out), "--sample-rate", "16000", "--dpi", "30"]) == 0
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    from PIL import Image

    with Image.open(out) as im:
        w, h = im.size
    assert h > w  # twelve rows stacked


def test_gallery_bad_rate_is_a_user_error(tmp_path, capsys):
    assert main(["gallery", "--out", str(tmp_path / "x.png"), "--sample-rate", "4000"]) == 2
    assert "8000..48000" in capsys.readouterr().err


def test_importing_gallery_does_not_import_matplotlib():
    code = "import sys, convert.gallery; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
