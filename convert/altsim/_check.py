"""Validation helpers for the configs: errors name the bad value and the allowed range."""

from __future__ import annotations

import math


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    """Raise ``ValueError`` unless ``lo <= value <= hi`` (a finite number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: must be a finite number in [{lo}, {hi}]")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value!r}: allowed range is [{lo}, {hi}]")


def check_pair(name: str, pair: tuple[float, float], lo: float, hi: float) -> None:
    """Raise ``ValueError`` unless ``pair`` is ``(a, b)`` with ``lo <= a <= b <= hi``."""
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {pair!r}: must be a (low, high) pair within [{lo}, {hi}]") from None
    check_range(f"{name}[0]", a, lo, hi)
    check_range(f"{name}[1]", b, lo, hi)
    if a > b:
        raise ValueError(f"{name} = {pair!r}: low {a} is above high {b}; allowed range is [{lo}, {hi}]")
