"""Range checks of config dataclasses: one rule, one message.

Every config validates itself at construction and names the bad value and the allowed range
(``QuantConfig.block_s = 0.1: allowed range is 0.2..600 s``). The configs of ``edge`` and
``convert`` call these two functions instead of each writing the same loop.

A value passes when it is a real number (``bool`` is refused: ``True`` is not a 1 ms gap),
finite, inside ``[lo, hi]`` (both ends included) and, for ``integer=True``, an ``int``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["check_range", "check_ranges"]


def check_range(owner: str, name: str, value: Any, lo: float, hi: float, unit: str = "",
                integer: bool = False) -> None:
    """Raise ``ValueError("{owner}.{name} = {value!r}: allowed range is {lo}..{hi} {unit}")``
    unless ``value`` passes (module docstring). ``owner`` is the class (or TOML table) name."""
    kinds = (int,) if integer else (int, float)
    ok = (not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)
          and lo <= value <= hi)
    if not ok:
        what = "an integer in " if integer else ""
        suffix = f" {unit}" if unit else ""
        raise ValueError(f"{owner}.{name} = {value!r}: allowed range is {what}{lo:g}..{hi:g}{suffix}")


def check_ranges(obj: Any, fields: Iterable[tuple], unit: str = "") -> None:
    """:func:`check_range` on each ``(name, lo, hi[, unit[, integer]])`` of ``fields``, reading
    ``getattr(obj, name)``; the owner is ``type(obj).__name__``, ``unit`` the default unit."""
    owner = type(obj).__name__
    for spec in fields:
        name, lo, hi, *rest = spec
        check_range(owner, name, getattr(obj, name), lo, hi, rest[0] if rest else unit,
                    bool(rest[1]) if len(rest) > 1 else False)
