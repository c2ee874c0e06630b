"""Retention's reads. Callers run inside the organization's scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import DateTimeField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from assessments.models import Patient

from .services import cutoff

NOTICE_DAYS = 30


def expired_patient_ids(organization, *, now: datetime) -> list:
    """Patients past retention and not on hold, the longest inactive first."""
    return list(
        Patient.objects.filter(
            organization=organization, legal_hold=False, last_activity_at__lt=cutoff(organization, now)
        )
        .order_by("last_activity_at")
        .values_list("pk", flat=True)
    )


def _with_purge_date(queryset: QuerySet, organization) -> QuerySet:
    retention = timedelta(days=organization.data_retention_days)
    return queryset.annotate(
        purge_due_at=ExpressionWrapper(F("last_activity_at") + retention, output_field=DateTimeField())
    )


def due_for_purge(organization, *, now: datetime | None = None, within_days: int = NOTICE_DAYS) -> QuerySet[Patient]:
    """Patients the daily purge will delete in the next ``within_days`` (already overdue ones included),
    soonest first."""
    now = now or timezone.now()
    horizon = cutoff(organization, now) + timedelta(days=within_days)
    patients = Patient.objects.filter(organization=organization, legal_hold=False, last_activity_at__lt=horizon)
    return _with_purge_date(patients, organization).order_by("last_activity_at", "pk")


def held_patients(organization) -> QuerySet[Patient]:
    patients = Patient.objects.filter(organization=organization, legal_hold=True)
    return _with_purge_date(patients, organization).order_by("last_activity_at", "pk")
