"""Reference table: lookup, aliases, errors, and that every limit is sourced and consistent."""

from __future__ import annotations

import json

import pytest

from edge.quant.reference import MEASURES, TABLE_PATH, UNSPECIFIED, known_muscles, load_table, reference_for


def test_table_ships_with_the_package_and_every_limit_has_a_source():
    assert TABLE_PATH.is_file()
    table = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    for name, entry in table["muscles"].items():
        for row in entry["rows"]:
            for measure, lim in row["measures"].items():
                assert measure in MEASURES
                assert lim["source"], (name, measure)
                if lim["lln"] is not None and lim["uln"] is not None:
                    assert lim["lln"] < lim["uln"]
                if lim["mean"] is not None and lim["lln"] is not None and lim["uln"] is not None:
                    assert lim["lln"] < lim["mean"] < lim["uln"]


def test_tibialis_anterior_quotes_the_jnnp_controls():
    ref = reference_for("tibialis_anterior")
    amp, dur = ref.limit("amplitude_uv"), ref.limit("duration_ms")
    assert (amp.mean, amp.sd, amp.uln) == (661.5, 92.0, 845.5)
    assert (dur.mean, dur.sd, dur.uln) == (9.35, 0.93, 11.2)
    assert ref.limit("polyphasic_pct").uln == 35.0
    # derived LLNs are mean - 2 SD, as their derivation says
    assert amp.lln == pytest.approx(amp.mean - 2 * amp.sd)
    assert dur.lln == pytest.approx(dur.mean - 2 * dur.sd, abs=0.01)
    # recruitment frequency limits from the 90 ± 19 ms recruitment interval
    rec = ref.limit("recruitment_hz")
    assert rec.lln == pytest.approx(1000 / (90 + 38), abs=0.05)
    assert rec.uln == pytest.approx(1000 / (90 - 38), abs=0.05)


def test_unspecified_limits_are_wider_than_the_muscle_they_derive_from():
    ta, generic = reference_for("tibialis_anterior"), reference_for(None)
    assert generic.muscle == UNSPECIFIED
    for m in ("amplitude_uv", "duration_ms"):
        assert generic.limit(m).lln < ta.limit(m).lln and generic.limit(m).uln > ta.limit(m).uln
    assert "not a normative value" in generic.population


@pytest.mark.parametrize("name", ["TA", "tibialis anterior", "Tibialis-Anterior", " tib ant "])
def test_aliases_and_spelling(name):
    assert reference_for(name).muscle == "tibialis_anterior"


def test_unknown_muscle_is_a_one_line_error_naming_the_known_ones():
    with pytest.raises(ValueError) as exc:
        reference_for("deltoid")
    msg = str(exc.value)
    assert "\n" not in msg and "'deltoid'" in msg
    for name in known_muscles():
        assert name in msg


@pytest.mark.parametrize("age", [-1, 121, float("nan"), True, "40"])
def test_bad_age_names_the_range(age):
    with pytest.raises(ValueError, match="0..120"):
        reference_for("TA", age)


def test_age_without_age_bands_is_noted_not_silently_used():
    ref = reference_for("TA", 70)
    assert ref.age_band == (None, None)
    assert "70" in ref.note and "increase linearly with age" in ref.note
    assert reference_for("TA").note == ""


def test_to_dict_is_json():
    d = reference_for("TA").to_dict()
    assert json.loads(json.dumps(d))["measures"]["duration_ms"]["uln"] == 11.2
    assert set(load_table()["muscles"]) == set(known_muscles())
