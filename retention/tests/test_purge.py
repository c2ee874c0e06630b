"""Retention purges: a patient past their organization's retention goes with everything they own, files in
storage included; a legal hold or recent activity keeps them; the audit chain still verifies."""

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_assessment, make_patient
from assessments import services as assessment_services
from assessments.models import (
    AIExplanation,
    Assessment,
    BiomarkerValue,
    Discussion,
    DiscussionMessage,
    Patient,
    PipelineStage,
    UploadedFile,
)
from audit.models import AuditEvent
from retention import ledger, services

from .helpers import PHI, age, full_patient

RETENTION = 2555


def owned_rows(patient_id, assessment_id) -> dict:
    with scopes_disabled():
        return {
            "patient": Patient.objects.filter(pk=patient_id).count(),
            "assessments": Assessment.objects.filter(patient_id=patient_id).count(),
            "biomarkers": BiomarkerValue.objects.filter(patient_id=patient_id).count(),
            "stages": PipelineStage.objects.filter(assessment_id=assessment_id).count(),
            "files": UploadedFile.objects.filter(assessment_id=assessment_id).count(),
            "explanations": AIExplanation.objects.filter(assessment_id=assessment_id).count(),
            "discussions": Discussion.objects.filter(assessment_id=assessment_id).count(),
            "messages": DiscussionMessage.objects.filter(discussion__assessment_id=assessment_id).count(),
        }


def purge(tenant, capture):
    with capture(execute=True), organization_scope(tenant.organization):
        return services.purge_expired(organization=tenant.organization)


def verify_chains() -> str:
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_patient_past_retention_is_purged_with_everything_and_their_files(
    tenant_a, django_capture_on_commit_callbacks
):
    owned = full_patient(tenant_a)
    before = owned_rows(owned.patient.pk, owned.assessment.pk)
    assert all(before.values()), before  # the control: there is one of everything to purge
    assert all(default_storage.exists(key) for key in owned.keys)
    age(owned.patient, days=RETENTION + 1)

    purged = purge(tenant_a, django_capture_on_commit_callbacks)

    assert purged == [str(owned.patient.pk)]
    assert set(owned_rows(owned.patient.pk, owned.assessment.pk).values()) == {0}
    assert not any(default_storage.exists(key) for key in owned.keys), "stored objects must go too"
    event = AuditEvent.objects.get(action="patient.purged")
    assert event.target_id == str(owned.patient.pk)
    assert event.organization_id == tenant_a.organization.pk
    assert event.details["counts"] == {
        "assessments": 1, "biomarkers": 1, "stages": before["stages"], "files": 1, "explanations": 1,
        "discussions": 1, "messages": 1, "idempotency_records": 0, "result_versions": 0, "result_artifacts": 0,
    }
    assert event.details["objects"] == 2
    assert "ok organization clinic-a" in verify_chains()


def test_a_patient_within_retention_is_kept(tenant_a, django_capture_on_commit_callbacks):
    owned = full_patient(tenant_a)
    age(owned.patient, days=RETENTION - 1)

    assert purge(tenant_a, django_capture_on_commit_callbacks) == []
    assert owned_rows(owned.patient.pk, owned.assessment.pk)["patient"] == 1


def test_a_legal_hold_stops_the_purge_until_released(tenant_a, django_capture_on_commit_callbacks):
    owned = full_patient(tenant_a)
    admin = tenant_a.users[Role.ORG_ADMIN]
    with organization_scope(tenant_a.organization):
        services.set_legal_hold(actor=admin, organization=tenant_a.organization, patient=owned.patient, hold=True)
    age(owned.patient, days=RETENTION + 400)

    assert purge(tenant_a, django_capture_on_commit_callbacks) == []
    assert owned_rows(owned.patient.pk, owned.assessment.pk)["assessments"] == 1
    assert all(default_storage.exists(key) for key in owned.keys)

    with organization_scope(tenant_a.organization):
        services.set_legal_hold(actor=admin, organization=tenant_a.organization, patient=owned.patient, hold=False)
    assert purge(tenant_a, django_capture_on_commit_callbacks) == [str(owned.patient.pk)]
    actions = list(AuditEvent.objects.filter(target_id=str(owned.patient.pk)).values_list("action", flat=True))
    assert {"patient.legal_hold_placed", "patient.legal_hold_released", "patient.purged"} <= set(actions)
    assert "ok organization clinic-a" in verify_chains()


@pytest.mark.parametrize("activity", ["edit", "assessment", "sign_off", "consent", "comment"])
def test_activity_restarts_the_retention_clock(activity, tenant_a, django_capture_on_commit_callbacks):
    admin = tenant_a.users[Role.ORG_ADMIN]
    patient = make_patient(tenant_a, consent=activity != "consent")
    assessment = None
    if activity != "consent":
        assessment = make_assessment(tenant_a, patient, status=Assessment.Status.COMPLETED)
    age(patient, days=RETENTION + 1)
    with organization_scope(tenant_a.organization):
        patient = Patient.objects.get(pk=patient.pk)
        if activity == "edit":
            assessment_services.update_patient(actor=admin, patient=patient, weight_kg=71)
        elif activity == "consent":
            assessment_services.record_consent(actor=admin, patient=patient)
        elif activity == "assessment":
            make_assessment(tenant_a, patient)
        elif activity == "comment":
            assessment_services.post_discussion_message(actor=admin, assessment=assessment, body="Recall in a year.")
        else:
            assessment_services.sign_off(actor=admin, assessment=assessment)

    assert purge(tenant_a, django_capture_on_commit_callbacks) == []
    with scopes_disabled():
        assert Patient.objects.filter(pk=patient.pk).exists()


def test_a_patient_untouched_since_the_control_is_purged(tenant_a, django_capture_on_commit_callbacks):
    # The control for the test above: the same patient, nothing done after ageing, is purged.
    patient = make_patient(tenant_a)
    make_assessment(tenant_a, patient, status=Assessment.Status.COMPLETED)
    age(patient, days=RETENTION + 1)
    assert purge(tenant_a, django_capture_on_commit_callbacks) == [str(patient.pk)]


def test_each_organization_has_its_own_retention(tenant_a, tenant_b, django_capture_on_commit_callbacks):
    tenant_a.organization.data_retention_days = 30
    tenant_a.organization.save()
    ours, theirs = full_patient(tenant_a), full_patient(tenant_b)
    age(ours.patient, days=31)
    age(theirs.patient, days=31)

    assert purge(tenant_a, django_capture_on_commit_callbacks) == [str(ours.patient.pk)]
    assert purge(tenant_b, django_capture_on_commit_callbacks) == []
    assert owned_rows(theirs.patient.pk, theirs.assessment.pk)["patient"] == 1


def test_the_command_dry_run_lists_ids_and_changes_nothing(tenant_a):
    owned = full_patient(tenant_a)
    age(owned.patient, days=RETENTION + 1)
    events = AuditEvent.objects.count()
    out = io.StringIO()

    call_command("purge_expired", "--dry-run", stdout=out)

    assert "clinic-a: would purge 1 patient(s)" in out.getvalue()
    assert str(owned.patient.pk) in out.getvalue()
    assert PHI["family_name"] not in out.getvalue() and "Example" not in out.getvalue()
    assert owned_rows(owned.patient.pk, owned.assessment.pk)["assessments"] == 1
    assert AuditEvent.objects.count() == events

    call_command("purge_expired", stdout=io.StringIO())
    assert owned_rows(owned.patient.pk, owned.assessment.pk)["patient"] == 0


def test_the_daily_beat_task_purges_every_organization(tenant_a, tenant_b, settings):
    from celery.schedules import crontab

    from retention.tasks import purge_expired_patients

    schedule = settings.CELERY_BEAT_SCHEDULE["purge-expired-patients"]
    assert schedule["task"] == "retention.tasks.purge_expired_patients"
    assert isinstance(schedule["schedule"], crontab)
    assert schedule["schedule"].hour == {3} and schedule["schedule"].day_of_month == set(range(1, 32))
    ours, theirs = full_patient(tenant_a), full_patient(tenant_b)
    age(ours.patient, days=RETENTION + 1)
    age(theirs.patient, days=RETENTION + 1)

    totals = purge_expired_patients()

    assert totals == {tenant_a.organization.pk: 1, tenant_b.organization.pk: 1}


def test_each_purge_writes_a_signed_ledger_entry_and_an_altered_one_is_refused(
    tenant_a, django_capture_on_commit_callbacks
):
    owned = full_patient(tenant_a)
    age(owned.patient, days=RETENTION + 1)
    purge(tenant_a, django_capture_on_commit_callbacks)

    entry = next(e for e in ledger.entries() if e.patient_id == str(owned.patient.pk))
    assert entry.organization_id == tenant_a.organization.pk
    assert entry.counts["assessments"] == 1

    key = ledger.entry_key(entry)
    stored = json.loads(ledger.ledger_storage().open(key).read())
    stored["entry"]["patient_id"] = "00000000-0000-0000-0000-000000000000"  # aim the replay at another patient
    ledger.ledger_storage().delete(key)
    ledger.ledger_storage().save(key, io.BytesIO(json.dumps(stored).encode()))
    with pytest.raises(ledger.LedgerError, match="signature"):
        ledger.read(key)
    ledger.ledger_storage().delete(key)


def test_reapply_purges_removes_a_patient_a_recovery_brought_back(tenant_a, django_capture_on_commit_callbacks):
    owned = full_patient(tenant_a)
    other = make_patient(tenant_a)
    age(owned.patient, days=RETENTION + 1)
    purge(tenant_a, django_capture_on_commit_callbacks)
    # A point-in-time recovery to before the purge brings the row back (with its old id).
    with scopes_disabled():
        Patient.objects.create(
            id=owned.patient.pk, organization=tenant_a.organization, mrn="BACK-1", given_name="Back",
            family_name="Again", date_of_birth=owned.patient.date_of_birth, sex_at_birth="female",
        )
    out = io.StringIO()

    call_command("reapply_purges", stdout=out)

    assert "1 purged patient(s) purged again" in out.getvalue() and str(owned.patient.pk) in out.getvalue()
    with scopes_disabled():
        assert not Patient.objects.filter(pk=owned.patient.pk).exists()
        assert Patient.objects.filter(pk=other.pk).exists()
    replay = AuditEvent.objects.filter(action="patient.purged").order_by("-sequence").first()
    assert replay.details["reason"] == "ledger_replay" and replay.target_id == str(owned.patient.pk)
    assert "ok organization clinic-a" in verify_chains()


def test_a_purge_removes_every_result_versions_files(tenant_a, django_capture_on_commit_callbacks):
    """A body scan's mesh is the patient's body: every version's artifacts go with the patient."""
    from assessments import pipeline
    from assessments.models import ResultArtifact, ResultVersion

    patient = make_patient(tenant_a)
    admin = tenant_a.users[Role.ORG_ADMIN]
    with organization_scope(tenant_a.organization):
        assessment = assessment_services.create_assessment(
            actor=admin, organization=tenant_a.organization, patient=patient, modality="test_artifacts"
        )
        pipeline.run(assessment.pk)
        assessment_services.reanalyse_assessment(actor=admin, organization=tenant_a.organization, assessment=assessment)
        pipeline.run(assessment.pk)
        keys = list(ResultArtifact.objects.values_list("storage_key", flat=True))
    assert len(keys) == 8 and all(default_storage.exists(key) for key in keys)
    age(patient, days=RETENTION + 1)

    assert purge(tenant_a, django_capture_on_commit_callbacks) == [str(patient.pk)]
    assert not any(default_storage.exists(key) for key in keys)
    with scopes_disabled():
        assert not ResultVersion.objects.filter(assessment_id=assessment.pk).exists()
    counts = AuditEvent.objects.get(action="patient.purged").details["counts"]
    assert (counts["result_versions"], counts["result_artifacts"]) == (2, 8)
