"""Running one assessment, as the worker does: claim it, run the analyzer stage by stage, save.

Idempotent: a delivery that finds the assessment finished (or cancelled) does nothing, and results are
written in one transaction at the end, so a worker killed mid-analysis leaves nothing half-written; the
redelivered message runs the analysis again from the start.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from medilens import storage
from modalities import registry
from modalities.base import AnalysisContext, AnalysisError, InputFile

from . import services
from .models import Assessment, PipelineStage, UploadedFile

logger = logging.getLogger(__name__)
Status = Assessment.Status


class Cancelled(Exception):
    """The assessment was cancelled while it ran."""


def claim(assessment_id) -> Assessment | None:
    """Move a queued assessment to running (or pick up a running one again after a lost worker)."""
    with transaction.atomic():
        assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
        if assessment.status in Assessment.FINISHED or assessment.status == Status.DRAFT:
            return None
        analyzer = registry.get(assessment.modality)
        deadline = timezone.now() + timedelta(seconds=analyzer.deadline_seconds)
        if assessment.status == Status.QUEUED:
            return services.transition(
                assessment.pk,
                Status.RUNNING,
                actor="system:worker",
                deadline_at=deadline,
                attempts=assessment.attempts + 1,
            )
        # Running already: a redelivery after the previous worker died. Start again from the top.
        assessment.deadline_at = deadline
        assessment.attempts += 1
        assessment.save(update_fields=["deadline_at", "attempts", "updated_at"])
        PipelineStage.objects.filter(assessment=assessment).update(
            status=PipelineStage.Status.PENDING, started_at=None, finished_at=None, duration_ms=None, error=""
        )
        return assessment


def _stage_recorder(assessment_id):
    @contextmanager
    def stage(name: str):
        if Assessment.objects.filter(pk=assessment_id, status=Status.CANCELLED).exists():
            raise Cancelled()
        started = timezone.now()
        clock = time.monotonic()
        PipelineStage.objects.filter(assessment_id=assessment_id, name=name).update(
            status=PipelineStage.Status.RUNNING, started_at=started, error=""
        )
        try:
            yield
        except Exception as error:
            PipelineStage.objects.filter(assessment_id=assessment_id, name=name).update(
                status=PipelineStage.Status.FAILED,
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - clock) * 1000),
                error=error.reason if isinstance(error, AnalysisError) else "internal error",
            )
            raise
        PipelineStage.objects.filter(assessment_id=assessment_id, name=name).update(
            status=PipelineStage.Status.COMPLETED,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - clock) * 1000),
        )

    return stage


def _input_files(assessment: Assessment) -> list[InputFile]:
    files = UploadedFile.objects.filter(assessment=assessment, kind=UploadedFile.Kind.INPUT).order_by("created_at")
    return [
        InputFile(
            filename=f.original_filename,
            content_type=f.content_type,
            size=f.size,
            open=(lambda key=f.storage_key: storage.open_object(key)),
        )
        for f in files
    ]


def run(assessment_id) -> str:
    """Returns what happened: "skipped", "completed", "failed" or "cancelled".

    Raises storage.TransientStorageError for the task to retry later.
    """
    assessment = claim(assessment_id)
    if assessment is None:
        return "skipped"
    analyzer = registry.get(assessment.modality)
    context = AnalysisContext(
        inputs=assessment.inputs,
        files=_input_files(assessment),
        patient=services.patient_facts(assessment.patient),
        stage=_stage_recorder(assessment.pk),
        organization_id=assessment.organization_id,
    )
    try:
        result = analyzer.analyze(context)
        result.check(analyzer.catalogue)
    except Cancelled:
        return "cancelled"
    except AnalysisError as error:
        return _fail(assessment.pk, error.reason)
    except storage.TransientStorageError:
        raise
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        if storage.is_transient(error):
            raise storage.TransientStorageError(type(error).__name__) from error
        # Not the clinician's to debug: a readable reason, the traceback in the log (it holds no PHI:
        # analyzers see no names or identifiers).
        logger.exception("analyzer %s crashed on assessment %s", analyzer.name, assessment.pk)
        return _fail(
            assessment.pk,
            "The analysis stopped on an internal error. Retry it; if it fails again, "
            "contact support with the assessment id.",
        )
    image_key = ""
    if result.explanation_image_png:
        image_key = storage.object_key(assessment.organization_id, assessment.pk, "png")
        from django.core.files.base import ContentFile

        storage.store(image_key, ContentFile(result.explanation_image_png))
    saved = services.save_results(
        assessment_id=assessment.pk, result=result, catalogue=analyzer.catalogue, explanation_image_key=image_key
    )
    if saved is None:
        storage.delete_quietly([image_key] if image_key else [])
        return "cancelled"
    return "completed"


def _fail(assessment_id, reason: str) -> str:
    try:
        services.transition(assessment_id, Status.FAILED, actor="system:worker", reason=reason)
    except services.TransitionRefused:
        return "cancelled"
    return "failed"
