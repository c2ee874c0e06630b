"""Every state change of patients and assessments: keyword-only, an explicit actor and organization,
one transaction, the audit event recorded last in it.

Callers (portal views, API views, tasks, commands) run inside the organization's scope.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import ApiClient
from medilens import storage
from modalities import registry
from modalities.base import InputError

from .models import (
    AIExplanation,
    Assessment,
    BiomarkerValue,
    ChatMessage,
    ChatThread,
    Patient,
    PipelineStage,
    UploadedFile,
)
from .patient_services import (  # noqa: F401  (re-exported: callers use services.create_patient etc.)
    PATIENT_FIELDS,
    create_patient,
    record_consent,
    touch,
    update_patient,
)
from .uploads import ATTACHMENT_TYPES, prepare_upload

logger = logging.getLogger(__name__)

Status = Assessment.Status


class TransitionRefused(ValidationError):
    pass


def _actor_fields(actor) -> dict:
    if isinstance(actor, ApiClient):
        return {"requested_by_client": actor}
    if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False):
        return {"requested_by": actor}
    return {}


def _uploader(actor):
    return actor if getattr(actor, "is_authenticated", False) and not isinstance(actor, ApiClient) else None


# --- patients (assessments/patient_services.py) ----------------------------------------------------
def record_view(*, actor, organization, obj) -> None:
    """Reads of patient data are audited (patient.viewed, assessment.viewed)."""
    audit.record(action=f"{obj._meta.model_name}.viewed", actor=actor, organization=organization, target=obj)


# --- assessments -------------------------------------------------------------------------------------
def _max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_BYTES


def prepare_files(uploads, *, allowed: dict[str, str], max_pixels: int | None = None):
    """Validate every upload before anything is stored; the first problem refuses the whole request."""
    return [prepare_upload(u, allowed=allowed, max_bytes=_max_upload_bytes(), max_pixels=max_pixels) for u in uploads]


def _store_files(*, assessment, prepared, kind, actor, written: list[str]) -> list[UploadedFile]:
    rows = []
    for item in prepared:
        key = storage.object_key(assessment.organization_id, assessment.pk, item.extension)
        storage.store(key, item.as_file())
        written.append(key)
        rows.append(
            UploadedFile(
                organization_id=assessment.organization_id,
                assessment=assessment,
                kind=kind,
                storage_key=key,
                original_filename=item.original_filename,
                content_type=item.content_type,
                size=item.size,
                sha256_original=item.sha256_original,
                sha256_stored=item.sha256_stored,
                uploaded_by=_uploader(actor),
            )
        )
    for row in rows:
        row.save(force_insert=True)  # one at a time: the name is sealed with the row's new key
    return rows


def enqueue(assessment: Assessment) -> None:
    """Publish run_assessment after the transaction commits (never for rows that might roll back)."""
    from .tasks import run_assessment

    analyzer = registry.get(assessment.modality)
    assessment_id = str(assessment.pk)

    def publish():
        try:
            run_assessment.apply_async(args=[assessment_id], queue=analyzer.queue)
        except Exception:
            # The broker is down: the row stays queued and the dispatcher re-publishes it.
            logger.exception("could not publish assessment %s; the dispatcher will retry", assessment_id)
            return
        Assessment.objects.with_scopes_disabled().filter(pk=assessment_id).update(last_enqueued_at=timezone.now())

    transaction.on_commit(publish)


def create_assessment(
    *, actor, organization, patient: Patient, modality: str, inputs: dict | None = None, files=(), attachments=()
) -> Assessment:
    """Validate, store the files, create the queued assessment with its stages, and enqueue it.

    Raises ValidationError (field errors) or UploadRejected; either way nothing is left behind: no row,
    no object.
    """
    try:
        analyzer = registry.get(modality)
    except registry.UnknownModality as error:
        raise ValidationError({"modality": str(error)}) from None
    if patient.organization_id != organization.pk:  # defence in depth: the scope already guarantees it
        raise ValidationError({"patient": "No such patient."})
    if organization.require_consent_for_assessment and not patient.has_consent:
        raise ValidationError(
            {"patient": "This patient's consent is not recorded; record it before requesting an assessment."}
        )
    facts = patient_facts(patient)
    try:
        resolved = analyzer.validate_inputs(inputs=inputs or {}, patient=facts)
    except InputError as error:
        raise ValidationError({f"inputs.{k}" if k != "inputs" else k: v for k, v in error.errors.items()}) from None
    resolved = analyzer.with_history(resolved, lambda: prior_results(patient, modality))
    files, attachments = list(files), list(attachments)
    if analyzer.requires_files and not files:
        raise ValidationError({"files": f"{analyzer.label} needs at least one input file."})
    if files and not analyzer.accepted_types:
        raise ValidationError({"files": f"{analyzer.label} takes no input files (use attachments for documents)."})
    prepared_inputs = (
        prepare_files(files, allowed=analyzer.accepted_types, max_pixels=analyzer.max_pixels) if files else []
    )
    if prepared_inputs:
        try:
            prepared_inputs = analyzer.prepare_files(prepared_inputs)
        except InputError as error:
            raise ValidationError({k if k != "inputs" else "files": v for k, v in error.errors.items()}) from None
    prepared_attachments = prepare_files(attachments, allowed=ATTACHMENT_TYPES) if attachments else []

    written: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            assessment = Assessment.objects.create(
                id=uuid.uuid4(),
                organization=organization,
                patient=patient,
                modality=modality,
                status=Status.QUEUED,
                inputs=resolved,
                queued_at=now,
                **_actor_fields(actor),
            )
            PipelineStage.objects.bulk_create(
                PipelineStage(organization=organization, assessment=assessment, name=s.name, label=s.label, order=i)
                for i, s in enumerate(analyzer.stages)
            )
            _store_files(assessment=assessment, prepared=prepared_inputs, kind="input", actor=actor, written=written)
            _store_files(
                assessment=assessment, prepared=prepared_attachments, kind="attachment", actor=actor, written=written
            )
            touch(patient.pk, when=now)
            audit.record(
                action="assessment.created",
                actor=actor,
                organization=organization,
                target=assessment,
                details={"modality": modality, "patient_id": str(patient.pk), "files": len(written)},
            )
            enqueue(assessment)
    except BaseException:
        storage.delete_quietly(written)
        raise
    return assessment


def add_attachments(*, actor, assessment: Assessment, files) -> list[UploadedFile]:
    files = list(files)
    if not files:
        raise ValidationError({"files": "Choose at least one file to attach."})
    prepared = prepare_files(files, allowed=ATTACHMENT_TYPES)
    written: list[str] = []
    try:
        with transaction.atomic():
            locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
            rows = _store_files(assessment=locked, prepared=prepared, kind="attachment", actor=actor, written=written)
            audit.record(
                action="assessment.attachment_added",
                actor=actor,
                organization=locked.organization,
                target=locked,
                details={"files": [str(r.pk) for r in rows]},
            )
    except BaseException:
        storage.delete_quietly(written)
        raise
    return rows


def issue_download_url(*, actor, uploaded_file: UploadedFile) -> str:
    """The permission check is the caller's (a view naming assessments.view_results); this audits the
    issue of a five-minute URL. The download itself goes to the object store, not through Django."""
    url = storage.download_url(uploaded_file.storage_key, uploaded_file.original_filename, uploaded_file.content_type)
    audit.record(
        action="file.download_url_issued",
        actor=actor,
        organization=uploaded_file.assessment.organization,
        target=uploaded_file,
        details={"assessment_id": str(uploaded_file.assessment_id), "ttl_seconds": storage.DOWNLOAD_TTL_SECONDS},
    )
    return url


def issue_explanation_image_url(*, actor, assessment: Assessment) -> str | None:
    """A five-minute URL for the explanation image (e.g. a saliency heatmap), audited like downloads."""
    explanation = AIExplanation.objects.filter(assessment=assessment).exclude(image_key="").first()
    if explanation is None:
        return None
    url = storage.download_url(explanation.image_key, f"explanation-{assessment.pk}.png", "image/png")
    audit.record(
        action="explanation.image_url_issued",
        actor=actor,
        organization=assessment.organization,
        target=assessment,
        details={"ttl_seconds": storage.DOWNLOAD_TTL_SECONDS},
    )
    return url


def transition(assessment_id, to: str, *, actor, reason: str = "", **fields) -> Assessment:
    """The one place assessment status changes: lock the row, check the move, stamp its time, audit it."""
    with transaction.atomic():
        assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
        return apply_transition(assessment, to, actor=actor, reason=reason, **fields)


def apply_transition(assessment: Assessment, to: str, *, actor, reason: str = "", **fields) -> Assessment:
    """``transition`` on a row the caller has already locked (``select_for_update``) in the current
    transaction: the pipeline claims and saves results this way without locking and saving the row twice.
    Saves the row, with any other fields the caller changed on it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_transition needs the caller's transaction and row lock")
    allowed = Assessment.TRANSITIONS[assessment.status]
    if to not in allowed:
        raise TransitionRefused(
            f"An assessment that is {assessment.get_status_display().lower()} cannot become {to}."
        )
    previous = assessment.status
    now = timezone.now()
    assessment.status = to
    stamp = {
        Status.QUEUED: "queued_at",
        Status.RUNNING: "started_at",
        Status.COMPLETED: "completed_at",
        Status.FAILED: "failed_at",
        Status.CANCELLED: "cancelled_at",
    }[to]
    setattr(assessment, stamp, now)
    if to == Status.FAILED:
        assessment.failure_reason = reason or "The analysis failed."
    if to == Status.QUEUED:
        assessment.failure_reason = ""
        assessment.deadline_at = None
    for name, value in fields.items():
        setattr(assessment, name, value)
    assessment.save()
    details = {"from": previous, "to": to}
    if reason:
        details["reason"] = reason[:500]
    audit.record(
        action=f"assessment.{to}",
        actor=actor,
        organization_id=assessment.organization_id,
        target=assessment,
        details=details,
    )
    if to == Status.QUEUED:
        PipelineStage.objects.filter(assessment=assessment).update(
            status=PipelineStage.Status.PENDING, started_at=None, finished_at=None, duration_ms=None, error=""
        )
        enqueue(assessment)
    elif to == Status.CANCELLED:
        # Stages that never ran (or were cut short) are skipped, not left "pending" or "running" forever.
        PipelineStage.objects.filter(
            assessment=assessment, status__in=[PipelineStage.Status.PENDING, PipelineStage.Status.RUNNING]
        ).update(status=PipelineStage.Status.SKIPPED, finished_at=now)
    return assessment


def cancel_assessment(*, actor, assessment: Assessment) -> Assessment:
    return transition(assessment.pk, Status.CANCELLED, actor=actor)


def retry_assessment(*, actor, assessment: Assessment) -> Assessment:
    if assessment.status != Status.FAILED:
        raise TransitionRefused("Only a failed assessment can be retried.")
    return transition(assessment.pk, Status.QUEUED, actor=actor)


REFERENCE_MODEL_ACKNOWLEDGEMENT = (
    "This result comes from a reference model that is not for clinical use. Tick the acknowledgement to sign "
    "it off: you confirm it will not be used for a clinical decision."
)


def sign_off(
    *, actor, assessment: Assessment, note: str = "", acknowledge_reference_model: bool = False
) -> Assessment:
    """A clinician's review of a completed result. A result of a reference model (trained on generated data)
    is signed off only with an explicit acknowledgement that it is not for clinical use; it is stored and
    audited with the sign-off."""
    with transaction.atomic():
        locked = (
            Assessment.objects.select_for_update(of=("self",)).select_related("model_version").get(pk=assessment.pk)
        )
        if locked.status != Status.COMPLETED:
            raise TransitionRefused("Only completed results can be signed off.")
        if locked.reviewed_at is not None:
            raise TransitionRefused("These results are already signed off.")
        reference = locked.model_version is not None and locked.model_version.is_reference
        if reference and not acknowledge_reference_model:
            raise ValidationError({"acknowledge_reference_model": REFERENCE_MODEL_ACKNOWLEDGEMENT})
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.review_note = (note or "").strip()[:5000]
        locked.review_acknowledged_reference_model = reference
        touch(locked.patient_id, when=locked.reviewed_at)
        locked.save(
            update_fields=[
                "reviewed_by",
                "reviewed_at",
                "review_note",
                "review_acknowledged_reference_model",
                "updated_at",
            ]
        )
        audit.record(
            action="assessment.signed_off",
            actor=actor,
            organization=locked.organization,
            target=locked,
            details={"reference_model_acknowledged": True} if reference else None,
        )
    return locked


def post_message(*, actor, assessment: Assessment, body: str) -> ChatMessage:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a message first."})
    if len(body) > 5000:
        raise ValidationError({"body": "Messages are limited to 5,000 characters."})
    with transaction.atomic():
        thread, _ = ChatThread.objects.get_or_create(assessment=assessment, organization=assessment.organization)
        message = ChatMessage.objects.create(
            organization=assessment.organization, thread=thread, author=actor, body=body
        )
        audit.record(
            action="assessment.comment_posted",
            actor=actor,
            organization=assessment.organization,
            target=message,
            details={"assessment_id": str(assessment.pk)},
        )
    return message


# --- results, written by the worker ------------------------------------------------------------------
def save_results(
    *, assessment_id, result, catalogue, explanation_image_key: str = "", stages=()
) -> Assessment | None:
    """Write the outcome in one transaction; returns None when the assessment is no longer running
    (cancelled meanwhile, or already finished by another delivery), in which case nothing is written.
    ``stages``: PipelineStage rows whose timings the pipeline kept in memory, written in the same
    transaction."""
    with transaction.atomic():
        assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
        if assessment.status != Status.RUNNING:
            return None
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


def prior_results(patient: Patient, modality: str, limit: int = 20):
    """This patient's completed assessments of one modality, newest first (for analyzers' with_history)."""
    from modalities.base import PriorResult

    previous = (
        Assessment.objects.filter(patient=patient, modality=modality, status=Status.COMPLETED)
        .order_by("-completed_at")
        .prefetch_related("biomarkers")[:limit]
    )
    return [
        PriorResult(
            inputs=a.inputs,
            biomarkers={b.name: b.value for b in a.biomarkers.all()},
            completed_at=a.completed_at,
            assessment_id=str(a.pk),
        )
        for a in previous
    ]


def patient_facts(patient: Patient):
    from modalities.base import PatientFacts

    return PatientFacts(
        age=patient.age,
        sex_at_birth=patient.sex_at_birth,
        bmi=patient.bmi,
        has_diabetes=patient.has_diabetes,
        treated_hypertension=patient.treated_hypertension,
        current_smoker=patient.current_smoker,
        on_statin=patient.on_statin,
        prior_cardiovascular_disease=patient.prior_cardiovascular_disease,
    )


def reap_stuck(*, now=None) -> dict:
    """Requeue a running assessment past its deadline once; fail it the second time. Re-publish queued
    assessments whose message may have been lost (broker down when they were created)."""
    now = now or timezone.now()
    requeued = failed = republished = 0
    stuck = Assessment.objects.filter(status=Status.RUNNING, deadline_at__lt=now).values_list("pk", "reaper_requeues")
    for pk, requeues in list(stuck):
        try:
            if requeues < 1:
                transition(pk, Status.QUEUED, actor="system:reaper", reaper_requeues=requeues + 1)
                requeued += 1
            else:
                transition(
                    pk,
                    Status.FAILED,
                    actor="system:reaper",
                    reason="The analysis stopped responding twice and was stopped. Retry it, or contact support "
                    "if it keeps failing.",
                )
                failed += 1
        except TransitionRefused:
            continue  # it moved on between the query and the lock
    stale = now - timedelta(seconds=settings.ASSESSMENT_REPUBLISH_AFTER_SECONDS)
    lost = Assessment.objects.filter(status=Status.QUEUED, queued_at__lt=stale).exclude(last_enqueued_at__gte=stale)
    for assessment in lost.select_related("organization")[:500]:
        with transaction.atomic():
            enqueue(assessment)
        republished += 1
    return {"requeued": requeued, "failed": failed, "republished": republished}
