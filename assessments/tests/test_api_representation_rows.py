"""The API answers assessments from rows (assessments/api/representation.py) exactly as AssessmentSerializer does.

AssessmentSerializer is the contract (its answers equal DRF's own: medilens/tests/test_api_representation.py);
``represent`` builds the same answer from one values query per nested list. Compared here on assessments that
cover what the representation can hold: two modalities' results (risk bands, a catalogue of their own), a
reviewed result with an attachment, a biomarker the catalogue does not know, a failure with its stage, a queued
row's nulls, with and without the right to view results, in a zone other than UTC."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tenancy import organization_scope
from assessments import selectors
from assessments import services as assessment_services
from assessments.api.representation import for_representation, represent
from assessments.api.serializers import AssessmentSerializer
from assessments.models import Assessment, BiomarkerValue
from assessments.tests.portal import make_assessment, make_failed_assessment, make_patient, pdf_bytes
from modalities.cognitive import synthetic

pytestmark = pytest.mark.django_db


def _assessments(tenant):
    patient = make_patient(tenant)
    letter = SimpleUploadedFile("letter.pdf", pdf_bytes(), content_type="application/pdf")
    reviewed = make_assessment(tenant, patient, run=True, attachments=[letter])
    make_assessment(tenant, patient, modality="cognitive", inputs=synthetic.slowed_case(), run=True)
    make_failed_assessment(tenant, patient)
    make_assessment(tenant, patient)  # queued
    with organization_scope(tenant.organization):
        assessment_services.sign_off(actor=tenant.users["clinician"], assessment=reviewed, note="Seen.")
        BiomarkerValue.objects.create(
            organization=tenant.organization, assessment=reviewed, patient=patient, name="not_in_any_catalogue",
            category="other", value=3, unit="", reference_low=None, reference_high=2.5,
            reference_high_inclusive=False, flag="high", measured_at=timezone.now(),
        )  # fmt: skip
    return patient


@override_settings(TIME_ZONE="Europe/Paris")
@pytest.mark.parametrize("view_results", [True, False])
def test_the_rows_answer_what_the_serializer_answers(tenant_a, view_results):
    patient = _assessments(tenant_a)
    with organization_scope(tenant_a.organization):
        order = ("created_at", "id")
        theirs = AssessmentSerializer(
            selectors.with_details(Assessment.objects.filter(patient=patient)).order_by(*order), many=True,
            context={"view_results": view_results},
        ).data  # fmt: skip
        rows = list(for_representation(selectors.assessments(patient=patient)).order_by(*order))
        ours = represent(rows, view_results=view_results)
        single = represent(rows[:1], view_results=view_results)
    assert [list(answer) for answer in ours] == [list(answer) for answer in theirs]  # the same fields, in order
    assert ours == theirs and single == theirs[:1]
    modalities = {answer["modality"]: answer for answer in ours}
    assert set(modalities) == {"cvd_risk", "cognitive", "test_sleep"} and len(ours) == 4
    assert modalities["test_sleep"]["status"] == "failed" and modalities["test_sleep"]["stages"]
    assert ours[-1]["status"] == "queued" and ours[-1]["completed_at"] is None
    if view_results:
        cvd, cognitive = ours[0], modalities["cognitive"]  # the first: the reviewed cvd_risk
        assert cvd["files"] and cvd["review"] and cvd["explanation"] and cognitive["biomarkers"]
        assert any(marker["risk_bands"] for marker in cvd["biomarkers"])
        unknown = next(marker for marker in cvd["biomarkers"] if marker["name"] == "not_in_any_catalogue")
        assert unknown["label"] == "not_in_any_catalogue" and unknown["risk_bands"] is None
        assert unknown["reference_range"] == {"low": None, "high": 2.5, "low_inclusive": True, "high_inclusive": False}
        assert cvd["completed_at"].endswith(("+01:00", "+02:00"))
    else:
        assert ours[0].keys().isdisjoint({"biomarkers", "files", "explanation", "review"})


def test_a_page_costs_three_queries_whatever_its_size_and_none_when_empty(tenant_a):
    patient = _assessments(tenant_a)
    with organization_scope(tenant_a.organization):
        rows = list(for_representation(selectors.assessments(patient=patient)))
        with CaptureQueriesContext(connection) as all_rows:
            represent(rows, view_results=True)
        with CaptureQueriesContext(connection) as one_row:
            represent(rows[:1], view_results=True)
        with CaptureQueriesContext(connection) as no_results:
            represent(rows, view_results=False)
        with CaptureQueriesContext(connection) as empty:
            assert represent([], view_results=True) == []
    assert len(all_rows) == len(one_row) == 3
    assert len(no_results) == 1  # the stages; biomarkers and files are results, not read without the right
    assert len(empty) == 0
    assert "patient" not in str(for_representation(selectors.assessments()).query).split("FROM")[1]
