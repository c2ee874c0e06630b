"""Every state change of patients and assessments: keyword-only, an explicit actor and organization,
one transaction, the audit event recorded last in it.

Callers (portal views, API views, tasks, commands) run inside the organization's scope. Status changes
(``status_services``) and the worker's writes (``result_services``) are modules of their own, re-exported
here: callers use ``services.transition``, ``services.save_results`` and so on.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import ApiClient
from audit import reads as audit_reads
from medilens import storage
from modalities import registry
from modalities.base import InputError
from webhooks import events as webhook_events

from .models import (
    AIExplanation,
    Assessment,
    Discussion,
    DiscussionMessage,
    Patient,
    PipelineStage,
    ResultVersion,
    UploadedFile,
)
from .patient_services import (  # noqa: F401  (re-exported: callers use services.create_patient etc.)
    PATIENT_FIELDS,
    create_patient,
    record_consent,
    touch,
    update_patient,
)
from .result_services import (  # noqa: F401 (re-exported)
    STAGE_FIELDS,
    FirstResult,
    biomarker_value,
    declared_stages,
    save_results,
    save_stages,
    write_first_results,
    write_results,
)
from .status_services import (  # noqa: F401 (re-exported: callers use services.transition etc.)
    TransitionRefused,
    apply_transition,
    cancel_assessment,
    enqueue,
    lock,
    lock_queued,
    reap_stuck,
    retry_assessment,
    transition,
)
from .uploads import ATTACHMENT_TYPES, StorageUnavailable, display_name, prepare_upload
from .version_services import reanalyse_assessment  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)

Status = Assessment.Status


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
    """Reads of patient data are audited (patient.viewed, assessment.viewed), naming the patient read."""
    patient_id = obj.pk if isinstance(obj, Patient) else getattr(obj, "patient_id", None)
    audit_reads.record_read(
        action=f"{obj._meta.model_name}.viewed", actor=actor, organization=organization, target=obj,
        patients=[patient_id],
    )


# --- assessments -------------------------------------------------------------------------------------
def _max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_BYTES


def prepare_files(uploads, *, allowed: dict[str, str], max_pixels: int | None = None):
    """Validate every upload before anything is stored; the first problem refuses the whole request."""
    return [prepare_upload(u, allowed=allowed, max_bytes=_max_upload_bytes(), max_pixels=max_pixels) for u in uploads]


def _stage_files(*, organization_id: int, assessment_id, prepared, written: list[str]) -> list[str]:
    """Put the prepared files in storage, before any transaction opens: an upload (up to 100 MB) never holds
    a database lock or a pooled connection's transaction. Each key is added to ``written`` as soon as it is
    stored, so the caller deletes them all if anything later fails; what a dead process leaves is removed by
    the orphan sweep (assessments/sweep.py). A store that does not answer is StorageUnavailable (a 503).
    A caller inside a transaction of its own (the demo seed, a test) keeps it open meanwhile: request views that
    take files run without one (``stores_files_on``)."""
    keys = []
    for item in prepared:
        key = storage.object_key(organization_id, assessment_id, item.extension)
        try:
            storage.store(key, item.as_file())
        except Exception as error:
            if storage.is_transient(error):
                raise StorageUnavailable() from error
            raise
        written.append(key)
        keys.append(key)
    return keys


def _file_rows(*, assessment, prepared, keys, kind, actor) -> list[UploadedFile]:
    """Record stored files; the caller holds the assessment (new, or locked) so the index of each display
    name is not taken twice."""
    rows = []
    earlier = UploadedFile.objects.filter(assessment=assessment, kind=kind).count() if prepared else 0
    today = timezone.localdate()
    for index, (item, key) in enumerate(zip(prepared, keys, strict=True), start=earlier + 1):
        rows.append(
            UploadedFile(
                organization_id=assessment.organization_id,
                assessment=assessment,
                kind=kind,
                storage_key=key,
                original_filename=item.original_filename,
                display_name=display_name(
                    modality=assessment.modality, kind=kind, day=today, index=index, extension=item.extension
                ),
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
    described = analyzer.modality
    try:
        resolved = analyzer.validate_inputs(
            inputs=inputs or {}, patient=patient_facts(patient), history=lambda: prior_results(patient, modality)
        )
    except InputError as error:
        raise ValidationError({f"inputs.{k}" if k != "inputs" else k: v for k, v in error.errors.items()}) from None
    files, attachments = list(files), list(attachments)
    if described.requires_files and not files:
        raise ValidationError({"files": f"{described.label} needs at least one input file."})
    if files and not described.accepted_types:
        raise ValidationError({"files": f"{described.label} takes no input files (use attachments for documents)."})
    prepared_inputs = (
        prepare_files(files, allowed=described.accepted_types, max_pixels=described.max_pixels) if files else []
    )
    if prepared_inputs:
        try:
            prepared_inputs = analyzer.prepare_files(prepared_inputs)
        except InputError as error:
            raise ValidationError({k if k != "inputs" else "files": v for k, v in error.errors.items()}) from None
    prepared_attachments = prepare_files(attachments, allowed=ATTACHMENT_TYPES) if attachments else []

    assessment_id = uuid.uuid4()
    written: list[str] = []
    try:
        # Storage first, no transaction open; then the rows, in one short transaction.
        input_keys = _stage_files(
            organization_id=organization.pk, assessment_id=assessment_id, prepared=prepared_inputs, written=written
        )
        attachment_keys = _stage_files(
            organization_id=organization.pk, assessment_id=assessment_id, prepared=prepared_attachments,
            written=written,
        )
        with transaction.atomic():
            now = timezone.now()
            assessment = Assessment.objects.create(
                id=assessment_id,
                organization=organization,
                patient=patient,
                modality=modality,
                status=Status.QUEUED,
                inputs=resolved,
                queued_at=now,
                **_actor_fields(actor),
            )
            PipelineStage.objects.bulk_create(declared_stages(assessment, described))
            _file_rows(assessment=assessment, prepared=prepared_inputs, keys=input_keys, kind="input", actor=actor)
            _file_rows(
                assessment=assessment, prepared=prepared_attachments, keys=attachment_keys, kind="attachment",
                actor=actor,
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
        keys = _stage_files(
            organization_id=assessment.organization_id, assessment_id=assessment.pk, prepared=prepared,
            written=written,
        )
        with transaction.atomic():
            # Locked only for the rows: the files are stored already.
            locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
            rows = _file_rows(assessment=locked, prepared=prepared, keys=keys, kind="attachment", actor=actor)
            touch(locked.patient_id)
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
    url = storage.download_url(
        uploaded_file.storage_key, uploaded_file.display_name, uploaded_file.content_type, issued_to=actor
    )
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
    url = storage.download_url(
        explanation.image_key, f"explanation-{assessment.pk}.png", "image/png", issued_to=actor
    )
    audit.record(
        action="explanation.image_url_issued",
        actor=actor,
        organization=assessment.organization,
        target=assessment,
        details={"ttl_seconds": storage.DOWNLOAD_TTL_SECONDS},
    )
    return url


REFERENCE_MODEL_ACKNOWLEDGEMENT = (
    "This result comes from a reference model that is not for clinical use. Tick the acknowledgement to sign "
    "it off: you confirm it will not be used for a clinical decision."
)


def sign_off(
    *, actor, assessment: Assessment, note: str = "", acknowledge_reference_model: bool = False,
    version: int | None = None,
) -> Assessment:
    """A clinician's review of a completed result. A result of a reference model (trained on generated data)
    is signed off only with an explicit acknowledgement that it is not for clinical use; it is stored and
    audited with the sign-off.

    A sign-off names the result version it signs (the latest; recorded on that ResultVersion and in the audit
    event). ``version``: the number the clinician saw; refused if a re-analysis has replaced it since."""
    with transaction.atomic():
        locked = (
            Assessment.objects.select_for_update(of=("self",)).select_related("model_version").get(pk=assessment.pk)
        )
        if locked.status != Status.COMPLETED:
            raise TransitionRefused("Only completed results can be signed off.")
        if locked.reviewed_at is not None:
            raise TransitionRefused("These results are already signed off.")
        signed_version = ResultVersion.objects.filter(assessment=locked).order_by("-number").first()
        if version is not None and (signed_version is None or signed_version.number != version):
            raise TransitionRefused(
                f"Version {version} is not the latest result of this assessment; review the latest version first."
            )
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
        details = {"version": signed_version.number} if signed_version else {}
        if reference:
            details["reference_model_acknowledged"] = True
        if signed_version is not None:
            signed_version.signed_off_by = actor
            signed_version.signed_off_at = locked.reviewed_at
            signed_version.review_note = locked.review_note
            signed_version.save(update_fields=["signed_off_by", "signed_off_at", "review_note"])
        audit.record(
            action="assessment.signed_off",
            actor=actor,
            organization=locked.organization,
            target=locked,
            details=details or None,
        )
        webhook_events.emit(organization_id=locked.organization_id, event_type="assessment.signed_off", obj=locked)
    return locked


def post_discussion_message(*, actor, assessment: Assessment, body: str) -> DiscussionMessage:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a message first."})
    if len(body) > 5000:
        raise ValidationError({"body": "Messages are limited to 5,000 characters."})
    with transaction.atomic():
        discussion, _ = Discussion.objects.get_or_create(assessment=assessment, organization=assessment.organization)
        message = DiscussionMessage.objects.create(
            organization=assessment.organization, discussion=discussion, author=actor, body=body
        )
        touch(assessment.patient_id)
        audit.record(
            action="discussion.posted",
            actor=actor,
            organization=assessment.organization,
            target=message,
            details={"assessment_id": str(assessment.pk)},
        )
        # Members it @mentions are told by a task after commit (notifications/mentions.py: the syntax).
        from notifications import publish

        publish.discussion_message_posted(message)
    return message


def prior_results(patient: Patient, modality: str, limit: int = 20):
    """This patient's completed assessments of one modality, newest first (an analyzer's ``history``)."""
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
        height_cm=float(patient.height_cm) if patient.height_cm is not None else None,
        weight_kg=float(patient.weight_kg) if patient.weight_kg is not None else None,
    )
