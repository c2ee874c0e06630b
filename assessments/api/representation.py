"""The API's assessment representation, built from rows instead of through Django's prefetch and DRF's nested
serializers: what ``GET /api/v1/assessments/`` (a page of up to 200), the detail, the create and the actions answer.

Equal to ``AssessmentSerializer``'s, field for field and in its field order
(``assessments/tests/test_api_representation_rows.py`` checks two modalities' results, a file, a failure, a
review, a biomarker no catalogue knows, a queued row, with and without ``view_results``). The serializer stays
the contract: the OpenAPI schema, webhook bodies and reports read it; this is the same answer made cheaper for
the API's own responses.

Why: a page of the load test's 40 assessments read 40 rows, 120 stages, 200 biomarkers and their files as model
instances through ``prefetch_related`` (which makes a queryset per assessment and relation to hold them) and
then walked them with DRF's nested field objects: 36-39 ms of CPU per page (2026-12-07), the most expensive
request of issue 16's mix. Here the assessments' own fields still go through DRF (``AssessmentSerializer``
without its three nested lists), and the stages, biomarkers and files are one ``values_list`` query each, for
the whole page, turned into dicts directly. Dates use the serializer's own date field, so they print as it does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache

from assessments.models import Assessment, BiomarkerValue, PipelineStage, UploadedFile
from assessments.presenters import biomarker_spec
from medilens.api_representation import ApiDateTimeField

from .serializers import AssessmentSerializer, risk_bands

NESTED = ("stages", "biomarkers", "files")
STAGE_COLUMNS = (
    "assessment_id",
    "name",
    "label",
    "order",
    "status",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
)
BIOMARKER_COLUMNS = (
    "assessment_id", "name", "category", "value", "unit", "reference_low", "reference_high",
    "reference_low_inclusive", "reference_high_inclusive", "flag", "measured_at",
)  # fmt: skip
FILE_COLUMNS = (
    "assessment_id", "id", "kind", "display_name", "content_type", "size", "sha256_stored", "sha256_original",
    "created_at",
)  # fmt: skip
_DATETIME = ApiDateTimeField()


def _when(value):
    return None if value is None else _DATETIME.to_representation(value)


def _number(value):
    return None if value is None else float(value)


class _WithoutNested(AssessmentSerializer):
    """The serializer's own fields, its three nested lists left out (they are added from rows)."""

    def get_fields(self):
        fields = super().get_fields()
        for name in NESTED:
            fields.pop(name, None)
        return fields


@cache
def _field_order(view_results: bool) -> tuple[str, ...]:
    return tuple(AssessmentSerializer(context={"view_results": view_results}).fields)


@cache
def _own_fields(view_results: bool) -> _WithoutNested:
    """One serializer per ``view_results``, built once per process: a ModelSerializer derives its fields from the
    model on each instance (5 ms of a list's CPU, measured with the load test's seed). Shared by threads: its
    ``to_representation`` only reads (the field list it caches on first use is the same whichever thread fills it)
    and its context is fixed."""
    serializer = _WithoutNested(context={"view_results": view_results})
    serializer._readers  # noqa: B018 - built here, not by the first request
    return serializer


def for_representation(queryset):
    """What ``represent`` reads on each row, joined: the explanation and the model version (not the patient: the
    API shows its id only)."""
    return queryset.select_related(None).select_related("explanation", "model_version")


def _grouped(model, columns: tuple[str, ...], ids: list, order: tuple[str, ...]) -> dict:
    rows = defaultdict(list)
    for row in model.objects.filter(assessment_id__in=ids).order_by(*order).values_list(*columns):
        rows[row[0]].append(row)
    return rows


def _stage(row) -> dict:
    _, name, label, order, status, started_at, finished_at, duration_ms, error = row
    return {
        "name": name, "label": label, "order": order, "status": status, "started_at": _when(started_at),
        "finished_at": _when(finished_at), "duration_ms": duration_ms, "error": error,
    }  # fmt: skip


def _biomarker(row, modality: str) -> dict:
    _, name, category, value, unit, low, high, low_inclusive, high_inclusive, flag, measured_at = row
    spec = biomarker_spec(name, modality)
    return {
        "name": name,
        "label": spec.label if spec else name,
        "category": category,
        "value": _number(value),
        "unit": unit,
        "reference_range": {
            "low": _number(low),
            "high": _number(high),
            "low_inclusive": low_inclusive,
            "high_inclusive": high_inclusive,
        },
        "risk_bands": risk_bands(spec),
        "flag": flag,
        "measured_at": _when(measured_at),
    }


def _file(row) -> dict:
    _, pk, kind, display_name, content_type, size, sha256_stored, sha256_original, created_at = row
    return {
        "id": pk, "kind": kind, "filename": display_name, "content_type": content_type, "size": size,
        "sha256": sha256_stored, "sha256_original": sha256_original, "created_at": _when(created_at),
    }  # fmt: skip


def represent(assessments: Sequence[Assessment], *, view_results: bool) -> list[dict]:
    """The representation of each assessment (rows read with ``for_representation``), as AssessmentSerializer's
    with ``view_results``: without the result fields (biomarkers and files among them) unless it is true.
    Three queries at most, whatever the number of assessments; none for an empty list."""
    if not assessments:
        return []
    ids = [assessment.pk for assessment in assessments]
    stages = _grouped(PipelineStage, STAGE_COLUMNS, ids, ("order",))
    biomarkers = _grouped(BiomarkerValue, BIOMARKER_COLUMNS, ids, ("category", "name")) if view_results else {}
    files = _grouped(UploadedFile, FILE_COLUMNS, ids, ("created_at", "id")) if view_results else {}
    serializer, order = _own_fields(view_results), _field_order(view_results)
    answers = []
    for assessment in assessments:
        own = serializer.to_representation(assessment)
        own["stages"] = [_stage(row) for row in stages.get(assessment.pk, ())]
        if view_results:
            own["biomarkers"] = [_biomarker(row, assessment.modality) for row in biomarkers.get(assessment.pk, ())]
            own["files"] = [_file(row) for row in files.get(assessment.pk, ())]
        answers.append({name: own[name] for name in order})
    return answers

