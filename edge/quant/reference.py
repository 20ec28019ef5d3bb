"""Normative values of voluntary motor unit potentials, by muscle (and age band where given).

The table is data, ``reference_values.json`` next to this module (packaged with ``edge``);
every limit names its source and, when it is computed rather than quoted, how (e.g. "LLN =
mean − 2 SD"). Only muscles with a sourced value are listed: tibialis anterior (concentric
needle, JNNP control table) and ``unspecified``, whose WIDE limits are derived from the
tibialis anterior row (mean ± 3 SD) for a recording whose muscle is not given; it is a
screen, not a normative value of any muscle. docs/QEMG.md prints the table.

Measures (:class:`Limit` per name): ``amplitude_uv`` (mean peak-to-peak, µV),
``duration_ms`` (mean, ms), ``area_uv_ms`` (mean, µV·ms), ``phases``, ``turns`` (means),
``polyphasic_pct`` (% of units with more than 4 phases), ``recruitment_hz`` (Hz, rate of the
first unit when the next is recruited), ``max_firing_hz`` (Hz, fastest unit at low to
moderate effort). ``lln``/``uln`` are the lower/upper limits of normal (None: no limit).

``reference_for(muscle, age=None)`` → :class:`Reference`; an unknown muscle raises a
one-line ValueError naming the known ones. No source at hand gives numeric age bands, so
``age`` only selects among rows that have them and is otherwise recorded in the note.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: The table, shipped with the package (setup.cfg package_data).
TABLE_PATH = Path(__file__).resolve().parent / "reference_values.json"
#: Muscle used when none is given.
UNSPECIFIED = "unspecified"
MEASURES = ("amplitude_uv", "duration_ms", "area_uv_ms", "phases", "turns", "polyphasic_pct", "recruitment_hz",
            "max_firing_hz")
MAX_AGE = 120.0

__all__ = ["Limit", "Reference", "reference_for", "known_muscles", "load_table", "UNSPECIFIED", "MEASURES"]


@dataclass(frozen=True)
class Limit:
    """One measure's reference: ``mean``/``sd`` where the source gives them, ``lln``/``uln``
    (lower/upper limit of normal, None = none), the ``source`` and the ``derivation``."""

    mean: float | None
    sd: float | None
    lln: float | None
    uln: float | None
    source: str
    derivation: str = ""

    def __post_init__(self) -> None:
        if self.lln is None and self.uln is None:
            raise ValueError(f"a reference limit needs an lln or a uln (source: {self.source})")
        if self.lln is not None and self.uln is not None and not self.lln < self.uln:
            raise ValueError(f"reference lln {self.lln} must be below uln {self.uln} (source: {self.source})")
        if not self.source:
            raise ValueError("every reference limit needs its source")

    def status(self, value: float | None) -> str | None:
        """``"low"``, ``"high"`` or ``"within"`` for ``value`` (None → None)."""
        if value is None or not math.isfinite(value):
            return None
        if self.lln is not None and value < self.lln:
            return "low"
        if self.uln is not None and value > self.uln:
            return "high"
        return "within"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "lln": self.lln, "uln": self.uln, "source": self.source,
                "derivation": self.derivation}


@dataclass(frozen=True)
class Reference:
    """The reference row for one muscle (and age band). ``muscle`` is the table's name."""

    muscle: str
    needle: str
    population: str
    age_band: tuple[float | None, float | None]
    measures: dict = field(default_factory=dict)
    note: str = ""

    def limit(self, measure: str) -> Limit | None:
        """The :class:`Limit` of ``measure`` or None when the row has none."""
        return self.measures.get(measure)

    def to_dict(self) -> dict:
        return {"muscle": self.muscle, "needle": self.needle, "population": self.population,
                "age_band": list(self.age_band), "measures": {k: v.to_dict() for k, v in self.measures.items()},
                "note": self.note}


@lru_cache(maxsize=1)
def load_table(path: str | Path = TABLE_PATH) -> dict:
    """The parsed table (validated: every muscle has rows, every limit a source)."""
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    for name, entry in table["muscles"].items():
        if not entry.get("rows"):
            raise ValueError(f"reference table: muscle {name!r} has no rows")
        for row in entry["rows"]:
            for measure, lim in row["measures"].items():
                if measure not in MEASURES:
                    raise ValueError(f"reference table: {name}: unknown measure {measure!r}")
                Limit(**lim)
    return table


def known_muscles() -> tuple[str, ...]:
    """Table names of the muscles with reference values."""
    return tuple(load_table()["muscles"])


def _canonical(muscle: str | None) -> str:
    if muscle is None:
        return UNSPECIFIED
    key = " ".join(str(muscle).strip().lower().replace("_", " ").replace("-", " ").split())
    for name, entry in load_table()["muscles"].items():
        if key == name.replace("_", " ") or key in entry.get("aliases", ()):
            return name
    raise ValueError(f"unknown muscle {muscle!r}: reference values exist for {', '.join(known_muscles())}")


def _in_band(row: dict, age: float | None) -> bool:
    lo, hi = row.get("age_min"), row.get("age_max")
    if age is None or (lo is None and hi is None):
        return True
    return (lo is None or age >= lo) and (hi is None or age < hi)


def reference_for(muscle: str | None = None, age: float | None = None) -> Reference:
    """The reference row of ``muscle`` (table name or alias, case-insensitive; None =
    ``unspecified``) for a subject aged ``age`` years (0–120, None = any).

    Raises ValueError (one line) for an unknown muscle, an age out of range, or an age no
    row of that muscle covers.
    """
    if age is not None:
        if isinstance(age, bool) or not (isinstance(age, (int, float)) and 0.0 <= age <= MAX_AGE):
            raise ValueError(f"age {age!r}: allowed range is 0..{MAX_AGE:g} years")
        age = float(age)
    name = _canonical(muscle)
    table = load_table()
    rows = [r for r in table["muscles"][name]["rows"] if _in_band(r, age)]
    if not rows:
        raise ValueError(f"no reference values for {name} at age {age:g}")
    row = rows[0]
    banded = row.get("age_min") is not None or row.get("age_max") is not None
    note = "" if banded or age is None else f"age {age:g} not used: {table['age_note']}"
    return Reference(muscle=name, needle=row["needle"], population=row["population"],
                     age_band=(row.get("age_min"), row.get("age_max")),
                     measures={k: Limit(**v) for k, v in row["measures"].items()}, note=note)
