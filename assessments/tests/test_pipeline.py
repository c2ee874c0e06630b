"""The status machine, the reaper, the orphan sweep and the pipeline's idempotency, in-process."""

import dataclasses
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment, BiomarkerValue
from assessments.sweep import sweep_orphans
from audit.models import AuditEvent
from medilens import storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(tenant_a):
    with organization_scope(tenant_a.organization):
        return services.create_patient(
            actor="system:test", organization=tenant_a.organization, consent=True, mrn="P-1", given_name="Ada",
            family_name="Example", date_of_birth=date(1970, 1, 1), sex_at_birth="female",
        )


def _assessment(tenant, patient, **inputs):
    return services.create_assessment(
        actor="system:test", organization=tenant.organization, patient=patient, modality="test_sleep",
        inputs=inputs,
    )


def test_transitions_follow_the_status_machine_and_are_audited(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        with pytest.raises(services.TransitionRefused):
            services.transition(assessment.pk, "completed", actor="system:test")
        services.transition(assessment.pk, "running", actor="system:test")
        services.transition(assessment.pk, "failed", actor="system:test", reason="broken")
        failed = Assessment.objects.get(pk=assessment.pk)
        assert failed.failure_reason == "broken" and failed.failed_at is not None
        services.retry_assessment(actor="system:test", assessment=failed)
        retried = Assessment.objects.get(pk=assessment.pk)
        assert retried.status == "queued" and retried.failure_reason == ""
        with pytest.raises(services.TransitionRefused):
            services.retry_assessment(actor="system:test", assessment=retried)
        services.cancel_assessment(actor="system:test", assessment=retried)
        with pytest.raises(services.TransitionRefused):
            services.cancel_assessment(actor="system:test", assessment=retried)
    actions = list(
        AuditEvent.objects.filter(organization=tenant_a.organization, target_id=str(assessment.pk))
        .order_by("sequence").values_list("action", flat=True)
    )
    assert actions == [
        "assessment.created", "assessment.running", "assessment.failed", "assessment.queued", "assessment.cancelled"
    ]


def test_a_second_delivery_of_a_finished_assessment_does_nothing(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        assert pipeline.run(assessment.pk) == "completed"
        assert pipeline.run(assessment.pk) == "skipped"
        assert BiomarkerValue.objects.filter(assessment=assessment).count() == 1


def _fast(monkeypatch):
    """test_sleep as a fast analyzer: no live progress and no files, so it runs in one transaction."""
    from modalities import registry

    analyzer = registry.get("test_sleep")
    monkeypatch.setattr(analyzer, "modality", dataclasses.replace(analyzer.modality, live_progress=False))
    assert pipeline.in_one_transaction(analyzer.modality)
    return analyzer


def test_a_fast_analysis_is_claimed_run_and_saved_in_one_transaction(tenant_a, patient, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments.models import PipelineStage

    _fast(monkeypatch)
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(assessment.pk) == "completed"
        stages = list(PipelineStage.objects.filter(assessment=assessment).order_by("order"))
        final = Assessment.objects.get(pk=assessment.pk)
    sql = [q["sql"] for q in captured.captured_queries]
    # Inside the test's transaction an atomic block is a savepoint: exactly one, so one transaction.
    assert sum(q.upper().startswith("SAVEPOINT") for q in sql) == 1, sql
    assert sum(q.upper().startswith("RELEASE SAVEPOINT") for q in sql) == 1, sql
    assert sum("FOR UPDATE" in q.upper() for q in sql) == 1, sql  # the row is locked once
    # 7 statements (README "Benchmarks"): the lock (which also reads whether the organization has a webhook
    # endpoint), biomarkers, explanation, stages, result version 1 (no look-up: the assessment never completed
    # before), the row once, both audit events in one INSERT. The stage rows are not read: they are the
    # modality's declared stages, written by assessment and name.
    statements = [q for q in sql if not q.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(statements) == 7, statements
    assert not any(q.startswith("SELECT") and '"assessments_pipelinestage"' in q.split(" WHERE ")[0] for q in sql)
    assert sum('"webhooks_webhookendpoint"' in q for q in sql) == 1, sql  # inside the lock's statement
    assert sum(q.startswith('INSERT INTO "assessments_resultversion"') for q in statements) == 1
    assert sum(q.startswith('UPDATE "assessments_assessment"') for q in statements) == 1
    assert sum(q.startswith('INSERT INTO "audit_auditevent"') for q in statements) == 1
    assert [s.status for s in stages] == ["completed"] * 3
    assert all(s.started_at and s.finished_at and s.duration_ms is not None for s in stages)
    assert stages[1].started_at >= stages[0].started_at
    stage_writes = [q for q in sql if "assessments_pipelinestage" in q and "UPDATE" in q.upper()]
    assert len(stage_writes) == 1, stage_writes  # with the results; nothing at the claim, nothing per stage
    # and no cancellation check per stage: the row lock keeps a cancel out until the commit
    assert not any(q.upper().startswith("SELECT 1 AS") for q in sql), sql
    assert final.status == "completed" and final.attempts == 1 and final.started_at <= final.completed_at
    actions = list(
        AuditEvent.objects.filter(target_id=str(assessment.pk)).order_by("sequence").values_list("action", flat=True)
    )
    assert actions == ["assessment.created", "assessment.running", "assessment.completed"]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_fast_analysis_emits_its_webhook_when_the_organization_has_an_enabled_endpoint(
    tenant_a, patient, monkeypatch, enabled
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webhooks import services as webhook_services
    from webhooks.models import WebhookDelivery

    _fast(monkeypatch)
    with organization_scope(tenant_a.organization):
        webhook_services.create_endpoint(
            actor="system:test", organization=tenant_a.organization, url="http://127.0.0.1:9/hooks",
            events=["assessment.completed"], enabled=enabled,
        )
        assessment = _assessment(tenant_a, patient)
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(assessment.pk) == "completed"
        deliveries = list(
            WebhookDelivery.objects.filter(object_id=str(assessment.pk)).values_list("event_type", flat=True)
        )
    endpoint_reads = [q["sql"] for q in captured.captured_queries if '"webhooks_webhookendpoint"' in q["sql"]]
    if enabled:
        # The lock saw an endpoint: emit reads which ones want the event and writes a delivery for it.
        assert deliveries == ["assessment.completed"]
        assert len(endpoint_reads) == 2, endpoint_reads
    else:
        # Only a disabled endpoint: the lock's statement said none, and emit read nothing more.
        assert deliveries == []
        assert len(endpoint_reads) == 1, endpoint_reads


def test_a_fast_analysis_writes_the_stages_its_modality_declares_by_name(tenant_a, patient, monkeypatch):
    from assessments.models import PipelineStage

    _fast(monkeypatch)
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        other = _assessment(tenant_a, patient)
        assert pipeline.run(assessment.pk) == "completed"
        written = list(PipelineStage.objects.filter(assessment=assessment).order_by("order").values_list(
            "name", "status"))
        untouched = set(PipelineStage.objects.filter(assessment=other).values_list("status", flat=True))
    assert written == [("start", "completed"), ("sleep", "completed"), ("finish", "completed")]
    assert untouched == {"pending"}  # the same stage names on another assessment were not written


def test_a_fast_analysis_that_fails_fails_in_its_one_transaction_with_its_stage(tenant_a, patient, monkeypatch):
    _fast(monkeypatch)
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient, fail=True)
        assert pipeline.run(assessment.pk) == "failed"
        final = Assessment.objects.get(pk=assessment.pk)
        stages = dict(final.stages.values_list("name", "status"))
        assert final.failure_reason == "The test analyzer was asked to fail."
        assert not BiomarkerValue.objects.filter(assessment=final).exists()
    assert stages == {"start": "completed", "sleep": "failed", "finish": "pending"}
    actions = list(
        AuditEvent.objects.filter(target_id=str(assessment.pk)).order_by("sequence").values_list("action", flat=True)
    )
    assert actions == ["assessment.created", "assessment.running", "assessment.failed"]


def test_a_live_analysis_cancelled_while_it_ran_writes_nothing(tenant_a, patient, monkeypatch):
    from modalities import registry

    analyzer = registry.get("test_sleep")
    assert not pipeline.in_one_transaction(analyzer.modality)
    original = analyzer.analyze

    def cancelled_midway(context):
        with organization_scope(tenant_a.organization):
            services.cancel_assessment(actor="system:test", assessment=Assessment.objects.get(pk=assessment.pk))
        return original(context)

    monkeypatch.setattr(analyzer, "analyze", cancelled_midway)
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        assert pipeline.run(assessment.pk) == "cancelled"
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.status == "cancelled" and final.risk_score is None
        assert not BiomarkerValue.objects.filter(assessment=final).exists()
        assert set(final.stages.values_list("status", flat=True)) == {"skipped"}


def test_a_cancelled_assessment_is_not_run(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        services.cancel_assessment(actor="system:test", assessment=assessment)
        assert pipeline.run(assessment.pk) == "skipped"
        assert not BiomarkerValue.objects.filter(assessment=assessment).exists()


def test_the_reaper_requeues_once_then_fails_with_a_reason(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        pipeline.claim(assessment.pk)
        later = timezone.now() + timedelta(hours=1)
        assert services.reap_stuck(now=later)["requeued"] == 1
        assert Assessment.objects.get(pk=assessment.pk).status == "queued"
        pipeline.claim(assessment.pk)
        assert services.reap_stuck(now=later + timedelta(hours=1))["failed"] == 1
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.status == "failed"
        assert "stopped responding" in final.failure_reason
        # Within its deadline, a running assessment is left alone.
        other = _assessment(tenant_a, patient)
        pipeline.claim(other.pk)
        assert services.reap_stuck() == {"requeued": 0, "failed": 0, "republished": 0, "unpublished": 0}


def test_the_reaper_republishes_queued_assessments_whose_message_was_lost(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        later = timezone.now() + timedelta(seconds=settings.ASSESSMENT_REPUBLISH_AFTER_SECONDS + 5)
        assert services.reap_stuck(now=later)["republished"] == 1
        assert services.reap_stuck(now=timezone.now())["republished"] == 0
        assert Assessment.objects.get(pk=assessment.pk).status == "queued"


def test_the_beat_schedule_names_real_tasks():
    from medilens.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


def test_the_orphan_sweep_removes_only_unreferenced_old_objects(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
    kept = storage.object_key(tenant_a.organization.pk, assessment.pk, "pdf")
    orphan = storage.object_key(tenant_a.organization.pk, assessment.pk, "pdf")
    storage.store(kept, ContentFile(b"%PDF-1.4 kept"))
    storage.store(orphan, ContentFile(b"%PDF-1.4 orphan"))
    with scopes_disabled():
        from assessments.models import UploadedFile

        UploadedFile.objects.create(
            organization=tenant_a.organization, assessment=assessment, storage_key=kept, original_filename="k.pdf",
            content_type="application/pdf", size=13, sha256_original="0" * 64, sha256_stored="0" * 64,
        )
    # Young objects are left alone: their transaction may still be committing.
    sweep_orphans(grace_seconds=3600)
    assert default_storage.exists(orphan)
    # Other tests' rolled-back uploads are orphans in the shared test bucket too: count at least ours.
    assert sweep_orphans(grace_seconds=-60) >= 1
    assert default_storage.exists(kept)
    assert not default_storage.exists(orphan)
    default_storage.delete(kept)


def test_a_failed_create_deletes_the_objects_it_wrote(tenant_a, patient, monkeypatch):
    from assessments.models import UploadedFile

    written = []
    real_store = storage.store

    def store_then_remember(key, content):
        written.append(real_store(key, content))
        return written[-1]

    monkeypatch.setattr(storage, "store", store_then_remember)

    def refuse(**kwargs):
        raise RuntimeError("database went away")

    pdf = ContentFile(b"%PDF-1.4\n" + b"x" * 100, name="letter.pdf")
    with organization_scope(tenant_a.organization):
        monkeypatch.setattr("assessments.services.audit.record", refuse)
        with pytest.raises(RuntimeError):
            services.create_assessment(
                actor="system:test", organization=tenant_a.organization, patient=patient, modality="test_sleep",
                inputs={}, attachments=[pdf],
            )
        assert Assessment.objects.count() == 0
        assert UploadedFile.objects.count() == 0
    assert written and not any(default_storage.exists(key) for key in written)


def test_apply_transition_accepts_only_a_row_locked_in_its_own_transaction(tenant_a, patient):
    from django.db import transaction

    from assessments import status_services

    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        with transaction.atomic(), pytest.raises(RuntimeError, match="locked by status_services.lock"):
            services.apply_transition(Assessment.objects.get(pk=assessment.pk), "running", actor="system:test")
        assert Assessment.objects.get(pk=assessment.pk).status == "queued"
        with transaction.atomic():
            services.apply_transition(status_services.lock(assessment.pk), "running", actor="system:test")
        assert Assessment.objects.get(pk=assessment.pk).status == "running"


def test_a_transition_expecting_another_status_is_refused_under_the_lock_and_changes_nothing(tenant_a, patient):
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        with pytest.raises(services.TransitionRefused, match="is queued now, no longer failed: nothing was changed"):
            services.transition(assessment.pk, "cancelled", actor="system:test", expected_from="failed")
        assert Assessment.objects.get(pk=assessment.pk).status == "queued"


def test_a_fast_analysis_that_returns_files_fails_rather_than_store_them_under_its_lock(tenant_a, patient, monkeypatch):
    """The one-transaction shape holds the row lock throughout: an analyzer that declared itself fast and
    file-less but returns an image would need storage I/O under that lock. It fails as a defect, and nothing
    of it is stored or saved."""
    from modalities.results import Artifact

    analyzer = _fast(monkeypatch)
    analyze = type(analyzer).analyze

    def with_files(self, context):
        result = analyze(self, context)
        result.artifacts = [Artifact("scan.json", "data", "application/json", b"{}")]
        return result

    monkeypatch.setattr(type(analyzer), "analyze", with_files)
    with organization_scope(tenant_a.organization):
        assessment = _assessment(tenant_a, patient)
        assert pipeline.run(assessment.pk) == "failed"
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.failure_reason == "The analysis stopped on an internal error."
        assert not BiomarkerValue.objects.filter(assessment=assessment).exists()
        assert not final.versions.exists()
