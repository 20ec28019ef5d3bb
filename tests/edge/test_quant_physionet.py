"""QEMG on the three real PhysioNet emgdb records (concentric needle, tibialis anterior,
4 kHz, 0.1 µV per LSB; ODC-By 1.0, see the data README): the ordering clinicians expect —
neuropathy MUAPs larger and longer than healthy, myopathy smaller, shorter and more
polyphasic. Medians over the units found. Orderings not reached are strict expected failures
with the measured figures (README, QEMG section)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.quant import quantify

DATA = Path(__file__).resolve().parents[1] / "data" / "physionet-emgdb"


@pytest.fixture(scope="module")
def med():
    out = {}
    for name in ("healthy", "myopathy", "neuropathy"):
        x = np.fromfile(DATA / f"emg_{name}.dat", dtype="<i2")
        r = quantify(x, 4000, uv_per_lsb=0.1, muscle="tibialis_anterior")
        assert len(r.units) >= 3, r.measures.reason
        out[name] = {
            "amplitude_uv": float(np.median([u.amplitude_uv for u in r.units])),
            "duration_ms": float(np.median([u.duration_ms for u in r.units])),
            "polyphasic": float(np.mean([u.phases > 4 for u in r.units])),
        }
    return out


def test_neuropathy_larger(med):
    assert med["neuropathy"]["amplitude_uv"] > 2 * med["healthy"]["amplitude_uv"]


def test_neuropathy_longer(med):
    assert med["neuropathy"]["duration_ms"] > med["healthy"]["duration_ms"]


def test_myopathy_more_polyphasic(med):
    assert med["myopathy"]["polyphasic"] > med["healthy"]["polyphasic"] + 0.3


@pytest.mark.xfail(strict=True, reason="measured medians since the 4 kHz records are analysed interpolated to "
                                        "10 kHz (edge.quant.upsample): myopathy 388 uV over 18 units vs healthy "
                                        "233 uV over 10 (289 uV before fragments were joined by all their "
                                        "templates; before, on the 4 kHz grid that found 15 % of simulated "
                                        "units: 304 vs 322 uV over 13 and 7)")
def test_myopathy_smaller(med):
    assert med["myopathy"]["amplitude_uv"] < med["healthy"]["amplitude_uv"]


@pytest.mark.xfail(strict=True, reason="measured medians: myopathy 12.35 ms vs healthy 6.15 ms (10 of the myopathy "
                                        "record's 18 units are polyphasic, late components inside the 3 ms "
                                        "isoelectric gap; 3 of the healthy record's 10 units measure 3.0-4.7 ms)")
def test_myopathy_shorter(med):
    assert med["myopathy"]["duration_ms"] < med["healthy"]["duration_ms"]
