"""Invitations: sent by an org admin as a single-use link that expires; accepted by a new person (who sets
a password) or by an existing user (who signs in first)."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts import services
from accounts.models import Invitation, Membership, Organization, User
from accounts.roles import Role
from audit.models import AuditEvent

from .helpers import page_text, row_counts

INVALID = "invalid, already used or expired"
LINK = re.compile(r"https?://[^\s/]+(/invitations/accept/([A-Za-z0-9_-]+)/)")


@pytest.fixture
def send_invitation(tenant_a, django_capture_on_commit_callbacks):
    """Invite through the members page, as an org admin does; returns the accept path from the email."""

    def send(email, role=Role.CLINICIAN):
        admin = tenant_a.client_for(Role.ORG_ADMIN)
        outbox_before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = admin.post(reverse("accounts:members"), {"email": email, "role": role})
        assert response.status_code == 302, page_text(response)
        assert len(mail.outbox) == outbox_before + 1
        message = mail.outbox[-1]
        assert message.to == [email.lower()]
        links = LINK.findall(message.body)
        assert len(links) == 1, message.body
        return links[0][0]

    return send


def _membership(organization, user):
    with scopes_disabled():
        return Membership.objects.filter(organization=organization, user=user).first()


def test_org_admin_invites_by_email(tenant_a, send_invitation):
    path = send_invitation("new.person@example.org", Role.TECHNICIAN)
    message = mail.outbox[-1]
    assert tenant_a.organization.name in message.subject
    assert message.body.count(path) == 1
    with scopes_disabled():
        invitation = Invitation.objects.get(email="new.person@example.org")
    assert invitation.organization == tenant_a.organization and invitation.role == Role.TECHNICIAN
    # Valid for 72 hours; only a digest of the token is stored.
    assert settings.INVITATION_TTL_HOURS == 72
    ttl = invitation.expires_at - invitation.created_at
    assert timedelta(hours=72) - timedelta(minutes=1) < ttl <= timedelta(hours=72)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_digest == Invitation.digest(token) != token
    assert AuditEvent.objects.filter(action="invitation.sent", organization=tenant_a.organization).exists()
    # It is listed as open on the members page.
    page = tenant_a.client_for(Role.ORG_ADMIN).get(reverse("accounts:members"))
    assert "new.person@example.org" in page_text(page)


def test_a_new_person_accepts_by_setting_a_name_and_password(tenant_a, send_invitation, password):
    path = send_invitation("New.Person@Example.org")
    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Join Clinic A" in page_text(page)

    # Django's password validators apply: a short password is refused and nothing is created.
    counts = row_counts()
    response = visitor.post(path, {"full_name": "Nora New", "password1": "short", "password2": "short"})
    assert response.status_code == 400
    assert "This password is too short. It must contain at least 12 characters." in page_text(response)
    assert row_counts() == counts
    response = visitor.post(path, {"full_name": "Nora New", "password1": password, "password2": password + "x"})
    assert response.status_code == 400
    assert "The two passwords differ." in page_text(response)
    response = visitor.post(path, {"full_name": "", "password1": password, "password2": password})
    assert response.status_code == 400
    assert row_counts() == counts

    response = visitor.post(path, {"full_name": "Nora New", "password1": password, "password2": password})
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    user = User.objects.get(email="new.person@example.org")
    assert user.full_name == "Nora New"
    assert _membership(tenant_a.organization, user).role == Role.CLINICIAN
    assert AuditEvent.objects.filter(action="invitation.accepted", actor_user=user).exists()

    # ... and can sign in with it.
    response = Client().post(reverse("login"), {"username": "new.person@example.org", "password": password})
    # A clinician lands on the review worklist (accounts.views.LoginView.ROLE_LANDING).
    assert response.status_code == 302 and response["Location"] == reverse("assessments:review")

    # The link was single-use.
    counts = row_counts()
    again = Client().get(path)
    assert again.status_code == 410
    assert INVALID in page_text(again)
    again = Client().post(path, {"full_name": "Someone Else", "password1": password, "password2": password})
    assert again.status_code == 410
    assert row_counts() == counts


def test_an_existing_user_signs_in_then_accepts(tenant_a, tenant_b, send_invitation, password):
    person = tenant_b.users[Role.CLINICIAN]
    path = send_invitation(person.email, Role.AUDITOR)

    # Not signed in: told to sign in; posting does not accept.
    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Sign in to accept" in page_text(page)
    response = visitor.post(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={path}"
    assert _membership(tenant_a.organization, person) is None

    # Signing in comes back to the link, and accepting adds the membership.
    response = visitor.post(reverse("login"), {"username": person.email, "password": password, "next": path})
    assert response.status_code == 302 and response["Location"] == path
    assert "Accept and join" in page_text(visitor.get(path))
    response = visitor.post(path)
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    assert _membership(tenant_a.organization, person).role == Role.AUDITOR
    assert _membership(tenant_b.organization, person).role == Role.CLINICIAN
    dashboard = visitor.get(reverse("portal:dashboard"))
    assert dashboard.context["active_organization"] == tenant_a.organization
    # The link is used up.
    assert visitor.get(path).status_code == 410


def test_a_link_cannot_be_accepted_by_another_signed_in_account(tenant_a, tenant_b, send_invitation):
    path = send_invitation(tenant_b.users[Role.CLINICIAN].email)
    intruder = tenant_b.client_for(Role.AUDITOR)
    counts = row_counts()
    response = intruder.post(path)
    assert response.status_code == 400
    assert "sent to another address" in page_text(response)
    assert row_counts() == counts
    assert _membership(tenant_a.organization, tenant_b.users[Role.AUDITOR]) is None


def test_an_expired_link_is_refused_and_changes_nothing(tenant_a, send_invitation, password):
    path = send_invitation("late@example.org")
    with scopes_disabled():
        Invitation.objects.filter(email="late@example.org").update(expires_at=timezone.now() - timedelta(minutes=1))
    counts = row_counts()
    response = Client().get(path)
    assert response.status_code == 410
    assert INVALID in page_text(response)
    response = Client().post(path, {"full_name": "Late Comer", "password1": password, "password2": password})
    assert response.status_code == 410
    assert row_counts() == counts
    assert not User.objects.filter(email="late@example.org").exists()


def test_a_link_of_a_suspended_organization_is_refused(tenant_a, send_invitation, password):
    path = send_invitation("joiner@example.org")
    services.set_organization_status(
        acting_user=None, organization=tenant_a.organization, status=Organization.Status.SUSPENDED
    )
    counts = row_counts()
    for response in (
        Client().get(path),
        Client().post(path, {"full_name": "Joiner", "password1": password, "password2": password}),
    ):
        assert response.status_code == 410
        assert INVALID in page_text(response)
    assert row_counts() == counts


def test_a_revoked_or_unknown_link_is_refused(tenant_a, send_invitation):
    path = send_invitation("changed.mind@example.org")
    with scopes_disabled():
        invitation = Invitation.objects.get(email="changed.mind@example.org")
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    response = admin.post(
        reverse("accounts:invitation_revoke", kwargs={"pk": invitation.pk}), {"confirm": "yes"}, follow=True
    )
    assert "revoked" in page_text(response)
    assert Client().get(path).status_code == 410
    unknown = Client().get(reverse("accounts:invitation_accept", args=["not-a-real-token"]))
    assert unknown.status_code == 410
    # Same page for every reason, so links cannot be probed.
    assert page_text(unknown) == page_text(Client().get(path))


def test_a_new_invitation_replaces_an_expired_one(tenant_a, send_invitation):
    old_path = send_invitation("again@example.org")
    with scopes_disabled():
        Invitation.objects.filter(email="again@example.org").update(expires_at=timezone.now() - timedelta(hours=1))
    new_path = send_invitation("again@example.org")
    assert new_path != old_path
    assert Client().get(old_path).status_code == 410
    assert Client().get(new_path).status_code == 200
