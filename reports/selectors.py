"""Reads of what a report shows. Callers run inside the organization's scope; each query also names the
organization, so a row of another organization is never found (one guard, one way in)."""

from __future__ import annotations

from django.db.models import QuerySet

from assessments import selectors as assessment_selectors
from assessments.models import Assessment, Patient

# The patient summary's trend table: at most this many results per modality, the most recent.
TREND_ROWS = 10


def assessment_for_report(*, organization, pk) -> Assessment:
    """Raises Assessment.DoesNotExist for another organization's assessment, as for a missing one."""
    queryset = assessment_selectors.with_details(Assessment.objects.filter(organization=organization))
    return queryset.select_related("patient", "reviewed_by", "organization").get(pk=pk)


def patient_for_report(*, organization, pk) -> Patient:
    return Patient.objects.select_related("organization").get(organization=organization, pk=pk)


def completed_assessments(patient: Patient) -> QuerySet[Assessment]:
    """The patient's completed assessments, most recently completed first."""
    return (
        Assessment.objects.filter(organization=patient.organization_id, patient=patient,
                                  status=Assessment.Status.COMPLETED)
        .select_related("model_version", "reviewed_by", "explanation")
        .order_by("-completed_at", "-created_at")
    )
