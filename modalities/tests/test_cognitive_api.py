"""The cognitive battery through the API: schema errors are a 400 with field errors (keyed by the path of the
value) and nothing stored; valid responses become an assessment the pipeline completes."""

import pytest

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline
from assessments.models import Assessment, BiomarkerValue
from assessments.tests.helpers_api import assert_error, make_patient
from modalities.cognitive import synthetic
from modalities.cognitive.analyzer import CognitiveAnalyzer

pytestmark = pytest.mark.django_db

URL = "/api/v1/assessments/"


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a, given_name="Ada", family_name="Lovelace-Marker")


def _count(model) -> int:
    with scopes_disabled():
        return model.objects.count()


# --- the API ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda r: r["reaction_time"]["trials"][2].update(rt_ms=7200),
         "inputs.reaction_time.trials[2].rt_ms", "beyond the 5000 ms response window"),
        (lambda r: r["reaction_time"].update(trials=r["reaction_time"]["trials"][:2]),
         "inputs.reaction_time.trials", "5 to 100 trials (2 given)"),
        (lambda r: r["digit_span"]["forward"][0].update(presented=[1, "two", 3]),
         "inputs.digit_span.forward[0].presented[1]", "digit 0-9"),
        (lambda r: r["word_recall"].pop("delay_ms"), "inputs.word_recall.delay_ms", "required"),
        (lambda r: r["word_recall"].update(words=["cat"] * 10), "inputs.word_recall.words", "all be different"),
        (lambda r: r.update(colour="blue"), "inputs.colour", "Unknown field"),
    ],
)
def test_bad_responses_through_the_api_are_400_with_the_field_and_nothing_is_stored(
    tenant_a, patient, change, field, message
):
    responses = synthetic.normal_case()
    change(responses)
    before = (_count(Assessment), _count(BiomarkerValue))
    response = tenant_a.api("clinician").post(
        URL, {"patient": str(patient.pk), "modality": "cognitive", "inputs": responses}, format="json"
    )
    error = assert_error(response, 400, field=field)
    assert message in error["fields"][field][0]
    assert (_count(Assessment), _count(BiomarkerValue)) == before


def test_no_responses_through_the_api_is_a_400(tenant_a, patient):
    response = tenant_a.api("clinician").post(URL, {"patient": str(patient.pk), "modality": "cognitive"},
                                              format="json")
    error = assert_error(response, 400, field="inputs")
    assert "raw responses" in error["fields"]["inputs"][0]


def test_responses_through_the_api_complete_with_biomarkers_units_and_no_borrowed_ranges(tenant_a, patient):
    api = tenant_a.api("clinician")
    response = api.post(
        URL, {"patient": str(patient.pk), "modality": "cognitive", "inputs": synthetic.poor_recall_case()},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "queued"
    assert [s["name"] for s in created["stages"]] == ["validate", "score", "interpret"]

    with organization_scope(tenant_a.organization):
        assert pipeline.run(created["id"]) == "completed"

    body = api.get(f"{URL}{created['id']}/").json()
    assert body["status"] == "completed"
    assert body["risk_level"] == "borderline" and body["risk_score"] is None and body["confidence"] is None
    markers = {b["name"]: b for b in body["biomarkers"]}
    # poor_recall_case: forward span 6, backward 4; delayed recall "goat" only (1 of 10) with 2 intrusions.
    assert markers["delayed_recall"]["value"] == pytest.approx(10.0)
    assert markers["delayed_recall"]["unit"] == "% of list"
    assert markers["delayed_recall_intrusions"]["value"] == 2
    assert markers["digit_span_forward"]["value"] == 6 and markers["digit_span_forward"]["unit"] == "digits"
    assert markers["digit_span_backward"]["value"] == 4
    assert markers["simple_rt_median"]["unit"] == "ms"
    # 20 RTs from 297 to 366 ms; sorted, the 10th and 11th are 329 and 331: the median is 330.
    assert markers["simple_rt_median"]["value"] == pytest.approx(330.0)
    for marker in markers.values():
        assert (marker["reference_range"]["low"], marker["reference_range"]["high"]) == (None, None)
        assert marker["unit"] == CognitiveAnalyzer.modality.catalogue[marker["name"]].unit
    assert "Marked finding: memory" in body["explanation"]["summary"]
