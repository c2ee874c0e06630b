"""Each audited event is written, through the path a person really takes (portal, admin, sign-in pages),
with the right action, organization, actor and outcome."""

import csv
import io
import re

import pytest
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.test import Client

import audit
from accounts import services
from accounts.models import Invitation, Membership, Organization, User
from accounts.tenancy import scopes_disabled
from audit.models import AuditEvent
from medilens.testing.factories import UserFactory

from .support import run_verify, seal_now

LOGIN = "/accounts/login/"
NEW_PASSWORD = "a brand new passphrase 77"


def only(action: str, **filters) -> AuditEvent:
    """The one event with this action (fails if there are none or several)."""
    events = list(AuditEvent.objects.filter(action=action, **filters))
    assert len(events) == 1, f"expected one {action} event, found {[str(e) for e in events]}"
    return events[0]


def count(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def leaks(event: AuditEvent, *secrets: str) -> list[str]:
    """Which of ``secrets`` appear anywhere in what the event stores (case-insensitive)."""
    stored = event.canonical().decode().lower()
    return [s for s in secrets if s.lower() in stored]


# --- sign-in ---------------------------------------------------------------------------------------------
def test_login_is_a_platform_event_with_the_request_context(tenant_a, password):
    user = tenant_a.users["clinician"]
    client = Client(HTTP_USER_AGENT="ClinicBrowser/2.0")
    response = client.post(
        LOGIN, {"username": user.email.upper(), "password": password}, REMOTE_ADDR="203.0.113.7",
        HTTP_X_REQUEST_ID="login-request-0001",
    )
    assert response.status_code == 302
    event = only("auth.login")
    assert event.organization_id is None
    assert (event.actor_type, event.actor_user_id, event.actor_label) == ("user", user.pk, user.email)
    assert event.outcome == "success"
    assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))
    assert (event.ip, event.user_agent, event.request_id) == ("203.0.113.7", "ClinicBrowser/2.0", "login-request-0001")
    assert response["X-Request-ID"] == "login-request-0001"
    assert not count("auth.login_failed")


def test_login_from_an_ipv6_address_keeps_the_chain_intact(tenant_a, password):
    user = tenant_a.users["clinician"]
    response = Client().post(LOGIN, {"username": user.email, "password": password}, REMOTE_ADDR="2001:DB8:0:0::7")
    assert response.status_code == 302
    assert only("auth.login").ip == "2001:db8::7"
    run_verify()


@pytest.mark.parametrize("case", ["wrong password", "unknown email"])
def test_failed_login_is_recorded_without_email_or_password(tenant_a, case):
    user = tenant_a.users["clinician"]
    email = user.email if case == "wrong password" else "nobody-here@clinic-a.example.org"
    attempted = "Wrong-Guess-Passphrase-31"
    response = Client().post(LOGIN, {"username": email, "password": attempted}, REMOTE_ADDR="198.51.100.20")

    assert response.status_code == 200
    # The person sees one message either way.
    assert "That email and password do not match an account." in response.content.decode()
    assert AUTH_SESSION_KEY not in response.wsgi_request.session
    event = only("auth.login_failed")
    assert event.organization_id is None
    assert (event.actor_type, event.actor_user_id, event.actor_label) == ("anonymous", None, "anonymous")
    assert event.outcome == "failure"
    assert event.ip == "198.51.100.20"
    assert leaks(event, email, email.split("@")[0], attempted) == []
    if case == "wrong password":
        assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))
        assert event.details == {"account_exists": True}
    else:
        assert (event.target_type, event.target_id) == ("", "")
        assert event.details == {"account_exists": False}
    assert not count("auth.login")


def test_logout_is_recorded(tenant_a, password):
    user = tenant_a.users["auditor"]
    client = Client()
    assert client.post(LOGIN, {"username": user.email, "password": password}).status_code == 302
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    event = only("auth.logout")
    assert event.organization_id is None
    assert (event.actor_type, event.actor_user_id, event.outcome) == ("user", user.pk, "success")
    login = only("auth.login")
    # Chain places are given by the sealer now, not by record().
    seal_now()
    assert AuditEvent.objects.get(pk=event.pk).chain_sequence == AuditEvent.objects.get(pk=login.pk).chain_sequence + 1


def test_five_failures_lock_the_account_from_that_address_and_the_lockout_is_recorded(tenant_a, password):
    user = tenant_a.users["clinician"]
    client = Client()
    address = "192.0.2.50"
    for attempt in range(1, 5):
        response = client.post(LOGIN, {"username": user.email, "password": f"wrong guess {attempt}"},
                               REMOTE_ADDR=address)
        assert response.status_code == 200, attempt
    assert count("auth.lockout") == 0

    fifth = client.post(LOGIN, {"username": user.email, "password": "wrong guess 5"}, REMOTE_ADDR=address)
    assert fifth.status_code == 429
    assert count("auth.login_failed") == 5
    lockout = only("auth.lockout")
    assert lockout.organization_id is None
    assert (lockout.actor_type, lockout.outcome) == ("anonymous", "denied")
    assert (lockout.target_type, lockout.target_id) == ("accounts.user", str(user.pk))
    assert lockout.ip == address
    assert leaks(lockout, user.email) == []

    # The right password does not get through while the lock holds.
    sixth = client.post(LOGIN, {"username": user.email, "password": password}, REMOTE_ADDR=address)
    assert sixth.status_code == 429
    assert AUTH_SESSION_KEY not in client.session
    assert count("auth.login") == 0
    assert client.get("/").status_code == 302  # still signed out: the dashboard sends to login
    run_verify()


def test_password_change_is_recorded(tenant_a, password):
    user = tenant_a.users["technician"]
    client = Client()
    client.force_login(user)
    refused = client.post(
        "/accounts/password/change/",
        {"old_password": "not the password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert refused.status_code == 200
    assert count("auth.password_changed") == 0

    response = client.post(
        "/accounts/password/change/",
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    event = only("auth.password_changed")
    assert event.organization_id is None
    assert (event.actor_type, event.actor_user_id, event.outcome) == ("user", user.pk, "success")
    assert leaks(event, NEW_PASSWORD, password) == []


def test_password_reset_by_email_is_recorded_at_both_ends(tenant_a, mailoutbox):
    user = tenant_a.users["clinician"]
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code == 302
    requested = only("auth.password_reset_requested")
    assert requested.organization_id is None
    assert (requested.actor_type, requested.actor_user_id) == ("anonymous", None)
    assert leaks(requested, user.email) == []

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]
    link = re.search(r"/accounts/password/reset/[^/\s]+/[^/\s]+/", mailoutbox[0].body).group(0)
    form_page = client.get(link)
    assert form_page.status_code == 302  # Django moves the token from the URL into the session
    done = client.post(form_page.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.url == "/accounts/password/reset/complete/"

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    reset = only("auth.password_reset")
    assert reset.organization_id is None
    assert (reset.actor_type, reset.actor_user_id, reset.outcome) == ("user", user.pk, "success")
    assert (reset.target_type, reset.target_id) == ("accounts.user", str(user.pk))
    assert leaks(reset, NEW_PASSWORD) == []
    # The link is single-use: a second attempt changes nothing and records nothing.
    assert client.get(link).status_code == 200
    assert count("auth.password_reset") == 1


def test_password_reset_for_an_unknown_email_is_recorded_alike_and_sends_nothing(db, mailoutbox):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@nowhere.example.org"})
    assert response.status_code == 302
    event = only("auth.password_reset_requested")
    assert leaks(event, "nobody@nowhere.example.org") == []
    assert mailoutbox == []


# --- invitations and memberships --------------------------------------------------------------------------
def test_invitation_sent_and_accepted_through_the_portal(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    organization, admin = tenant_a.organization, tenant_a.users["org_admin"]
    invitee = "new.colleague@clinic-a.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client_for("org_admin").post("/members/", {"email": invitee, "role": "technician"})
    assert response.status_code == 302
    with scopes_disabled():
        invitation = Invitation.objects.get(email=invitee)
    sent = only("invitation.sent")
    assert sent.organization_id == organization.pk
    assert (sent.actor_type, sent.actor_user_id, sent.outcome) == ("user", admin.pk, "success")
    assert (sent.target_type, sent.target_id) == ("accounts.invitation", str(invitation.pk))
    assert sent.details == {"role": "technician"}

    assert len(mailoutbox) == 1
    link = re.search(r"/invitations/accept/[^/\s]+/", mailoutbox[0].body).group(0)
    visitor = Client()
    assert visitor.get(link).status_code == 200
    response = visitor.post(
        link, {"full_name": "New Colleague", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    new_user = User.objects.get(email=invitee)

    added = only("membership.added")
    accepted = only("invitation.accepted")
    for event in (added, accepted):
        assert event.organization_id == organization.pk
        assert (event.actor_type, event.actor_user_id, event.outcome) == ("user", new_user.pk, "success")
    assert added.details == {"user_id": new_user.pk, "role": "technician", "via": "invitation"}
    assert (accepted.target_type, accepted.target_id) == ("accounts.invitation", str(invitation.pk))
    assert accepted.sequence == added.sequence + 1 == sent.sequence + 2
    assert leaks(accepted, NEW_PASSWORD) == [] and leaks(added, NEW_PASSWORD) == []

    # A used link is refused and records nothing more.
    assert Client().get(link).status_code == 410
    assert count("invitation.accepted") == 1


def test_membership_added_by_the_service(tenant_a):
    organization, admin = tenant_a.organization, tenant_a.users["org_admin"]
    person = UserFactory()
    membership = services.add_membership(acting_user=admin, organization=organization, user=person, role="auditor")
    event = only("membership.added")
    assert event.organization_id == organization.pk
    assert (event.actor_user_id, event.outcome) == (admin.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.membership", str(membership.pk))
    assert event.details == {"user_id": person.pk, "role": "auditor"}


def membership_of(tenant, role) -> Membership:
    with scopes_disabled():
        return Membership.objects.get(organization=tenant.organization, user=tenant.users[role])


def test_role_change_through_the_portal(tenant_a):
    admin = tenant_a.users["org_admin"]
    membership = membership_of(tenant_a, "clinician")
    response = tenant_a.client_for("org_admin").post(
        f"/members/{membership.pk}/role/", {"role": "auditor", "confirm": "yes"}
    )
    assert response.status_code == 302
    event = only("membership.role_changed")
    assert event.organization_id == tenant_a.organization.pk
    assert (event.actor_user_id, event.outcome) == (admin.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.membership", str(membership.pk))
    assert event.details == {"user_id": tenant_a.users["clinician"].pk, "from": "clinician", "to": "auditor"}


def test_a_refused_role_change_records_nothing(tenant_a):
    own = membership_of(tenant_a, "org_admin")
    tenant_a.client_for("org_admin").post(f"/members/{own.pk}/role/", {"role": "clinician"})
    assert membership_of(tenant_a, "org_admin").role == "org_admin"
    assert count("membership.role_changed") == 0


def test_member_removal_through_the_portal(tenant_a):
    admin = tenant_a.users["org_admin"]
    membership = membership_of(tenant_a, "technician")
    response = tenant_a.client_for("org_admin").post(f"/members/{membership.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    with scopes_disabled():
        assert not Membership.objects.filter(pk=membership.pk).exists()
    event = only("membership.removed")
    assert event.organization_id == tenant_a.organization.pk
    assert (event.actor_user_id, event.outcome) == (admin.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.membership", str(membership.pk))
    assert event.details == {"user_id": tenant_a.users["technician"].pk}


# --- organizations ---------------------------------------------------------------------------------------
def test_organization_created_starts_its_own_chain(superuser):
    organization = services.create_organization(acting_user=superuser, name="Harbour Clinic")
    event = only("organization.created")
    assert event.organization_id == organization.pk
    seal_now()  # chain places are given by the sealer now, not by record()
    seal = AuditEvent.objects.select_related("seal").get(pk=event.pk).seal
    assert (seal.sequence, seal.previous_mac) == (1, "0" * 64)
    assert (event.actor_user_id, event.outcome) == (superuser.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.organization", str(organization.pk))
    assert event.details == {"slug": "harbour-clinic"}


def test_organization_suspended_by_the_service(tenant_a, superuser):
    organization = tenant_a.organization
    services.set_organization_status(acting_user=superuser, organization=organization, status="suspended")
    event = only("organization.suspended")
    assert event.organization_id == organization.pk
    assert (event.actor_user_id, event.outcome) == (superuser.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.organization", str(organization.pk))
    # Suspending again changes nothing and records nothing.
    services.set_organization_status(acting_user=superuser, organization=organization, status="suspended")
    assert count("organization.suspended") == 1


def test_organization_suspended_by_the_admin_action(tenant_a, tenant_b, superuser, superuser_client):
    organization = tenant_a.organization
    response = superuser_client.post(
        "/admin/accounts/organization/",
        {"action": "suspend", "_selected_action": [organization.pk], "index": 0},
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.status == Organization.Status.SUSPENDED
    tenant_b.organization.refresh_from_db()
    assert tenant_b.organization.status == Organization.Status.ACTIVE
    event = only("organization.suspended")
    assert event.organization_id == organization.pk
    assert (event.actor_type, event.actor_user_id, event.outcome) == ("user", superuser.pk, "success")


def test_organization_added_in_admin_is_recorded(superuser, superuser_client):
    response = superuser_client.post(
        "/admin/accounts/organization/add/",
        {"name": "Admin Made Clinic", "slug": "admin-made", "data_retention_days": 3000,
         "require_consent_for_assessment": "on", "_save": "Save"},
    )
    assert response.status_code == 302
    organization = Organization.objects.get(slug="admin-made")
    created = only("organization.created")
    assert created.organization_id == organization.pk
    assert created.actor_user_id == superuser.pk


def test_editing_an_organization_in_admin_is_recorded(tenant_a, superuser, superuser_client):
    organization = tenant_a.organization
    response = superuser_client.post(
        f"/admin/accounts/organization/{organization.pk}/change/",
        {"name": "Clinic A Renamed", "slug": organization.slug, "data_retention_days": 3650,
         "require_consent_for_assessment": "on", "_save": "Save"},
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert (organization.name, organization.data_retention_days) == ("Clinic A Renamed", 3650)
    event = only("admin.organization_changed")
    assert event.organization_id == organization.pk
    assert (event.actor_type, event.actor_user_id, event.outcome) == ("user", superuser.pk, "success")
    assert (event.target_type, event.target_id) == ("accounts.organization", str(organization.pk))
    # Field names, never the values typed in.
    assert event.details == {"fields": ["Data retention days", "Name"]}
    assert leaks(event, "Clinic A Renamed", "3650") == []


# --- the export --------------------------------------------------------------------------------------------
def test_export_is_recorded_and_holds_only_the_organizations_events(tenant_a, tenant_b):
    admin = tenant_a.users["org_admin"]
    for n in range(3):
        audit.record(action=f"test.a{n}", actor=admin, organization=tenant_a.organization)
        audit.record(action=f"test.b{n}", actor=tenant_b.users["org_admin"], organization=tenant_b.organization)
    seal_now()  # the export's hash column shows each event's chain value (its seal's MAC)
    a_hashes = {e.hash for e in AuditEvent.objects.filter(organization=tenant_a.organization).select_related("seal")}

    response = tenant_a.client_for("org_admin").get("/audit/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="audit-clinic-a-\d{8}-\d{6}\.csv"', response["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "sequence", "occurred_at", "action", "outcome", "actor_type", "actor", "target_type", "target_id",
        "ip", "request_id", "details", "hash",
    ]
    body = rows[1:]
    assert [row[2] for row in body] == ["test.a2", "test.a1", "test.a0"]
    assert {row[-1] for row in body} == a_hashes
    assert all(row[5] == admin.email for row in body)

    exported = only("audit.exported")
    assert exported.organization_id == tenant_a.organization.pk
    assert (exported.actor_type, exported.actor_user_id, exported.outcome) == ("user", admin.pk, "success")
    assert exported.details == {"filters": {}, "rows": 3}
    seal_now()
    assert AuditEvent.objects.get(pk=exported.pk).chain_sequence == 4
    run_verify()


def test_export_records_the_filters_used(tenant_a):
    audit.record(action="membership.added", organization=tenant_a.organization)
    audit.record(action="auth.test", organization=tenant_a.organization)
    response = tenant_a.client_for("auditor").get("/audit/export.csv", {"action": "membership"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]
    assert [row[2] for row in rows] == ["membership.added"]
    exported = only("audit.exported")
    assert exported.actor_user_id == tenant_a.users["auditor"].pk
    assert exported.details == {"filters": {"action": "membership"}, "rows": 1}
