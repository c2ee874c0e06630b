"""ReadFieldsOnce (medilens/api_representation.py) answers what DRF's own Serializer.to_representation answers.

The reference is DRF itself: the same serializer classes with the mixin's to_representation switched back to
DRF's ``Serializer.to_representation`` and the timestamps rendered by DRF's ``DateTimeField``."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import DateTimeField as DrfDateTimeField

from accounts.tenancy import organization_scope
from assessments import selectors
from assessments import services as assessment_services
from assessments.api.serializers import AssessmentSerializer, BiomarkerHistorySerializer, PatientSerializer
from assessments.models import Assessment
from assessments.tests.portal import make_assessment, make_patient, pdf_bytes
from medilens.api_representation import ApiDateTimeField, ReadFieldsOnce

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_drf(monkeypatch):
    """Switch every ReadFieldsOnce serializer back to DRF's own reading, timestamps included."""

    def switch():
        monkeypatch.setattr(ReadFieldsOnce, "to_representation", serializers.Serializer.to_representation)
        monkeypatch.setattr(ApiDateTimeField, "default_timezone", DrfDateTimeField.default_timezone)

    return switch


def _reviewed_assessment(tenant):
    patient = make_patient(tenant, history_notes="Father: MI at 52.")
    letter = SimpleUploadedFile("letter.pdf", pdf_bytes(), content_type="application/pdf")
    assessment = make_assessment(tenant, patient, run=True, attachments=[letter])
    assert assessment.status == Assessment.Status.COMPLETED
    with organization_scope(tenant.organization):
        assessment_services.sign_off(actor=tenant.users["clinician"], assessment=assessment, note="Seen.")
    return patient


@override_settings(TIME_ZONE="Europe/Paris")
def test_assessments_patients_and_histories_are_answered_as_drf_answers_them(tenant_a, as_drf):
    patient = _reviewed_assessment(tenant_a)
    with organization_scope(tenant_a.organization):
        make_assessment(tenant_a, patient)  # queued: no results, no explanation, no review
        assessments = list(selectors.with_details(Assessment.objects.filter(patient=patient)).order_by("created_at"))
        history = list(selectors.patient_biomarker_history(patient, "pce_ascvd_10y", days=30))

        def answers():
            return [
                AssessmentSerializer(assessments, many=True, context={"view_results": True}).data,
                AssessmentSerializer(assessments, many=True, context={"view_results": False}).data,
                AssessmentSerializer(assessments[0], context={"view_results": True}).data,
                PatientSerializer(patient).data,
                BiomarkerHistorySerializer(history, many=True).data,
            ]

        ours = answers()
        as_drf()
        theirs = answers()
    assert ours == theirs
    full = ours[0][0]
    # What the comparison covered: nested lists, a "*" source, method fields, a one-to-one, timestamps in the
    # default zone (Paris, not UTC, so that a zone conversion was made), a review, a queued row's nulls.
    assert full["stages"] and full["biomarkers"] and full["files"] and full["explanation"] and full["review"]
    assert full["biomarkers"][0]["reference_range"].keys() == {"low", "high", "low_inclusive", "high_inclusive"}
    assert any(marker["risk_bands"] for marker in full["biomarkers"])
    assert full["completed_at"].endswith(("+01:00", "+02:00"))
    assert ours[1][0].keys().isdisjoint({"biomarkers", "explanation", "review"})
    assert ours[0][1]["explanation"] is None and ours[0][1]["completed_at"] is None
    assert ours[4] and ours[4][0]["assessment"] == str(assessments[0].pk)


class Inner:
    name = "inner"


class Probe:
    plain = "text"
    inner = Inner()
    nothing = None
    when = timezone.now()

    def compute(self):
        return 7


class ProbeSerializer(ReadFieldsOnce, serializers.Serializer):
    plain = serializers.CharField()
    dotted = serializers.CharField(source="inner.name")
    through_none = serializers.CharField(source="nothing.name", allow_null=True)
    null = serializers.CharField(source="nothing")
    called = serializers.IntegerField(source="compute")
    missing_default = serializers.CharField(default="fallback")
    missing_null = serializers.CharField(allow_null=True, required=False)
    missing_skipped = serializers.CharField(required=False)
    whole = serializers.SerializerMethodField()
    when = ApiDateTimeField()

    def get_whole(self, obj):
        return type(obj).__name__


def test_missing_attributes_defaults_nulls_and_skips_are_drfs(as_drf):
    ours = ProbeSerializer(Probe()).data
    as_drf()
    theirs = ProbeSerializer(Probe()).data
    assert ours == theirs
    assert ours["dotted"] == "inner" and ours["called"] == 7 and ours["through_none"] is None
    assert ours["missing_default"] == "fallback" and ours["missing_null"] is None and "missing_skipped" not in ours


def test_a_mapping_is_read_by_key_as_drf_reads_it(as_drf):
    row = {"plain": "a", "inner": {"name": "b"}, "nothing": None, "compute": 3, "when": timezone.now()}
    ours = ProbeSerializer(row).data
    as_drf()
    assert ours == ProbeSerializer(row).data


def test_an_attribute_error_inside_a_callable_is_not_read_as_a_missing_field():
    class Broken(Probe):
        def compute(self):
            raise AttributeError("inside")

    with pytest.raises(ValueError, match="callable attribute"):
        ProbeSerializer(Broken()).data  # noqa: B018 - the property raises
