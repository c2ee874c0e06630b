"""What the worker writes for an analysis: its results in one transaction, its biomarker rows, its stages'
progress.

Re-exported by ``assessments.services``, where callers find every state change.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import AIExplanation, Assessment, BiomarkerValue, PipelineStage
from .status_services import apply_transition, lock

Status = Assessment.Status


def save_results(
    *, assessment_id, result, catalogue, explanation_image_key: str = "", stages=()
) -> Assessment | None:
    """Write the outcome in one transaction; returns None when the assessment is no longer running
    (cancelled meanwhile, or already finished by another delivery), in which case nothing is written.
    ``stages``: PipelineStage rows whose timings the pipeline kept in memory, written in the same
    transaction."""
    with transaction.atomic():
        assessment = lock(assessment_id)
        if assessment.status != Status.RUNNING:
            return None
        return write_results(
            assessment, result=result, catalogue=catalogue, explanation_image_key=explanation_image_key, stages=stages
        )


def write_results(
    assessment: Assessment, *, result, catalogue, explanation_image_key: str = "", stages=()
) -> Assessment:
    """``save_results`` on a running row the caller locked in its transaction (the pipeline's one-transaction
    shape, assessments.pipeline.in_one_transaction, claims and saves under one lock)."""
    now = result.measured_at or timezone.now()
    BiomarkerValue.objects.bulk_create(
        biomarker_value(catalogue[name], value, assessment=assessment, measured_at=now)
        for name, value in result.biomarkers.items()
    )
    AIExplanation.objects.create(
        organization_id=assessment.organization_id,
        assessment=assessment,
        summary=result.explanation_summary,
        contributions=result.contributions_json(),
        image_key=explanation_image_key,
    )
    save_stages(stages)
    assessment.risk_score = result.risk_score
    assessment.risk_level = result.risk_level or ""
    assessment.confidence = result.confidence
    assessment.recommendations = result.recommendations
    assessment.results = result.document()
    assessment.method_version = result.method_version
    assessment.model_version_id = result.model_version_id
    return apply_transition(assessment, Status.COMPLETED, actor="system:worker")


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


def save_stages(stages) -> None:
    """Write pipeline stages' progress: one prepared UPDATE by primary key, executed for each row.

    Not ``bulk_update``: its CASE/WHEN expressions cost ~5 ms of ORM work per call, more than the
    statement (benchmarks/pipeline_throughput.py). The rows come from a tenant-scoped query.
    """
    stages = list(stages)
    if not stages:
        return
    connection = transaction.get_connection()
    meta = PipelineStage._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in STAGE_FIELDS]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 (identifiers from model metadata, quoted; values are parameters)
    rows = [
        [field.get_db_prep_value(getattr(stage, field.attname), connection) for field in fields] + [stage.pk]
        for stage in stages
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
