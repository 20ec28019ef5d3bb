"""The shipped demo recording is what ``python -m convert.demo_recording`` makes."""

import json
from pathlib import Path

from convert.demo_recording import make

SHIPPED = Path(__file__).resolve().parents[2] / "edge" / "demo" / "data"


def test_shipped_demo_recording_regenerates_bit_for_bit(tmp_path):
    info = make(tmp_path)
    shipped = json.loads((SHIPPED / "demo.json").read_text())
    assert info["sha256"] == shipped["sha256"], "regenerate with: python -m convert.demo_recording"
    assert (tmp_path / "demo.labels.csv").read_text() == (SHIPPED / "demo.labels.csv").read_text()
