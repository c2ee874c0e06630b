"""The reads the FHIR export makes, inside the request's organization scope (the API key's): another
organization's row is simply not found. An id that is not even well-formed is not found either."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from assessments.models import Assessment, BiomarkerValue, Patient, UploadedFile

COMPLETED = Assessment.Status.COMPLETED


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def _integer(value: str) -> int:
    if not (str(value).isascii() and str(value).isdigit()) or len(str(value)) > 18:
        raise Http404
    return int(value)


def _found(queryset: QuerySet, **lookup):
    row = queryset.filter(**lookup).first()
    if row is None:
        raise Http404
    return row


def _assessments() -> QuerySet[Assessment]:
    """Completed assessments with what their resources show, in a fixed number of queries."""
    return (
        Assessment.objects.filter(status=COMPLETED)
        .select_related("model_version", "explanation")
        .prefetch_related(
            Prefetch("biomarkers", queryset=BiomarkerValue.objects.order_by("category", "name", "pk")),
            Prefetch("files", queryset=UploadedFile.objects.order_by("created_at", "pk")),
        )
        .order_by("completed_at", "pk")
    )


def patient(pk: str) -> Patient:
    return _found(Patient.objects.all(), pk=_uuid(pk))


def completed_assessment(pk: str) -> Assessment:
    return _found(_assessments(), pk=_uuid(pk))


def patient_assessments(patient_row: Patient) -> list[Assessment]:
    return list(_assessments().filter(patient=patient_row))


def biomarker_value(pk: str) -> BiomarkerValue:
    return _found(BiomarkerValue.objects.filter(assessment__status=COMPLETED), pk=_integer(pk))


def uploaded_file(pk: str) -> UploadedFile:
    return _found(UploadedFile.objects.select_related("assessment"), pk=_integer(pk))


def assessments_by_id(ids) -> dict:
    return {row.pk: row for row in _assessments().filter(pk__in=set(ids))}


def observations(*, patient_row: Patient | None, names: set[str] | None, date_filters) -> QuerySet[BiomarkerValue]:
    """Values of completed assessments, newest first; ``names`` None: any biomarker."""
    queryset = BiomarkerValue.objects.filter(assessment__status=COMPLETED)
    if patient_row is not None:
        queryset = queryset.filter(patient=patient_row)
    if names is not None:
        queryset = queryset.filter(name__in=names)
    for lookup in date_filters:
        queryset = queryset.filter(**lookup)
    return queryset.order_by("-measured_at", "-pk")


def input_file_ids(assessment: Assessment) -> list[int]:
    return [row.pk for row in assessment.files.all() if row.kind == UploadedFile.Kind.INPUT]

