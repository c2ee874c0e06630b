"""Reads of patients and assessments. Callers run inside the organization's scope (the guard adds the
organization filter to every query here)."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Case, F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value, When
from django.utils import timezone

from medilens.crypto import blind
from modalities.base import RISK_LEVELS

from . import patient_index
from .models import Assessment, BiomarkerValue, DiscussionMessage, Patient, PipelineStage, UploadedFile

# A search result is sorted by name after decrypting it: at most this many rows (the most recently active).
SEARCH_RESULT_LIMIT = 200


def patients(*, search: str = "") -> QuerySet[Patient]:
    """Patients, most recently active first; with ``search``, only those whose blind index tokens match
    (see assessments/patient_index.py). Names are ciphertext in the database: no SQL can sort by them."""
    queryset = Patient.objects.all()
    search = (search or "").replace("\x00", "").strip()
    if search:
        condition = patient_index.search_filter(search)
        queryset = queryset.filter(condition) if condition is not None else queryset.none()
    return queryset.order_by("-last_activity_at", "-id")


# "Highest recent risk" looks at the completed assessments of this many days.
RECENT_RISK_DAYS = 365


def _recent_graded() -> QuerySet[Assessment]:
    """The outer patient's assessments completed in the last RECENT_RISK_DAYS with a graded level, the highest
    level first, then the newest (for a Subquery: ``patient=OuterRef("pk")``).

    Levels, not scores, are compared: every modality grades its result on the same four levels (low <
    borderline < intermediate < high), while a PCE percentage and a retinal grade are not on one scale."""
    rank = Case(
        *(When(risk_level=level, then=Value(position)) for position, level in enumerate(RISK_LEVELS, start=1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        Assessment.objects.filter(
            patient=OuterRef("pk"),
            status=Assessment.Status.COMPLETED,
            risk_level__in=RISK_LEVELS,
            created_at__gte=timezone.now() - timedelta(days=RECENT_RISK_DAYS),
        )
        .annotate(rank=rank)
        .order_by("-rank", "-created_at")
    )


def with_recent_risk(queryset: QuerySet[Patient]) -> QuerySet[Patient]:
    """Each patient's highest risk level among the assessments completed in the last RECENT_RISK_DAYS
    (``recent_risk_level``), in one subquery: what the list shows. Sorting by it needs two more
    (``by_recent_risk``); each subquery costs the list about 0.7 ms of CPU to build and compile."""
    return queryset.annotate(recent_risk_level=Subquery(_recent_graded().values("risk_level")[:1]))


def by_recent_risk(queryset: QuerySet[Patient]) -> QuerySet[Patient]:
    """Highest recent risk level first, then the newest assessment at that level; patients with no recent
    graded result last, by activity. Annotates ``recent_risk_level``, its rank and when that assessment was
    requested."""
    recent = _recent_graded()
    return queryset.annotate(
        recent_risk_rank=Subquery(recent.values("rank")[:1]),
        recent_risk_level=Subquery(recent.values("risk_level")[:1]),
        recent_risk_at=Subquery(recent.values("created_at")[:1]),
    ).order_by(
        F("recent_risk_rank").desc(nulls_last=True),
        F("recent_risk_at").desc(nulls_last=True),
        "-last_activity_at",
        "-id",
    )


@dataclass(frozen=True)
class SearchResult:
    ids: list  # patient ids, sorted by name
    truncated: bool  # more matched than SEARCH_RESULT_LIMIT: the least recently active were left out


def by_name(search: str, *, limit: int | None = None) -> SearchResult:
    """A search's result sorted by family name then given name (decrypted here, folded as the index folds
    them): its ``limit`` (default SEARCH_RESULT_LIMIT) most recently active matches. Only the names are
    loaded and opened; the caller loads the rows it shows (``in_order``), a page at a time."""
    limit = limit or SEARCH_RESULT_LIMIT
    search = (search or "").replace("\x00", "").strip()
    # One term: the ids by activity come from the token index alone. Several: from the patient table.
    ids = patient_index.most_recent_matches(search, limit + 1)
    if ids is None:
        ids = list(patients(search=search).values_list("pk", flat=True)[: limit + 1])
    ids, truncated = ids[:limit], len(ids) > limit
    family, given = Patient._meta.get_field("family_name"), Patient._meta.get_field("given_name")
    keyed = [
        (
            blind.fold(family.open_stored(sealed_family, pk=pk, organization_id=organization_id)),
            blind.fold(given.open_stored(sealed_given, pk=pk, organization_id=organization_id)),
            str(pk),
            pk,
        )
        # Values, not model instances: a third of the time went to building 300 instances.
        for pk, organization_id, sealed_family, sealed_given in Patient.objects.filter(pk__in=ids).values_list(
            "pk", "organization_id", "family_name", "given_name"
        )
    ]
    keyed.sort()
    return SearchResult([row[-1] for row in keyed], truncated)


def in_order(queryset: QuerySet[Patient], ids: list) -> list[Patient]:
    """The rows of ``queryset`` with these ids, in the order of ``ids``."""
    found = {patient.pk: patient for patient in queryset.filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def patient_assessments(patient: Patient) -> QuerySet[Assessment]:
    """A patient's assessments, newest request first, each with ``measured_at``: when its inputs were measured
    (a panel's "date measured", else when the analysis ran), which is what the trend chart plots."""
    measured = BiomarkerValue.objects.filter(assessment=OuterRef("pk")).order_by("-measured_at")
    return (
        Assessment.objects.filter(patient=patient)
        .select_related("model_version")
        .annotate(measured_at=Subquery(measured.values("measured_at")[:1]))
        .order_by("-created_at")
    )


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
    """Everything an assessment's representation shows, in a fixed number of queries. Not the patient: the API
    shows its id only (joining 40 patients' rows cost 4-6 ms of CPU of a list's 40 ms of queries); a page or a
    report that shows the patient selects it itself."""
    return queryset.select_related("explanation", "model_version").prefetch_related(
        Prefetch("stages", queryset=PipelineStage.objects.order_by("order")),
        Prefetch("biomarkers", queryset=BiomarkerValue.objects.order_by("category", "name")),
        Prefetch("files", queryset=UploadedFile.objects.order_by("created_at", "id")),
    )


def assessment_messages(assessment: Assessment) -> QuerySet[DiscussionMessage]:
    messages = DiscussionMessage.objects.filter(discussion__assessment=assessment)
    return messages.select_related("author").order_by("created_at")


def patient_biomarker_history(patient: Patient, name: str, days: int = 90) -> QuerySet[BiomarkerValue]:
    """One patient's values of one biomarker over the last ``days``, oldest first: one query, an index-only
    scan of biomarker_history_idx (organization, patient, name, measured_at) on PostgreSQL, whose INCLUDE
    columns are these (assessments migration 0015, benchmarks/trend_query.py). ``name`` is loaded too: the
    API's serializer reads it for each value (deferred, it cost a query per value)."""
    since = timezone.now() - timedelta(days=days)
    return (
        BiomarkerValue.objects.filter(patient=patient, name=name, measured_at__gte=since)
        .only(
            "name",
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


@dataclass(frozen=True)
class PreviousValue:
    value: float
    unit: str
    measured_at: object


def previous_values(assessment: Assessment) -> dict[str, PreviousValue]:
    """For each biomarker of ``assessment``, the patient's value of the same biomarker measured just before it
    (any earlier assessment): one query, a subquery per row on biomarker_history_idx."""
    earlier = BiomarkerValue.objects.filter(
        patient_id=OuterRef("patient_id"), name=OuterRef("name"), measured_at__lt=OuterRef("measured_at")
    ).order_by("-measured_at", "-id")
    rows = (
        BiomarkerValue.objects.filter(assessment=assessment)
        .annotate(
            previous_value=Subquery(earlier.values("value")[:1]),
            previous_unit=Subquery(earlier.values("unit")[:1]),
            previous_at=Subquery(earlier.values("measured_at")[:1]),
        )
        .values_list("name", "previous_value", "previous_unit", "previous_at")
    )
    return {name: PreviousValue(value, unit, at) for name, value, unit, at in rows if value is not None}


def patient_biomarker_names(patient: Patient) -> list[str]:
    return list(
        BiomarkerValue.objects.filter(patient=patient).order_by("name").values_list("name", flat=True).distinct()
    )


def patient_biomarker_kinds(patient: Patient) -> list[tuple[str, str]]:
    """(name, modality) of every biomarker measured for the patient: one query (names may repeat across
    modalities, so the modality comes from the assessment, not a catalogue guess)."""
    return list(
        BiomarkerValue.objects.filter(patient=patient)
        .order_by("assessment__modality", "name")
        .values_list("name", "assessment__modality")
        .distinct()
    )


# The timeline shows at most this many of a patient's most recent assessments, and of discussion messages.
TIMELINE_LIMIT = 200


def timeline_assessments(patient: Patient) -> list[Assessment]:
    """The patient's most recent assessments with who requested and signed them off: one query."""
    return list(
        Assessment.objects.filter(patient=patient)
        .select_related("requested_by", "requested_by_client", "reviewed_by")
        .order_by("-created_at")[:TIMELINE_LIMIT]
    )


def timeline_messages(patient: Patient) -> list[DiscussionMessage]:
    """The most recent discussion messages on the patient's assessments, with their authors: one query."""
    return list(
        DiscussionMessage.objects.filter(discussion__assessment__patient=patient)
        .select_related("author", "discussion")
        .order_by("-created_at")[:TIMELINE_LIMIT]
    )


def status_counts() -> dict[str, int]:
    from django.db.models import Count

    rows = Assessment.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}
