"""Running one assessment, as the worker does: claim it, run the analyzer stage by stage, save.

Idempotent: a delivery that finds the assessment finished (or cancelled) does nothing, and results are
written in one transaction at the end, so a worker killed mid-analysis leaves nothing half-written; the
redelivered message runs the analysis again from the start.

Two shapes (``in_one_transaction``):

* an analyzer whose whole analysis takes about a millisecond and reads no files (``live_progress=False``
  and no accepted file types: cvd_risk, cognitive) is claimed, run and saved in ONE transaction, under the
  row lock taken by the claim: 7 statements and one commit per assessment (the lock with its patient and
  whether the organization has a webhook endpoint, the biomarkers, the explanation, the stages' update,
  result version 1, the row's one UPDATE, both audit events in one INSERT: ``audit.batched``) between BEGIN
  and COMMIT, where claim and results as two transactions took 12 (16 with their BEGINs and COMMITs) and the
  task's lookup of the organization a third transaction (benchmarks/pipeline_throughput.py; README
  "Benchmarks"). The stage rows are not read (``services.declared_stages``); the endpoints are read only when the
  organization has one, and a finished assessment queues a notification task only when it has someone to
  tell (a person asked, or the result is high risk). Nobody
  sees it "running" (nothing could be watched in a millisecond); its audit trail still records
  ``assessment.running`` and ``assessment.completed``. A cancel that arrives meanwhile waits for the lock (the analysis'
  milliseconds) and then finds it finished. No storage I/O happens under that lock: such an analyzer takes
  no files, so it has none to read and no image of them to store.
* batched: a worker running such a first analysis (never analysed before: nothing to replace) also claims
  up to ASSESSMENT_BATCH_SIZE - 1 other queued first analyses of such modalities in the same organization
  (``services.lock_queued``: oldest first, rows another transaction holds skipped, not waited for) and runs
  them in the same transaction: each is claimed and analysed in turn, then all their results are written
  with one statement per table (``services.write_first_results``), so a backlog costs 8 statements and one
  commit per batch instead of 7 and one per assessment. Their own messages then find them finished: in the
  process that ran the batch without a statement when the message is the one the row named, otherwise by a
  plain read of the status (``_claimed_here``); in another process by the lock.
  A re-analysis (a row that completed before) runs alone, on its own message.
* every other analyzer: the claim commits first (the portal shows it running), the analysis runs outside
  any transaction with its stage boundaries published as they happen, and the results are written in a
  second transaction that locks the row again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

import audit
from medilens import storage
from modalities import registry
from modalities.base import AnalysisContext, AnalysisError, InputFile

from . import services, version_services
from .models import Assessment, PipelineStage, UploadedFile

logger = logging.getLogger(__name__)
Status = Assessment.Status


class Cancelled(Exception):
    """The assessment was cancelled while it ran."""


# An analyzer that declares ``live_progress = False`` (its whole analysis takes about a millisecond) has its
# stages written once, with its results: nobody could watch them, and each write would be a commit. If such
# an analysis runs longer than this after all, its stage boundaries are published from then on.
LIVE_PROGRESS_AFTER_SECONDS = 0.25


def in_one_transaction(modality) -> bool:
    """Claim, analysis and results in one transaction: the analysis is fast and reads no files (module
    docstring)."""
    return not modality.live_progress and not modality.accepted_types


def claim(assessment_id) -> tuple[Assessment, list[PipelineStage]] | None:
    """Move a queued assessment to running (or pick up a running one again after a lost worker), and mark
    its first stage running, in one transaction. Returns the locked row (with its patient) and its stages."""
    with transaction.atomic():
        assessment = _lock(assessment_id)
        if assessment is None:
            return None
        claimed = _claim(assessment)
        services.save_stages(claimed[1])
        return claimed


def _lock(assessment_id) -> Assessment | None:
    """The row locked in the caller's transaction, with its patient; None when there is nothing to run."""
    assessment = services.lock(assessment_id, related=("patient",), finishing=True)
    if assessment.status in Assessment.FINISHED or assessment.status == Status.DRAFT:
        return None
    return assessment


def _claim(assessment: Assessment, *, save: bool = True, stages=None) -> tuple[Assessment, list[PipelineStage]]:
    """``claim`` on the row ``_lock`` returned, its stages reset in memory only (the caller writes them).
    ``save=False``: the row's move to running is not written either; the caller saves the row later in
    the same transaction (``in_one_transaction``). ``stages``: the rows to reset, when the caller has them
    (``services.declared_stages``); otherwise they are read."""
    analyzer = registry.get(assessment.modality)
    deadline = timezone.now() + timedelta(seconds=analyzer.modality.deadline_seconds)
    if stages is None:
        stages = list(PipelineStage.objects.filter(assessment=assessment).order_by("order"))
    if assessment.status == Status.QUEUED:
        attempts = assessment.attempts + 1
        services.apply_transition(
            assessment, Status.RUNNING, actor="system:worker", deadline_at=deadline, attempts=attempts, save=save
        )
    else:
        # Running already: a redelivery after the previous worker died. Start again from the top.
        assessment.deadline_at = deadline
        assessment.attempts += 1
        if save:
            assessment.save(update_fields=["deadline_at", "attempts", "updated_at"])
    now = timezone.now()
    for index, stage in enumerate(stages):
        stage.status = PipelineStage.Status.RUNNING if index == 0 else PipelineStage.Status.PENDING
        stage.started_at = now if index == 0 else None
        stage.finished_at = stage.duration_ms = None
        stage.error = ""
    return assessment, stages


class StageRecorder:
    """``context.stage(name)`` for analyzers: times each stage. When live, each stage boundary is published
    as it happens (one statement) and cancellation is checked there, so the portal shows progress; when not
    (a fast analyzer, see LIVE_PROGRESS_AFTER_SECONDS), the stages are written with the results.

    ``in_transaction``: the analysis runs inside the claim's transaction (``in_one_transaction``), where a
    publication could not be seen before the commit and the row lock already keeps a cancel out: it never
    goes live, and the pipeline writes every stage row with the results, a failed stage included."""

    def __init__(self, assessment_id, stages: list[PipelineStage], *, live: bool = True, in_transaction=False):
        self.assessment_id = assessment_id
        self.rows = {stage.name: stage for stage in stages}
        self.dirty: dict[str, PipelineStage] = {}
        self.began = time.monotonic()
        self.in_transaction = in_transaction
        self.live = live and not in_transaction

    def _is_live(self) -> bool:
        if self.in_transaction:
            return False
        if not self.live and time.monotonic() - self.began >= LIVE_PROGRESS_AFTER_SECONDS:
            self.live = True
        return self.live

    def _set(self, name: str, **values) -> None:
        row = self.rows.get(name)
        if row is None:  # a stage the analyzer did not declare: timed, not stored
            return
        changed = False
        for field, value in values.items():
            if getattr(row, field) != value:
                setattr(row, field, value)
                changed = True
        if changed:
            self.dirty[name] = row

    def publish(self) -> None:
        if not self.in_transaction:
            services.save_stages(self.pending())

    def pending(self) -> list[PipelineStage]:
        """Rows changed since the last publish (the pipeline writes them with the results)."""
        rows, self.dirty = list(self.dirty.values()), {}
        return rows

    @contextmanager
    def __call__(self, name: str):
        live = self._is_live()
        if live and Assessment.objects.filter(pk=self.assessment_id, status=Status.CANCELLED).exists():
            raise Cancelled()
        row = self.rows.get(name)
        started = row.started_at if row is not None and row.status == PipelineStage.Status.RUNNING else None
        self._set(name, status=PipelineStage.Status.RUNNING, started_at=started or timezone.now(), error="")
        if live:
            self.publish()
        clock = time.monotonic()
        try:
            yield
        except Exception as error:
            self._set(
                name,
                status=PipelineStage.Status.FAILED,
                finished_at=timezone.now(),
                duration_ms=int((time.monotonic() - clock) * 1000),
                error=error.reason if isinstance(error, AnalysisError) else "internal error",
            )
            self.publish()
            raise
        self._set(
            name,
            status=PipelineStage.Status.COMPLETED,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - clock) * 1000),
        )


def _input_files(assessment: Assessment) -> list[InputFile]:
    inputs = UploadedFile.objects.filter(assessment=assessment, kind=UploadedFile.Kind.INPUT)
    files = inputs.order_by("created_at", "id")
    return [
        InputFile(
            filename=f.original_filename,
            content_type=f.content_type,
            size=f.size,
            open=(lambda key=f.storage_key: storage.open_object(key)),
        )
        for f in files
    ]


def run(assessment_id, *, batch_size: int = 1, message_id=None) -> str:
    """Returns what happened: "skipped", "completed", "failed" or "cancelled".

    ``batch_size`` above 1 (the worker's ASSESSMENT_BATCH_SIZE): when this is a first analysis in the
    one-transaction shape, up to ``batch_size - 1`` other queued first analyses of that shape in the same
    organization are claimed, run and saved with it, in its transaction (``_run_first_analyses``); their
    own messages then find them finished and skip them. PostgreSQL only: SQLite has no row locks to skip.

    ``message_id``: the task id of the message being run, which a batch run in this process may have
    answered already (``_claimed_here``).

    Raises storage.TransientStorageError for the task to retry later, and Assessment.DoesNotExist when the
    assessment is not in the current organization's scope.
    """
    if _claimed_here.answered(assessment_id, message_id):
        return "skipped"
    with transaction.atomic(), audit.batched():
        assessment = _lock(assessment_id)
        if assessment is None:
            return "skipped"
        analyzer = registry.get(assessment.modality)
        if in_one_transaction(analyzer.modality):
            if assessment.completed_at is None:
                batch = [assessment, *_claim_ahead(assessment, batch_size - 1)]
                outcomes = _run_first_analyses(batch)
                for other in batch[1:]:
                    logger.info("assessment %s: %s (in the batch of %s)", other.pk, outcomes[other.pk], assessment.pk)
                if others := {other.pk: other.last_message_id for other in batch[1:]}:
                    transaction.on_commit(lambda: _claimed_here.add(others))
                return outcomes[assessment.pk]
            declared = services.declared_stages(assessment, analyzer.modality)
            assessment, stages = _claim(assessment, save=False, stages=declared)
            recorder = StageRecorder(assessment.pk, stages, live=False, in_transaction=True)
            return _analyse(assessment, analyzer, recorder, locked=True)
        assessment, stages = _claim(assessment)
        services.save_stages(stages)
    recorder = StageRecorder(assessment.pk, stages, live=analyzer.modality.live_progress)
    return _analyse(assessment, analyzer, recorder, locked=False)


class _ClaimedHere:
    """Assessments this process ran in a batch on another one's message (``run``'s ``batch_size``), with the
    task id of the message their publisher had sent for them (``Assessment.last_message_id``), whose own
    messages are still to come. ``answered`` is asked once per assessment (the entry is taken):

    * the message is the one the row named: the batch answered it (the queuing it was sent for is the one the
      batch ran; any later queuing, a re-analysis or a retry, publishes a message with a new id), and it is
      skipped without a statement;
    * another message (the row named none yet when it was claimed, or the reaper re-published it): a plain
      read of the row's status decides (about half the cost of the lock that would find it finished).

    Bounded: the oldest entries are forgotten first; a message that finds none takes the usual lock."""

    _NONE = object()

    def __init__(self, limit: int):
        self.limit = limit
        self._messages: OrderedDict[str, str | None] = OrderedDict()
        self._guard = threading.Lock()  # the threads pool runs tasks side by side in one process

    def add(self, messages: dict) -> None:
        with self._guard:
            for assessment_id, message_id in messages.items():
                self._messages[str(assessment_id)] = str(message_id) if message_id else None
            while len(self._messages) > self.limit:
                self._messages.popitem(last=False)

    def answered(self, assessment_id, message_id) -> bool:
        with self._guard:
            named = self._messages.pop(str(assessment_id), self._NONE)
        if named is self._NONE:
            return False
        if named is not None and message_id is not None and named == str(message_id):
            return True
        return _finished(assessment_id)


_claimed_here = _ClaimedHere(limit=10_000)


def _finished(assessment_id) -> bool:
    return Assessment.objects.filter(pk=assessment_id, status__in=Assessment.FINISHED).exists()


def one_transaction_modalities() -> list[str]:
    return [name for name in registry.names() if in_one_transaction(registry.get(name).modality)]


def _claim_ahead(assessment: Assessment, limit: int) -> list[Assessment]:
    """Other queued first analyses to run with ``assessment`` (``run``'s ``batch_size``), locked."""
    if limit < 1 or transaction.get_connection().vendor != "postgresql":
        return []
    return services.lock_queued(
        organization_id=assessment.organization_id, modalities=one_transaction_modalities(),
        besides=assessment.pk, limit=limit,
    )


def _run_first_analyses(batch: list[Assessment]) -> dict:
    """Claim, analyse and save first analyses in the one-transaction shape, in the caller's transaction,
    on rows it locked: each is claimed and analysed in turn (a failure fails that one, with its stage),
    then every result is written together (``services.write_first_results``). Returns each one's outcome
    by primary key."""
    outcomes, finished = {}, []
    for row in batch:
        analyzer = registry.get(row.modality)
        declared = services.declared_stages(row, analyzer.modality)
        assessment, stages = _claim(row, save=False, stages=declared)
        recorder = StageRecorder(assessment.pk, stages, live=False, in_transaction=True)
        result = _analysis(assessment, analyzer, recorder, locked=True)
        if isinstance(result, str):
            outcomes[assessment.pk] = result
            continue
        finished.append(
            services.FirstResult(
                assessment=assessment, result=result, catalogue=result.specs(analyzer.modality.catalogue),
                stages=list(recorder.rows.values()),
            )
        )
        outcomes[assessment.pk] = "completed"
    services.write_first_results(finished)
    return outcomes


def _analyse(assessment: Assessment, analyzer, recorder: StageRecorder, *, locked: bool) -> str:
    """Run the analyzer and save its outcome. ``locked``: still inside the claim's transaction, on its
    locked row (``in_one_transaction``); otherwise the results' transaction locks the row again."""
    result = _analysis(assessment, analyzer, recorder, locked=locked)
    if isinstance(result, str):
        return result
    if locked:
        services.write_results(
            assessment,
            result=result,
            catalogue=result.specs(analyzer.modality.catalogue),
            stages=list(recorder.rows.values()),
        )
        return "completed"
    return _save(assessment, analyzer, result, recorder)


def _analysis(assessment: Assessment, analyzer, recorder: StageRecorder, *, locked: bool):
    """The analyzer's checked result, or the outcome of an analysis that did not produce one ("cancelled",
    or "failed" once the failure is saved)."""
    context = AnalysisContext(
        inputs=assessment.inputs,
        files=_input_files(assessment) if analyzer.modality.accepted_types else [],
        patient=services.patient_facts(assessment.patient),
        stage=recorder,
        organization_id=assessment.organization_id,
    )
    try:
        result = analyzer.analyze(context)
        result.check(analyzer.modality.catalogue)
    except Cancelled:
        return "cancelled"
    except AnalysisError as error:
        return _fail_analysis(assessment, recorder, error.reason, locked=locked)
    except (storage.TransientStorageError, SoftTimeLimitExceeded, OperationalError, InterfaceError):
        raise  # the task retries (storage, database connection) or fails it (time limit)
    except Exception as error:
        if storage.is_transient(error):
            raise storage.TransientStorageError(type(error).__name__) from error
        # Not the clinician's to debug: a readable reason, the traceback in the log (it holds no PHI:
        # analyzers see no names or identifiers).
        logger.exception("analyzer %s crashed on assessment %s", assessment.modality, assessment.pk)
        reason = (
            "The analysis stopped on an internal error. Retry it; if it fails again, "
            "contact support with the assessment id."
        )
        return _fail_analysis(assessment, recorder, reason, locked=locked)
    if locked and (result.explanation_image_png or result.artifacts):
        # Storing them here would be storage I/O under the row lock: such an analyzer must not declare
        # itself fast and file-less (in_one_transaction). A defect, failed as one, never half-saved.
        logger.error("analyzer %s returned files in the one-transaction shape", assessment.modality)
        return _fail_analysis(assessment, recorder, "The analysis stopped on an internal error.", locked=True)
    return result


def _save(assessment: Assessment, analyzer, result, recorder: StageRecorder) -> str:
    """Upload the result's files first (explanation image, artifacts), then record them with the results in
    one short transaction: no storage I/O under the row lock. What a refused save uploaded is deleted."""
    number = version_services.next_version_number(assessment.pk)
    written: list[str] = []
    try:
        image_key = ""
        if result.explanation_image_png:
            image_key = storage.object_key(assessment.organization_id, assessment.pk, "png")
            storage.store(image_key, ContentFile(result.explanation_image_png))
            written.append(image_key)
        artifacts = version_services.upload_artifacts(
            organization_id=assessment.organization_id, assessment_id=assessment.pk, number=number,
            artifacts=result.artifacts,
        )
        written += [item.storage_key for item in artifacts]
        saved = services.save_results(
            assessment_id=assessment.pk,
            result=result,
            catalogue=result.specs(analyzer.modality.catalogue),
            explanation_image_key=image_key,
            stages=recorder.pending(),
            version_number=number,
            artifacts=artifacts,
        )
    except BaseException:
        storage.delete_quietly(written)
        raise
    if saved is None:
        storage.delete_quietly(written)
        return "cancelled"
    return "completed"


def _fail_analysis(assessment: Assessment, recorder: StageRecorder, reason: str, *, locked: bool) -> str:
    if not locked:
        return _fail(assessment.pk, reason)
    # Inside the claim's transaction: the row is locked and running; its stages go with the failure.
    services.save_stages(list(recorder.rows.values()))
    services.apply_transition(assessment, Status.FAILED, actor="system:worker", reason=reason)
    return "failed"


def _fail(assessment_id, reason: str) -> str:
    try:
        services.transition(assessment_id, Status.FAILED, actor="system:worker", reason=reason)
    except services.TransitionRefused:
        return "cancelled"
    return "failed"
