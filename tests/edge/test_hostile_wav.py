"""Issue 14, WAV rows: files whose headers lie are refused in one line (exit 2), never a spin.

A data chunk claiming more bytes than the file holds made ``emg-edge run --source wav:…`` spin
at 98 % CPU (empty reads never advanced) and ``virtual-amp`` grow ~25 MB/s; an fmt chunk of
size 0xFFFFFFF0 raised RuntimeError, a rate of 0 ZeroDivisionError."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.host.source import WavSource

ROOT = Path(__file__).resolve().parents[2]


def lying_wav(path: Path, *, rate: int = 8000, n: int = 4000, claim: int | None = None,
              fmt_size: int = 16) -> Path:
    """A mono 16-bit WAV whose data chunk claims ``claim`` bytes and fmt chunk ``fmt_size``."""
    pcm = (np.arange(n) % 200 - 100).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt
            + b"data" + struct.pack("<I", len(pcm) if claim is None else claim) + pcm)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


CASES = {
    "data-claims-more": (dict(claim=10**9), r"data chunk declares 1000000000 bytes but only 8000 are in the file"),
    "fmt-size-huge": (dict(fmt_size=0xFFFFFFF0), r"fmt chunk declares 4294967280 bytes"),
    "rate-0": (dict(rate=0), r"sample rate 0 Hz is outside 1000\.\.384000 Hz"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_wav_source_refuses_at_open(tmp_path, case):
    kw, message = CASES[case]
    with pytest.raises(ValueError, match=message):
        WavSource(lying_wav(tmp_path / "x.wav", **kw), speed=None)


def test_a_file_that_shrinks_while_read_ends_the_stream_with_a_warning(tmp_path, caplog):
    path = lying_wav(tmp_path / "x.wav", n=4000)
    src = WavSource(path, speed=None, block=1000, uv_per_lsb=0.5)
    first = src.read_block()
    with open(path, "r+b") as fh:  # cut the last 1500 samples (3000 bytes) off
        fh.truncate(path.stat().st_size - 3000)
    blocks = [first]
    with pytest.raises(EOFError):
        for _ in range(10):  # would spin forever on empty reads before the fix
            blocks.append(src.read_block())
    src.close()
    assert sum(b.samples.size for b in blocks) == 2500
    assert "ends 1500 frames early" in caplog.text


def _one_line_exit_2(cmd: list[str]) -> str:
    out = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_emg_edge_run_and_virtual_amp_refuse_in_one_line(tmp_path, case):
    kw, message = CASES[case]
    path = lying_wav(tmp_path / "x.wav", **kw)

    line = _one_line_exit_2(["edge.cli", "run", "--speed", "max", "--source", f"wav:{path}?uv_per_lsb=0.5"])
    assert re.search(message, line), line
    line = _one_line_exit_2(["firmware_bridge.cli", "virtual-amp", "--wav", str(path)])
    assert re.search(message, line), line
