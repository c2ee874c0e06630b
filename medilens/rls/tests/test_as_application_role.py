"""The application's own code connected as ``medilens_app``: requests, the refusal answer, and the jobs
that cross tenants through ``medilens_maintenance``."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api import exception_handler
from accounts.models import ApiClient, Membership
from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments.api.idempotency import purge_expired
from assessments.models import Assessment, IdempotencyRecord, Patient, UploadedFile
from assessments.sweep import sweep_orphans
from assessments.tasks import reap_stuck_assessments
from assessments.tests.helpers_api import make_assessment, make_patient
from medilens import storage
from medilens.rls.maintenance import MaintenanceRoleRequired
from medilens.rls.roles import APP_ROLE, MAINTENANCE_ROLE

from .conftest import connected_as

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_patients(db_roles, tenant_a, tenant_b):
    return make_patient(tenant_a), make_patient(tenant_b)


def test_api_requests_see_their_organization_only_and_another_tenants_row_is_404(two_patients, tenant_a):
    own, other = two_patients
    api = tenant_a.api("clinician")
    with connected_as(APP_ROLE):
        listed = api.get("/api/v1/patients/")
        assert listed.status_code == 200
        assert [row["id"] for row in listed.json()["results"]] == [str(own.pk)]
        assert api.get(f"/api/v1/patients/{own.pk}/").status_code == 200  # the control: its own row
        assert api.get(f"/api/v1/patients/{other.pk}/").status_code == 404
        refused = api.patch(f"/api/v1/patients/{other.pk}/", {"family_name": "Moved"}, format="json")
        assert refused.status_code == 404
        changed = api.patch(f"/api/v1/patients/{own.pk}/", {"family_name": "Renamed"}, format="json")
        assert changed.status_code == 200
        unknown = APIClient()
        unknown.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiClient.KEY_PREFIX}_{'0' * 12}_{'x' * 20}")
        assert unknown.get("/api/v1/patients/").status_code == 401
    with scopes_disabled():
        assert Patient.objects.get(pk=other.pk).family_name == other.family_name
        assert Patient.objects.get(pk=own.pk).family_name == "Renamed"


def test_portal_pages_find_the_membership_and_show_their_organization_only(two_patients, tenant_a):
    own, other = two_patients
    client = tenant_a.client_for(Role.CLINICIAN)
    with connected_as(APP_ROLE):
        page = client.get("/patients/")
        assert page.status_code == 200
        assert own.mrn.encode() in page.content and other.mrn.encode() not in page.content
        assert client.get(f"/patients/{own.pk}/").status_code == 200
        assert client.get(f"/patients/{other.pk}/").status_code == 404


def test_a_write_the_database_refuses_is_answered_404_not_500(db_roles, tenant_a, tenant_b):
    with connected_as(APP_ROLE):
        with transaction.atomic(), organization_scope(tenant_a.organization):
            membership = Membership.objects.first()
            with pytest.raises(DatabaseError) as refused:
                # A bug that aims a write at another organization: the row would move into B.
                Membership.objects.filter(pk=membership.pk).update(organization=tenant_b.organization)
            response = exception_handler(refused.value, {"view": None})
            assert transaction.get_rollback()
        assert response.status_code == 404
        assert response.data == {"error": {"status": 404, "code": "not_found", "message": "Not found."}}
    with scopes_disabled():
        assert Membership.objects.get(pk=membership.pk).organization_id == tenant_a.organization.pk


def _unpublished_assessment(tenant, patient) -> Assessment:
    """An assessment whose task is never published: a worker of the session (the superuser's) must not
    run it while these tests look at it or while the database is flushed after them."""
    with transaction.atomic():
        assessment = make_assessment(tenant, patient)
        connection.run_on_commit.clear()
    return assessment


def _stuck(tenant, patient) -> Assessment:
    """Running past its deadline after one requeue already: the reaper fails it (and publishes nothing)."""
    assessment = _unpublished_assessment(tenant, patient)
    with scopes_disabled():
        Assessment.objects.filter(pk=assessment.pk).update(
            status=Assessment.Status.RUNNING, deadline_at=timezone.now() - timedelta(hours=1), reaper_requeues=1
        )
    return assessment


def test_the_reaper_finds_every_organization_through_the_maintenance_role(two_patients, tenant_a, tenant_b, settings):
    stuck = [_stuck(tenant_a, two_patients[0]), _stuck(tenant_b, two_patients[1])]
    with connected_as(APP_ROLE):
        # Under the application role alone the cross-tenant discovery sees nothing: the wall holds.
        assert reap_stuck_assessments()["failed"] == 0
    with connected_as(APP_ROLE, maintenance_role=MAINTENANCE_ROLE, settings=settings):
        assert reap_stuck_assessments()["failed"] == 2
    with scopes_disabled():
        for assessment in stuck:
            assert Assessment.objects.get(pk=assessment.pk).status == Assessment.Status.FAILED


def test_the_orphan_sweep_refuses_the_application_role_and_runs_as_maintenance(two_patients, tenant_b, settings):
    assessment = _unpublished_assessment(tenant_b, two_patients[1])
    kept = storage.object_key(tenant_b.organization.pk, assessment.pk, "pdf")
    orphan = storage.object_key(tenant_b.organization.pk, assessment.pk, "pdf")
    storage.store(kept, ContentFile(b"%PDF-1.4 kept"))
    storage.store(orphan, ContentFile(b"%PDF-1.4 orphan"))
    with scopes_disabled():
        UploadedFile.objects.create(
            organization=tenant_b.organization,
            assessment=assessment,
            storage_key=kept,
            original_filename="k.pdf",
            content_type="application/pdf",
            size=13,
            sha256_original="0" * 64,
            sha256_stored="0" * 64,
        )
    with connected_as(APP_ROLE), pytest.raises(MaintenanceRoleRequired):
        sweep_orphans(grace_seconds=-60)  # would have taken B's referenced file for an orphan
    assert default_storage.exists(kept) and default_storage.exists(orphan)
    with connected_as(APP_ROLE, maintenance_role=MAINTENANCE_ROLE, settings=settings):
        assert sweep_orphans(grace_seconds=-60) >= 1
    assert default_storage.exists(kept)
    assert not default_storage.exists(orphan)
    default_storage.delete(kept)


def test_the_idempotency_purge_reaches_every_organization_as_maintenance(db_roles, tenant_a, tenant_b, settings):
    with scopes_disabled():
        for tenant in (tenant_a, tenant_b):
            record = IdempotencyRecord.objects.create(
                organization=tenant.organization,
                api_client=tenant.api_clients["clinician"],
                key="k1",
                method="POST",
                path="/api/v1/patients/",
                request_hash="0" * 64,
                response_status=201,
            )
            IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=30))
    with connected_as(APP_ROLE):
        assert purge_expired() == 0
    with connected_as(APP_ROLE, maintenance_role=MAINTENANCE_ROLE, settings=settings):
        assert purge_expired() == 2
    with scopes_disabled():
        assert not IdempotencyRecord.objects.exists()


def test_an_invitation_is_sent_accepted_and_used_to_sign_in_under_the_application_role(db_roles, tenant_a, password):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    with connected_as(APP_ROLE):
        sent = admin.post(reverse("accounts:members"), {"email": "nora@example.org", "role": Role.CLINICIAN})
        assert sent.status_code == 302
        path = re.search(r"https?://[^\s/]+(/invitations/accept/[A-Za-z0-9_-]+/)", mail.outbox[-1].body).group(1)
        visitor = Client()
        assert visitor.get(path).status_code == 200
        accepted = visitor.post(path, {"full_name": "Nora New", "password1": password, "password2": password})
        assert accepted.status_code == 302 and accepted["Location"] == reverse("login")
        signed_in = Client().post(reverse("login"), {"username": "nora@example.org", "password": password})
        # A clinician lands on the review worklist.
        assert signed_in.status_code == 302 and signed_in["Location"] == reverse("assessments:review")
    with scopes_disabled():
        membership = Membership.objects.get(user__email="nora@example.org")
    assert membership.organization_id == tenant_a.organization.pk and membership.role == Role.CLINICIAN


def test_an_admin_of_another_clinic_is_still_seen_as_one_when_resetting_factors(db_roles, tenant_a, tenant_b):
    from allauth.mfa.models import Authenticator

    from medilens.testing.factories import MembershipFactory
    from medilens.testing.mfa import enrol_totp

    clinician = tenant_a.users[Role.CLINICIAN]
    MembershipFactory(organization=tenant_b.organization, user=clinician, role=Role.ORG_ADMIN)
    enrol_totp(clinician)
    with scopes_disabled():
        membership = Membership.objects.get(organization=tenant_a.organization, user=clinician)
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    with connected_as(APP_ROLE):
        # Clinic A's scope alone would hide the clinician's admin membership in clinic B.
        response = admin.post(reverse("accounts:member_factor_reset", args=[membership.pk]), follow=True)
    assert response.status_code == 200
    assert "reset by MediLens platform staff" in response.content.decode()
    assert Authenticator.objects.filter(user=clinician).count() == 2
