"""Migration 0009 on rows that exist: stored cardiovascular-risk inputs lose the units in their names and say
their unit in a field, so the worker reads an old row as a new one; other modalities' inputs are untouched;
going back restores the old names."""

from datetime import date

import pytest

from medilens.testing.migrations import leaves, migrate
from modalities.cvd_risk import inputs as cvd_inputs
from modalities.cvd_risk import rule

BEFORE = [("assessments", "0008_patient_retention")]
AFTER = [("assessments", "0009_unitless_cvd_inputs")]
OLD_PANEL = {
    "age": 55, "sex": "male", "race": "white", "total_cholesterol_mg_dl": 213.0, "hdl_cholesterol_mg_dl": 50.0,
    "systolic_bp": 120.0, "bp_treated": False, "diabetic": False, "smoker": False, "statin": False, "bmi": None,
    "egfr": 90.0, "creatinine_mg_dl": None, "prior_cvd": False, "measured_on": None,
    "entered": {"cholesterol_unit": "mmol/L", "creatinine_unit": "mg/dL"},
}  # fmt: skip


@pytest.fixture
def at_0008(transactional_db):
    """Migrate back to 0008 (the other apps at their newest) and, whatever happens, forward to every leaf."""
    # rls.0001 (Row-Level Security) depends on assessments' newest migration: going back unapplies it.
    apps = migrate([*BEFORE, *(leaf for leaf in leaves() if leaf[0] not in ("assessments", "rls"))])
    try:
        yield apps
    finally:
        migrate(leaves())


def test_stored_cvd_inputs_are_renamed_and_read_as_new_ones(at_0008):
    apps = at_0008
    organization = apps.get_model("accounts", "Organization").objects.create(slug="m8", name="M8")
    patient = apps.get_model("assessments", "Patient").objects.create(
        organization=organization, mrn="M8-1", given_name="Ada", family_name="Okafor",
        date_of_birth=date(1970, 1, 1), sex_at_birth="male",
    )  # fmt: skip
    Assessment = apps.get_model("assessments", "Assessment")  # noqa: N806 - a model class
    cvd = Assessment.objects.create(organization=organization, patient=patient, modality="cvd_risk", inputs=OLD_PANEL)
    other = {"task": "sustained_vowel", "total_cholesterol_mg_dl": 1}  # not a cvd_risk row: left as it is
    speech = Assessment.objects.create(organization=organization, patient=patient, modality="speech", inputs=other)

    apps = migrate(AFTER)
    rows = dict(apps.get_model("assessments", "Assessment").objects.values_list("pk", "inputs"))
    converted = rows[cvd.pk]
    assert {key for key in converted if key.endswith("_mg_dl")} == set()
    values = (converted["total_cholesterol"], converted["hdl_cholesterol"], converted["creatinine"])
    assert values == (213.0, 50.0, None)
    assert converted["cholesterol_unit"] == converted["creatinine_unit"] == "mg/dL"
    assert converted["entered"] == OLD_PANEL["entered"]
    assert rows[speech.pk] == other
    # The worker's reading of the converted row is the Goff 2014 worked example (white man: 5.3%).
    assert rule.assess(cvd_inputs.panel(converted)).risk_score == pytest.approx(5.3, abs=0.1)

    apps = migrate(BEFORE)
    restored = apps.get_model("assessments", "Assessment").objects.get(pk=cvd.pk).inputs
    assert restored == OLD_PANEL
