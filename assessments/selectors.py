"""Reads of patients and assessments. Callers run inside the organization's scope (the guard adds the
organization filter to every query here)."""

from datetime import timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from .models import Assessment, BiomarkerValue, ChatMessage, Patient, PipelineStage, UploadedFile


def patients(*, search: str = "") -> QuerySet[Patient]:
    queryset = Patient.objects.all()
    search = (search or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if search:
        terms = search.split()
        for term in terms:
            queryset = queryset.filter(
                Q(mrn__iexact=term)
                | Q(mrn__istartswith=term)
                | Q(given_name__icontains=term)
                | Q(family_name__icontains=term)
            )
    return queryset.order_by("family_name", "given_name", "mrn")


def patient_assessments(patient: Patient) -> QuerySet[Assessment]:
    return Assessment.objects.filter(patient=patient).select_related("model_version").order_by("-created_at")


def assessments(*, patient=None, modality=None, status=None, created_after=None, created_before=None):
    queryset = Assessment.objects.select_related("patient", "model_version")
    if patient is not None:
        queryset = queryset.filter(patient=patient)
    if modality:
        queryset = queryset.filter(modality=modality)
    if status:
        queryset = queryset.filter(status=status)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset


def with_details(queryset: QuerySet[Assessment]) -> QuerySet[Assessment]:
    """Everything an assessment's representation shows, in a fixed number of queries."""
    return queryset.select_related("patient", "explanation", "model_version").prefetch_related(
        Prefetch("stages", queryset=PipelineStage.objects.order_by("order")),
        Prefetch("biomarkers", queryset=BiomarkerValue.objects.order_by("category", "name")),
        Prefetch("files", queryset=UploadedFile.objects.order_by("created_at")),
    )


def assessment_messages(assessment: Assessment) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(thread__assessment=assessment).select_related("author").order_by("created_at")


def patient_biomarker_history(patient: Patient, name: str, days: int = 90) -> QuerySet[BiomarkerValue]:
    """One patient's values of one biomarker over the last ``days``, oldest first: one query on
    biomarker_history_idx (organization, patient, name, measured_at)."""
    since = timezone.now() - timedelta(days=days)
    return (
        BiomarkerValue.objects.filter(patient=patient, name=name, measured_at__gte=since)
        .only(
            "value",
            "unit",
            "flag",
            "measured_at",
            "reference_low",
            "reference_high",
            "reference_low_inclusive",
            "reference_high_inclusive",
            "assessment_id",
        )
        .order_by("measured_at")
    )


def patient_biomarker_names(patient: Patient) -> list[str]:
    return list(
        BiomarkerValue.objects.filter(patient=patient).order_by("name").values_list("name", flat=True).distinct()
    )


def status_counts() -> dict[str, int]:
    from django.db.models import Count

    rows = Assessment.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}
