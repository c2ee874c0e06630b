"""The catalogue's LOINC codes and the export's UCUM table: every code well-formed (LOINC's own mod-10
check digit), every catalogue unit mapped, and the codes the issue names where it names them."""

from __future__ import annotations

import re

from fhir_export import codes
from modalities import registry

ISSUE_CODES = {
    "heart_rate": "8867-4",
    "systolic_bp": "8480-6",
    "total_cholesterol": "2093-3",
    "hdl_cholesterol": "2085-9",
    "egfr": "98979-8",
    "bmi": "39156-5",
    # The issue named 8636-3, which LOINC describes as the code "to report a QTc without specifying a method"
    # and points to 76635-2 for Bazett's (76634-5 for Fridericia's): the method-specific codes are sent.
    "qtc_bazett": "76635-2",
    "qtc_fridericia": "76634-5",
}


def _specs():
    return [spec for name in registry.names() for spec in registry.get(name).modality.catalogue.values()]


def loinc_check_digit(base: str) -> int:
    """LOINC's mod-10 check digit (the Luhn scheme): from the right, double every other digit, starting
    with the rightmost, sum the digits of every product and every other digit, and round up to ten."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(base)):
        if position % 2 == 0:
            digit *= 2
            digit = digit // 10 + digit % 10
        total += digit
    return (10 - total % 10) % 10


def test_the_check_digit_scheme_on_loincs_own_example():
    # The LOINC Users' Guide works the algorithm on 12345, whose check digit is 5.
    assert loinc_check_digit("12345") == 5


def test_every_loinc_code_in_the_catalogue_is_well_formed():
    coded = [spec for spec in _specs() if spec.loinc]
    assert len(coded) >= len(ISSUE_CODES)
    for spec in coded:
        match = re.fullmatch(r"(\d{1,7})-(\d)", spec.loinc)
        assert match, f"{spec.name}: {spec.loinc!r}"
        assert loinc_check_digit(match[1]) == int(match[2]), f"{spec.name}: {spec.loinc} has a wrong check digit"
    assert len({spec.loinc for spec in coded}) == len(coded), "two biomarkers share a LOINC code"


def test_the_codes_the_issue_names():
    specs = {spec.name: spec for spec in _specs()}
    assert {name: specs[name].loinc for name in ISSUE_CODES} == ISSUE_CODES


def test_every_catalogue_unit_has_a_ucum_code():
    missing = sorted({spec.unit for spec in _specs()} - set(codes.UCUM_CODES))
    assert not missing, f"add these units to fhir.codes.UCUM_CODES: {missing}"


def test_a_loinc_code_finds_its_biomarker_and_an_unknown_finds_nothing():
    assert codes.names_for_code(codes.LOINC, "2093-3") == {"total_cholesterol"}
    assert codes.names_for_code(None, "2093-3") == {"total_cholesterol"}
    assert codes.names_for_code(codes.biomarker_system(), "total_cholesterol") == {"total_cholesterol"}
    assert codes.names_for_code("http://snomed.info/sct", "2093-3") == set()
    assert codes.names_for_code(codes.LOINC, "total_cholesterol") == set()


def test_every_modality_and_catalogue_category_has_an_hl7_observation_category():
    allowed = {"social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam", "therapy",
               "activity"}  # fmt: skip
    for name in registry.names():
        for spec in registry.get(name).modality.catalogue.values():
            code = codes.category(name, spec.category)[0]["coding"][0]["code"]
            assert code in allowed, (name, spec.name, code)
    assert codes.category("cvd_risk", "lipids")[0]["coding"][0]["code"] == "laboratory"
    assert codes.category("cvd_risk", "blood_pressure")[0]["coding"][0]["code"] == "vital-signs"
    assert codes.category("cardiology", "rhythm")[0]["coding"][0]["code"] == "procedure"


def test_flags_read_as_hl7_interpretations_with_the_side_of_a_critical_value():
    def hl7(flag, value, low, high):
        found = codes.interpretation(flag, value, low, high)
        return [c["code"] for c in found[0]["coding"] if c["system"] == codes.INTERPRETATION] if found else None

    assert hl7("normal", 110, 90, 120) == ["N"]
    assert hl7("low", 85, 90, 120) == ["L"]
    assert hl7("high", 130, 90, 120) == ["H"]
    assert hl7("critical", 190, 90, 120) == ["HH"]  # a hypertensive crisis: above the range
    assert hl7("critical", 12, 60, None) == ["LL"]  # kidney failure: eGFR below the range
    assert hl7("critical", 5, None, None) == ["AA"]  # no stored range to say which side
    assert hl7("intermediate", 9.9, None, None) == []  # a risk category: MediLens's own flag only
    assert hl7("none", 3.0, None, None) is None  # no range: no interpretation at all


def test_a_probability_score_must_be_on_a_probability_scale():
    import pytest

    from modalities.results import ScoreScale

    ScoreScale(key="risk", label="Risk", unit="%", minimum=0, maximum=100, source="s", probability=True)
    with pytest.raises(ValueError, match="probability"):
        ScoreScale(key="points", label="Points", unit="points", minimum=0, maximum=10, source="s", probability=True)
