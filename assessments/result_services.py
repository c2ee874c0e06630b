"""What the worker writes for an analysis: its results in one transaction, its biomarker rows, its stages'
progress.

Re-exported by ``assessments.services``, where callers find every state change.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from . import version_services
from .models import AIExplanation, Assessment, BiomarkerValue, PipelineStage, ResultVersion
from .status_services import apply_transition, lock

Status = Assessment.Status


def save_results(
    *, assessment_id, result, catalogue, explanation_image_key: str = "", stages=(), version_number: int = 1,
    artifacts=(),
) -> Assessment | None:
    """Write the outcome in one transaction, as result version ``version_number`` (with ``artifacts``, already
    uploaded: version_services.upload_artifacts); returns None when the assessment is no longer running
    (cancelled meanwhile, or already finished by another delivery) or that version exists already, in which
    case nothing is written. ``stages``: PipelineStage rows whose timings the pipeline kept in memory, written
    in the same transaction.

    The BiomarkerValue rows and the explanation are the latest version's (a re-analysis replaces them; trends
    read one value per assessment); each version keeps its own copy (ResultVersion)."""
    with transaction.atomic():
        assessment = lock(assessment_id, finishing=True)
        if assessment.status != Status.RUNNING:
            return None
        if version_services.next_version_number(assessment.pk) != version_number:
            return None
        return write_results(
            assessment, result=result, catalogue=catalogue, explanation_image_key=explanation_image_key,
            stages=stages, version_number=version_number, artifacts=artifacts,
        )


def write_results(
    assessment: Assessment, *, result, catalogue, explanation_image_key: str = "", stages=(),
    version_number: int | None = None, artifacts=(),
) -> Assessment:
    """``save_results`` on a running row the caller locked in its transaction (the pipeline's one-transaction
    shape, assessments.pipeline.in_one_transaction, claims and saves under one lock: there, a re-analysis;
    first analyses go through ``write_first_results``).

    ``version_number`` None (that shape): the next number. Version 1 has no earlier biomarker rows or
    explanation to replace: they are inserted, not looked up."""
    if version_number is None:
        version_number = version_services.next_version_number(assessment.pk)
    first = version_number == 1
    biomarkers = _write_biomarkers(assessment, result, catalogue, first=first)
    explanation = _write_explanation(assessment, result, explanation_image_key, first=first)
    save_stages(stages)
    _set_result_fields(assessment, result)
    version_services.record_version(
        assessment=assessment, number=version_number, biomarkers=biomarkers, explanation=explanation,
        artifacts=artifacts,
    )
    return apply_transition(assessment, Status.COMPLETED, actor="system:worker")


@dataclass
class FirstResult:
    """A first analysis that succeeded, not yet written: its locked running row, its result, the result's
    catalogue entries and the stage rows the pipeline kept in memory."""

    assessment: Assessment
    result: object
    catalogue: dict
    stages: list[PipelineStage]


def write_first_results(finished: list[FirstResult]) -> None:
    """``write_results`` for many first analyses at once (the worker's batch, assessments.pipeline.run): rows
    the caller locked and claimed in its transaction, none of which ever completed (so version 1, nothing
    to replace) and none with files (the one-transaction shape stores none). One statement per table for
    the whole batch (biomarkers, explanations, stages, result versions, the assessments' rows), where one
    assessment at a time takes those statements for each; each row's move to completed is checked,
    audited (in the caller's ``audit.batched``), emitted as a webhook event and notified as one at a time."""
    biomarkers, explanations, versions, stages = [], [], [], []
    for item in finished:
        assessment = item.assessment
        if assessment.completed_at is not None:
            raise ValueError("write_first_results takes first analyses only: a re-analysis replaces rows")
        rows = _biomarker_rows(assessment, item.result, item.catalogue, measured_at=item.result.measured_at)
        explanation = AIExplanation(
            assessment=assessment, **_explanation_values(assessment, item.result, image_key="")
        )
        _set_result_fields(assessment, item.result)
        biomarkers += rows
        explanations.append(explanation)
        stages += item.stages
        versions.append(
            version_services.build_version(assessment=assessment, number=1, biomarkers=rows, explanation=explanation)
        )
        apply_transition(assessment, Status.COMPLETED, actor="system:worker", save=False)
    if not finished:
        return
    BiomarkerValue.objects.bulk_create(biomarkers)
    AIExplanation.objects.bulk_create(explanations)
    save_stages(stages)
    ResultVersion.objects.bulk_create(versions)
    save_rows([item.assessment for item in finished])


def _set_result_fields(assessment: Assessment, result) -> None:
    assessment.risk_score = result.risk_score
    assessment.risk_level = result.risk_level or ""
    assessment.confidence = result.confidence
    assessment.recommendations = result.recommendations
    assessment.results = result.document()
    assessment.method_version = result.method_version
    assessment.model_version_id = result.model_version_id


def _explanation_values(assessment: Assessment, result, *, image_key: str) -> dict:
    return {
        "organization_id": assessment.organization_id,
        "summary": result.explanation_summary,
        "contributions": result.contributions_json(),
        "image_key": image_key,
    }


def _write_explanation(assessment: Assessment, result, image_key: str, *, first: bool) -> AIExplanation:
    values = _explanation_values(assessment, result, image_key=image_key)
    if first:
        return AIExplanation.objects.create(assessment=assessment, **values)
    explanation, _ = AIExplanation.objects.update_or_create(assessment=assessment, defaults=values)
    return explanation


_BIOMARKER_FIELDS = [
    "category", "value", "unit", "reference_low", "reference_high", "reference_low_inclusive",
    "reference_high_inclusive", "flag", "measured_at",
]


def _write_biomarkers(assessment: Assessment, result, catalogue, *, first: bool) -> list[BiomarkerValue]:
    """The latest version's values. A re-analysis updates the rows in place (their ids, which FHIR
    Observations carry, stay), removes those it no longer reports and keeps the time they were measured:
    the input was taken then, not when it was re-analysed, so the patient's trend does not move."""
    if first:
        rows = _biomarker_rows(assessment, result, catalogue, measured_at=result.measured_at)
        BiomarkerValue.objects.bulk_create(rows)
        return rows
    existing = {row.name: row for row in BiomarkerValue.objects.filter(assessment=assessment)}
    earlier = min((row.measured_at for row in existing.values()), default=None)
    rows = _biomarker_rows(assessment, result, catalogue, measured_at=result.measured_at or earlier)
    new, changed = [], []
    for row in rows:
        if row.name in existing:
            row.pk = existing[row.name].pk
            changed.append(row)
        else:
            new.append(row)
    gone = [row.pk for name, row in existing.items() if name not in result.biomarkers]
    if gone:
        BiomarkerValue.objects.filter(pk__in=gone).delete()
    if changed:
        BiomarkerValue.objects.bulk_update(changed, _BIOMARKER_FIELDS)
    BiomarkerValue.objects.bulk_create(new)
    return rows


def _biomarker_rows(assessment: Assessment, result, catalogue, *, measured_at) -> list[BiomarkerValue]:
    """The result's values as unsaved rows, measured at ``measured_at`` (now when None)."""
    measured_at = measured_at or timezone.now()
    return [
        biomarker_value(catalogue[name], value, assessment=assessment, measured_at=measured_at)
        for name, value in result.biomarkers.items()
    ]


def biomarker_value(spec, value: float, *, assessment: Assessment, measured_at) -> BiomarkerValue:
    """An unsaved BiomarkerValue: the value with its catalogue entry's unit and range as they were applied,
    and the flag computed against that range."""
    return BiomarkerValue(
        organization_id=assessment.organization_id,
        assessment=assessment,
        patient_id=assessment.patient_id,
        name=spec.name,
        category=spec.category,
        value=round(value, spec.decimals),
        unit=spec.unit,
        reference_low=spec.reference_low,
        reference_high=spec.reference_high,
        reference_low_inclusive=spec.inclusive("reference_low"),
        reference_high_inclusive=spec.inclusive("reference_high"),
        flag=spec.flag(round(value, spec.decimals)),
        measured_at=measured_at,
    )


STAGE_FIELDS = ["status", "started_at", "finished_at", "duration_ms", "error"]


def declared_stages(assessment: Assessment, modality) -> list[PipelineStage]:
    """Unsaved stage rows of ``assessment``, one per stage its modality declares, in order, pending: what
    ``create_assessment`` stores, and what the pipeline's one-transaction shape writes back by name
    (``save_stages``) without reading them."""
    return [
        PipelineStage(
            organization_id=assessment.organization_id, assessment=assessment, name=spec.name, label=spec.label,
            order=order,
        )
        for order, spec in enumerate(modality.stages)
    ]


def save_stages(stages) -> None:
    """Write pipeline stages' progress: one prepared UPDATE per row, keyed by its assessment and name (unique
    together, indexed by that constraint), executed for each row (``update_rows``).

    Keyed by name, not by primary key: the one-transaction shape (pipeline.in_one_transaction) builds its
    stage rows from the modality's declaration instead of reading them, one statement fewer per assessment; a
    stage the modality no longer declares matches no row and is left as it was. The rows belong to an
    assessment read in the tenant's scope.
    """
    update_rows(PipelineStage, list(stages), STAGE_FIELDS, keys=["assessment", "name"])


def save_rows(assessments: list[Assessment]) -> None:
    """``Model.save()`` of many locked assessment rows in one round trip: every column but the key, each
    field's ``pre_save`` applied as save() applies it (``updated_at``, the sealed review note)."""
    fields = [field.name for field in Assessment._meta.concrete_fields if not field.primary_key]
    update_rows(Assessment, assessments, fields, keys=["id"], pre_save=True)


def update_rows(model, rows: list, fields: list[str], *, keys: list[str], pre_save: bool = False) -> None:
    """One UPDATE of ``fields`` per row, matched on ``keys``, sent as one prepared statement executed for each
    row (psycopg's executemany: one round trip). Not ``bulk_update``: its CASE/WHEN expressions cost ~5 ms of
    ORM work per call, more than the statement (benchmarks/pipeline_throughput.py). Identifiers come from
    the model's metadata, quoted; values are parameters."""
    if not rows:
        return
    connection = transaction.get_connection()
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    key_fields = [meta.get_field(name) for name in keys]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    where = " AND ".join(f"{quote(field.column)} = %s" for field in key_fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}"  # noqa: S608 (see docstring)

    def value(field, row):
        raw = field.pre_save(row, False) if pre_save else getattr(row, field.attname)
        return field.get_db_prep_save(raw, connection)

    params = [[value(field, row) for field in columns] + [value(field, row) for field in key_fields] for row in rows]
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)
