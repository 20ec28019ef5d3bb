"""The shared range check of config dataclasses (edge.validation)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.validation import check_range, check_ranges


@dataclass(frozen=True)
class Cfg:
    gap_ms: float = 3.0
    rounds: int = 2

    def __post_init__(self) -> None:
        check_ranges(self, (("gap_ms", 0.05, 20.0, "ms"), ("rounds", 1, 10, "", True)))


def test_message_names_owner_field_value_range_and_unit():
    with pytest.raises(ValueError, match=r"^Cfg\.gap_ms = 30\.0: allowed range is 0\.05\.\.20 ms$"):
        Cfg(gap_ms=30.0)
    with pytest.raises(ValueError, match=r"^Cfg\.rounds = 2\.0: allowed range is an integer in 1\.\.10$"):
        Cfg(rounds=2.0)


@pytest.mark.parametrize("bad", [True, False, "3", None, math.nan, math.inf, -math.inf, [3.0]])
def test_non_numbers_bools_and_non_finite_values_are_refused(bad):
    with pytest.raises(ValueError, match="gap_ms"):
        Cfg(gap_ms=bad)


def test_both_ends_are_included():
    Cfg(gap_ms=0.05, rounds=1)
    Cfg(gap_ms=20.0, rounds=10)


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_passes_exactly_the_finite_values_inside_the_range(v, a, b):
    lo, hi = min(a, b), max(a, b)
    inside = math.isfinite(v) and lo <= v <= hi
    try:
        check_range("T", "x", v, lo, hi)
        assert inside
    except ValueError as e:
        assert not inside and str(e).startswith(f"T.x = {v!r}: allowed range is ")
