"""No storage I/O under a database lock: uploads are stored before any transaction opens (API and portal, new
assessments and attachments), the assessment's row is locked only for the rows, and what a failure after the
upload leaves behind is removed by the orphan sweep, never what a row references or what is still young."""

import threading

import pytest
from django.core.files.storage import default_storage, storages
from django.db import DatabaseError, connection, transaction

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, UploadedFile
from assessments.sweep import sweep_orphans
from medilens import storage

from .helpers_api import GOFF_WHITE_FEMALE, PDF, make_patient, multipart_create, upload
from .portal import form_data, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def observed_saves(monkeypatch):
    """The real storage, observed: each save records whether a transaction was open on this thread's
    connection at that moment."""
    backend = storages["default"]
    real_save = backend._save
    seen: list[bool] = []

    def save(name, content):
        seen.append(connection.in_atomic_block)
        return real_save(name, content)

    monkeypatch.setattr(backend, "_save", save)
    return seen


def test_api_and_portal_uploads_are_stored_with_no_transaction_open(tenant_a, observed_saves):
    patient = make_patient(tenant_a)
    api = tenant_a.api("clinician")
    created = api.post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=[upload("lab.pdf", PDF, "application/pdf")]),
        format="multipart",
    )
    assert created.status_code == 201, created.content
    added = api.post(
        f"/api/v1/assessments/{created.json()['id']}/attachments/",
        {"files": [upload("more.pdf", PDF, "application/pdf")]},
        format="multipart",
    )
    assert added.status_code == 201, added.content
    portal = tenant_a.client_for(Role.CLINICIAN)
    page = portal.post(
        f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk",
        {**form_data(), "attachments": [upload("referral.png", png_bytes(), "image/png")]},
    )
    assert page.status_code == 302, page.content[:2000]
    attached = portal.post(
        f"/assessments/{created.json()['id']}/attachments/",
        {"attachments": upload("echo.png", png_bytes(), "image/png")},
    )
    assert attached.status_code == 302, attached.content[:2000]
    assert observed_saves == [False, False, False, False]
    with scopes_disabled():
        assert UploadedFile.objects.filter(organization=tenant_a.organization).count() == 4


def test_attaching_holds_the_row_lock_only_for_the_rows(tenant_a, monkeypatch):
    """While the file uploads, another transaction can lock the assessment's row at once (NOWAIT): the worker
    could claim it or save its results meanwhile."""
    patient = make_patient(tenant_a)
    # Not published: a worker another test left running would otherwise claim this cvd_risk assessment and hold
    # its row (claim, analysis and save in one transaction) just when the probe below tries NOWAIT.
    monkeypatch.setattr(services, "enqueue", lambda assessment: None)
    with organization_scope(tenant_a.organization):
        assessment = services.create_assessment(
            actor="system:test", organization=tenant_a.organization, patient=patient, modality="cvd_risk",
            inputs=GOFF_WHITE_FEMALE,
        )
    backend = storages["default"]
    real_save = backend._save
    outcomes = []

    def lock_elsewhere():
        try:
            with scopes_disabled(), transaction.atomic():
                outcomes.append(
                    Assessment.objects.select_for_update(nowait=True).filter(pk=assessment.pk).exists()
                )
        except DatabaseError as error:
            outcomes.append(type(error).__name__)
        finally:
            connection.close()  # this thread's own connection

    def save(name, content):
        other = threading.Thread(target=lock_elsewhere)
        other.start()
        other.join(30)
        return real_save(name, content)

    monkeypatch.setattr(backend, "_save", save)
    with organization_scope(tenant_a.organization):
        rows = services.add_attachments(
            actor="system:test", assessment=assessment, files=[upload("lab.pdf", PDF, "application/pdf")]
        )
    assert outcomes == [True]
    assert default_storage.exists(rows[0].storage_key)


def test_a_create_that_fails_after_its_upload_leaves_an_object_the_sweep_removes(tenant_a, monkeypatch):
    patient = make_patient(tenant_a)
    with organization_scope(tenant_a.organization):
        kept = services.create_assessment(
            actor="system:test", organization=tenant_a.organization, patient=patient, modality="cvd_risk",
            inputs=GOFF_WHITE_FEMALE, attachments=[upload("kept.pdf", PDF, "application/pdf")],
        )
    with scopes_disabled():
        kept_key = UploadedFile.objects.get(assessment=kept).storage_key
    stored = []
    real_store = storage.store

    def store(key, content):
        stored.append(real_store(key, content))
        return stored[-1]

    def database_fails(**kwargs):
        raise DatabaseError("the database went away after the upload")

    monkeypatch.setattr(storage, "store", store)
    # The process dying between the upload and its clean-up is what leaves an orphan; a test cannot die
    # half-way, so the clean-up is switched off instead (the only stand-in here).
    monkeypatch.setattr(storage, "delete_quietly", lambda keys: None)
    monkeypatch.setattr("assessments.services.audit.record", database_fails)
    with organization_scope(tenant_a.organization), pytest.raises(DatabaseError):
        services.create_assessment(
            actor="system:test", organization=tenant_a.organization, patient=patient, modality="cvd_risk",
            inputs=GOFF_WHITE_FEMALE, attachments=[upload("lost.pdf", PDF, "application/pdf")],
        )
    monkeypatch.undo()
    [orphan] = stored
    with scopes_disabled():
        assert Assessment.objects.filter(patient=patient).count() == 1  # only the first: nothing half-saved
        assert not UploadedFile.objects.filter(storage_key=orphan).exists()
    assert default_storage.exists(orphan)
    # Younger than the grace period: its request might still be committing, so it stays.
    sweep_orphans(grace_seconds=3600)
    assert default_storage.exists(orphan)
    # Past the grace period: removed; the object a row references stays.
    assert sweep_orphans(grace_seconds=-60) >= 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(kept_key)
