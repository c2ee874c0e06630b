"""The worker's batch of first analyses (assessments.pipeline.run with ``batch_size``): a message for a queued
first analysis of a fast, file-less modality also claims the organization's other such queued ones and
writes them all in its one transaction; their own messages then find them finished."""

import dataclasses
import threading
import uuid
from datetime import date

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import AIExplanation, Assessment, BiomarkerValue, PipelineStage, ResultVersion
from audit.models import AuditEvent
from medilens.testing.wait import wait_until
from modalities import registry

# Goff et al. 2014 (the Pooled Cohort Equations' report), its worked example: white female, 10-year ASCVD
# risk 2.1 % (2.05 by exact arithmetic).
GOFF_WHITE_FEMALE = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}


def _patient(tenant, mrn):
    with organization_scope(tenant.organization):
        return services.create_patient(
            actor="system:test", organization=tenant.organization, consent=True, mrn=mrn, given_name="Ada",
            family_name="Example", date_of_birth=date(1959, 1, 1), sex_at_birth="female",
        )


def _queued(tenant, count, modality="cvd_risk", **changes):
    inputs = {**GOFF_WHITE_FEMALE, **changes} if modality == "cvd_risk" else dict(changes)
    made = []
    for _ in range(count):
        patient = _patient(tenant, f"B-{Assessment.objects.with_scopes_disabled().count() + 1}")
        with organization_scope(tenant.organization):
            made.append(services.create_assessment(
                actor="system:test", organization=tenant.organization, patient=patient, modality=modality,
                inputs=inputs,
            ))
    return made


def _statuses(assessments):
    with scopes_disabled():
        found = dict(Assessment.objects.filter(pk__in=[a.pk for a in assessments]).values_list("pk", "status"))
    return [found[a.pk] for a in assessments]


def _fast_test_sleep(monkeypatch):
    """test_sleep (which can be told to fail) as a fast analyzer: run in one transaction, so batched."""
    analyzer = registry.get("test_sleep")
    monkeypatch.setattr(analyzer, "modality", dataclasses.replace(analyzer.modality, live_progress=False))
    assert pipeline.in_one_transaction(analyzer.modality)


@pytest.mark.django_db
def test_a_first_analysis_runs_its_organizations_other_queued_fast_ones_with_it(tenant_a, tenant_b):
    first, *others = _queued(tenant_a, 4)
    elsewhere = _queued(tenant_b, 1)  # another organization's
    live = _queued(tenant_a, 1, modality="test_sleep")  # a modality that shows its progress: never batched
    with organization_scope(tenant_a.organization):
        assert pipeline.run(first.pk, batch_size=10) == "completed"
        assert [pipeline.run(other.pk, batch_size=10) for other in others] == ["skipped"] * 3
    assert _statuses([first, *others]) == ["completed"] * 4
    assert _statuses(elsewhere + live) == ["queued", "queued"]
    with organization_scope(tenant_a.organization):
        for assessment in [first, *others]:
            row = Assessment.objects.get(pk=assessment.pk)
            assert abs(row.risk_score - 2.05) < 0.1 and row.risk_level == "low" and row.attempts == 1
            assert row.started_at <= row.completed_at
            version = ResultVersion.objects.get(assessment=row)
            assert version.number == 1 and version.risk_score == row.risk_score
            assert AIExplanation.objects.get(assessment=row).summary
            values = BiomarkerValue.objects.filter(assessment=row)
            assert {"pce_ascvd_10y", "total_cholesterol"} <= set(values.values_list("name", flat=True))
            assert set(PipelineStage.objects.filter(assessment=row).values_list("status", flat=True)) == {"completed"}
            actions = list(
                AuditEvent.objects.filter(target_id=str(row.pk)).order_by("sequence").values_list("action", flat=True)
            )
            assert actions == ["assessment.created", "assessment.running", "assessment.completed"]


@pytest.mark.django_db
def test_a_batched_analysis_writes_what_the_same_analysis_alone_writes(tenant_a):
    """Value for value: the batch's rows against those of an assessment with the same inputs run on its own."""
    alone, first, batched = _queued(tenant_a, 3, smoker=True, systolic_bp=150, bp_treated=True)
    fields = ("risk_score", "risk_level", "confidence", "recommendations", "results", "method_version")
    biomarker_fields = ("name", "category", "value", "unit", "reference_low", "reference_high", "flag")

    def written(assessment):
        row = Assessment.objects.filter(pk=assessment.pk).values(*fields).get()
        values = sorted(BiomarkerValue.objects.filter(assessment=assessment).values_list(*biomarker_fields))
        version = ResultVersion.objects.filter(assessment=assessment).values(
            "risk_score", "results", "recommendations", "explanation_summary", "explanation_contributions"
        ).get()
        snapshot = [{k: v for k, v in item.items() if k != "measured_at"}
                    for item in ResultVersion.objects.get(assessment=assessment).biomarkers]
        explanation = AIExplanation.objects.filter(assessment=assessment).values("summary", "contributions").get()
        return row, values, version, snapshot, explanation

    with organization_scope(tenant_a.organization):
        assert pipeline.run(alone.pk, batch_size=1) == "completed"
        assert _statuses([first, batched]) == ["queued", "queued"]  # batch_size 1 claims nothing else
        assert pipeline.run(first.pk, batch_size=5) == "completed"
        assert written(batched) == written(alone)
        assert Assessment.objects.get(pk=alone.pk).risk_score > 5  # not the worked example's 2.05: these inputs count


@pytest.mark.django_db
def test_a_batch_takes_at_most_its_size_oldest_first(tenant_a):
    first, *rest = _queued(tenant_a, 6)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(first.pk, batch_size=3) == "completed"
    assert _statuses([first, *rest]) == ["completed"] * 3 + ["queued"] * 3


@pytest.mark.django_db
def test_a_batch_leaves_re_analyses_alone(tenant_a):
    done, first = _queued(tenant_a, 2)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(done.pk, batch_size=1) == "completed"
        services.reanalyse_assessment(
            actor=tenant_a.users[Role.CLINICIAN], organization=tenant_a.organization,
            assessment=Assessment.objects.get(pk=done.pk),
        )
        assert pipeline.run(first.pk, batch_size=10) == "completed"
        # A re-analysis replaces its rows and adds version 2: it runs on its own message, not in a batch.
        assert _statuses([done]) == ["queued"]
        assert pipeline.run(done.pk, batch_size=10) == "completed"
        assert list(ResultVersion.objects.filter(assessment=done).order_by("number").values_list(
            "number", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_the_statements_of_a_batch_do_not_grow_with_its_size(tenant_a):
    small, large = _queued(tenant_a, 2), None

    def statements(batch):
        with organization_scope(tenant_a.organization), CaptureQueriesContext(connection) as captured:
            assert pipeline.run(batch[0].pk, batch_size=len(batch)) == "completed"
        assert _statuses(batch) == ["completed"] * len(batch)
        return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(
            ("SAVEPOINT", "RELEASE SAVEPOINT"))]

    two = statements(small)
    large = _queued(tenant_a, 9)
    nine = statements(large)
    # The lock, the batch's claim, biomarkers, explanations, stages, versions, the rows, the audit events.
    assert len(two) == len(nine) == 8, nine
    assert sum("SKIP LOCKED" in q for q in nine) == 1
    # Both statements that write one row per assessment are sent once, executed for each row.
    assert sum(q.startswith("9 times: UPDATE \"assessments_assessment\"") for q in nine) == 1
    assert sum(q.startswith("27 times: UPDATE \"assessments_pipelinestage\"") for q in nine) == 1


@pytest.mark.django_db
def test_an_analysis_that_fails_in_a_batch_fails_alone_with_its_reason(tenant_a, monkeypatch):
    _fast_test_sleep(monkeypatch)
    first, = _queued(tenant_a, 1, modality="test_sleep")
    failing, = _queued(tenant_a, 1, modality="test_sleep", fail=True)
    last, = _queued(tenant_a, 1, modality="cvd_risk")
    with organization_scope(tenant_a.organization):
        assert pipeline.run(first.pk, batch_size=10) == "completed"
        failed = Assessment.objects.get(pk=failing.pk)
        stages = dict(failed.stages.values_list("name", "status"))
    assert _statuses([first, failing, last]) == ["completed", "failed", "completed"]
    assert failed.failure_reason == "The test analyzer was asked to fail."
    assert stages == {"start": "completed", "sleep": "failed", "finish": "pending"}
    assert not BiomarkerValue.objects.with_scopes_disabled().filter(assessment=failing).exists()
    assert not ResultVersion.objects.with_scopes_disabled().filter(assessment=failing).exists()


@pytest.mark.django_db
def test_a_batch_emits_a_webhook_event_for_each_of_its_assessments(tenant_a):
    from webhooks import services as webhook_services
    from webhooks.models import WebhookDelivery

    with organization_scope(tenant_a.organization):
        webhook_services.create_endpoint(
            actor="system:test", organization=tenant_a.organization, url="http://127.0.0.1:9/hooks",
            events=["assessment.completed"], enabled=True,
        )
    batch = _queued(tenant_a, 3)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(batch[0].pk, batch_size=10) == "completed"
        events = sorted(WebhookDelivery.objects.values_list("object_id", "event_type"))
    assert events == sorted((a.pk, "assessment.completed") for a in batch)


@pytest.mark.django_db(transaction=True)
def test_a_batch_skips_a_row_another_transaction_holds_instead_of_waiting(tenant_a, analysed_in_process):
    first, held, free = _queued(tenant_a, 3)
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with organization_scope(tenant_a.organization), transaction.atomic():
                services.lock(held.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(30)
        with organization_scope(tenant_a.organization):
            assert pipeline.run(first.pk, batch_size=10) == "completed"
        assert _statuses([first, held, free]) == ["completed", "queued", "completed"]
    finally:
        release.set()
        thread.join(30)
    assert done.is_set()
    with organization_scope(tenant_a.organization):
        assert pipeline.run(held.pk, batch_size=10) == "completed"


def _statements(captured):
    return [q["sql"] for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]


@pytest.mark.django_db(transaction=True)
def test_the_messages_a_committed_batch_answered_are_skipped_without_a_lock(tenant_a, analysed_in_process):
    """Once the batch has committed, this process answers the message each row named (its publisher's, in
    Assessment.last_message_id) without a statement, any other message for it by a read of its status; each
    answer is given once, so the messages of a later queuing (a re-analysis) run."""
    first, named, unnamed, requeued = _queued(tenant_a, 4)
    sent = {row.pk: uuid.uuid4() for row in (named, requeued)}  # what status_services.publish stamps
    for pk, message_id in sent.items():
        Assessment.objects.with_scopes_disabled().filter(pk=pk).update(last_message_id=message_id)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(first.pk, batch_size=10) == "completed"
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(named.pk, batch_size=10, message_id=sent[named.pk]) == "skipped"
        assert _statements(captured) == []
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(unnamed.pk, batch_size=10, message_id=uuid.uuid4()) == "skipped"
        statements = _statements(captured)
        assert len(statements) == 1 and statements[0].startswith("SELECT 1 AS"), statements
        # Re-analysed before the batch's answer for it was used: the original message is still the batch's
        # (skipped, the row stays queued for the re-analysis), the re-analysis' own message runs it.
        services.reanalyse_assessment(
            actor=tenant_a.users[Role.CLINICIAN], organization=tenant_a.organization,
            assessment=Assessment.objects.get(pk=requeued.pk),
        )
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(requeued.pk, batch_size=10, message_id=sent[requeued.pk]) == "skipped"
        assert _statements(captured) == []
        assert _statuses([requeued]) == ["queued"]
        assert pipeline.run(requeued.pk, batch_size=10, message_id=uuid.uuid4()) == "completed"
        assert ResultVersion.objects.filter(assessment=requeued).count() == 2
        # Each answer is given once: a redelivery of ``named``'s message takes the lock as any message would.
        with CaptureQueriesContext(connection) as captured:
            assert pipeline.run(named.pk, batch_size=10, message_id=sent[named.pk]) == "skipped"
        assert any("FOR UPDATE" in q for q in _statements(captured))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_assessments_queued_together_in_one_transaction_each_once(tenant_a, celery_worker):
    # Committed together, so the worker's first message finds them all queued.
    with transaction.atomic():
        batch = _queued(tenant_a, 12)
    ids = [a.pk for a in batch]

    def finished():
        return _statuses(batch) == ["completed"] * 12

    wait_until(finished, timeout=60, message="the batch never completed")
    with scopes_disabled():
        # Rows inserted by one transaction carry its id (PostgreSQL's xmin). Not the assessments' rows: the
        # publisher stamps each one's last_enqueued_at after its message went, which may be after the batch.
        # That stamp (one row at a time, a row lock held for one UPDATE) is also the only thing that can hold
        # a row when the first message's batch claims the others (SKIP LOCKED): at most one is left to run
        # on its own message.
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT xmin::text FROM assessments_resultversion WHERE assessment_id = ANY(%s)",
                           [ids])
            transactions = cursor.fetchall()
        assert len(transactions) <= 2, transactions
        assert ResultVersion.objects.filter(assessment_id__in=ids).count() == 12
        assert set(Assessment.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
        completions = AuditEvent.objects.filter(target_id__in=[str(i) for i in ids], action="assessment.completed")
        assert completions.count() == 12
        # Each row names the message its publisher sent (what the batch's process answers without a statement).
        assert None not in set(Assessment.objects.filter(pk__in=ids).values_list("last_message_id", flat=True))


@pytest.mark.django_db
def test_publish_names_the_message_it_sent_on_the_row(tenant_a, monkeypatch):
    from assessments import status_services
    from assessments.tasks import run_assessment

    sent = []
    monkeypatch.setattr(run_assessment, "apply_async", lambda **options: sent.append(options))
    assessment, = _queued(tenant_a, 1)
    assert status_services.publish(str(assessment.pk), tenant_a.organization.pk, "cvd_risk")
    assert status_services.publish(str(assessment.pk), tenant_a.organization.pk, "cvd_risk")  # the reaper's again
    with scopes_disabled():
        row = Assessment.objects.get(pk=assessment.pk)
    assert [options["args"] for options in sent] == [[str(assessment.pk), tenant_a.organization.pk]] * 2
    assert sent[0]["task_id"] != sent[1]["task_id"]
    assert str(row.last_message_id) == sent[1]["task_id"] and row.last_enqueued_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("size", "expected"), [(1, ["completed", "queued", "queued"]), (3, ["completed"] * 3)])
def test_the_task_batches_as_many_as_assessment_batch_size_says(tenant_a, settings, size, expected):
    from assessments.tasks import run_assessment

    settings.ASSESSMENT_BATCH_SIZE = size
    batch = _queued(tenant_a, 3)
    assert run_assessment.apply(args=[str(batch[0].pk), tenant_a.organization.pk]).get() == "completed"
    assert _statuses(batch) == expected
