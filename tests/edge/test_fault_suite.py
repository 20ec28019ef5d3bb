"""The standing fault suite (``benchmarks/faults.py``, issue 14) runs at a tiny size and its
figures hold: no corrupted frame accepted, no exception, no alert lost or shown twice across
kill -9 / unplug / disk-full faults, a bounded decoder buffer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.pty, pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pty")]


def test_the_fault_suite_at_a_tiny_size(tmp_path):
    out = tmp_path / "faults.json"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "faults.py"), "--frames", "3000", "--chaos", "3",
                        "--hours", "0.01", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "accepted corruptions" in p.stdout  # the table
    res = json.loads(out.read_text())
    f, c, s = res["fuzz"], res["chaos"], res["stream"]
    assert f["frames"] == 3000 and f["accepted_corruptions"] == 0 and f["exceptions"] == 0
    assert f["valid_decoded"] >= f["clean_sent"] > 0  # the decoder kept decoding between corruptions
    assert f["max_buffered_bytes"] <= f["decoder_limit_bytes"]
    assert c["faults"] >= 1 and c["alerts_stored"] >= 1 and c["tracebacks"] == 0
    assert c["lost"] == 0 and c["shown_twice"] == 0 and c["shown_not_stored"] == 0 and c["not_delivered"] == 0
    assert c["ids_contiguous"] and c["jsonl_missing"] == 0
    assert s["exit_code"] == 0 and s["alerts"] >= 1
