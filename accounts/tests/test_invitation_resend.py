"""Resending an invitation: a new link by email (the old one stops working), audited, and shown once on
the members page with a button that copies it."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts import invitation_services, services
from accounts.models import Invitation
from accounts.roles import Role
from audit.models import AuditEvent

from .helpers import page_text, row_counts

LINK = re.compile(r"https?://[^\s/]+(/invitations/accept/[A-Za-z0-9_-]+/)")


@pytest.fixture
def admin(tenant_a):
    return tenant_a.client_for(Role.ORG_ADMIN)


@pytest.fixture
def invitation(tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invite(
            acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization,
            email="late.reader@example.org", role=Role.TECHNICIAN,
        )  # fmt: skip
    invitation.first_path = reverse("accounts:invitation_accept", args=[token])
    return invitation


def _resend(admin, invitation, capture):
    with capture(execute=True):
        return admin.post(reverse("accounts:invitation_resend", kwargs={"pk": invitation.pk}))


def test_resend_emails_a_new_link_and_the_old_one_stops_working(
    tenant_a, admin, invitation, django_capture_on_commit_callbacks
):
    outbox = len(mail.outbox)
    response = _resend(admin, invitation, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert len(mail.outbox) == outbox + 1
    message = mail.outbox[-1]
    assert message.to == ["late.reader@example.org"]
    [new_path] = LINK.findall(message.body)
    assert new_path != invitation.first_path
    # The old link is refused; the new one opens the invitation.
    assert Client().get(invitation.first_path).status_code == 410
    assert Client().get(new_path).status_code == 200
    # The page shows the same new link once, uncached, with a copy button.
    body = response.content.decode()
    assert new_path in body and 'data-copy-target="invitation-link"' in body
    assert "js/copy-to-clipboard.js" in body
    assert response["Cache-Control"] == "no-store"
    assert "the previous link no longer works" in page_text(response)
    # A later view of the page does not show the link again.
    assert new_path not in admin.get(reverse("accounts:members")).content.decode()


def test_resend_is_audited_without_the_link(tenant_a, admin, invitation, django_capture_on_commit_callbacks):
    _resend(admin, invitation, django_capture_on_commit_callbacks)
    event = AuditEvent.objects.get(action="invitation.resent", organization=tenant_a.organization)
    assert event.actor_user == tenant_a.users[Role.ORG_ADMIN]
    assert event.target_type == "accounts.invitation" and event.target_id == str(invitation.pk)
    assert event.details == {"role": Role.TECHNICIAN}
    [path] = LINK.findall(mail.outbox[-1].body)
    assert path.rstrip("/").rsplit("/", 1)[1] not in str(event.details)


def test_an_expired_invitation_can_be_resent_and_gets_a_new_expiry(
    tenant_a, admin, invitation, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    page = admin.get(reverse("accounts:members"))
    assert "late.reader@example.org" in page_text(page) and "expired" in page_text(page)
    _resend(admin, invitation, django_capture_on_commit_callbacks)
    with scopes_disabled():
        renewed = Invitation.objects.get(pk=invitation.pk)
    assert renewed.state == "open" and renewed.expires_at > timezone.now() + timedelta(hours=71)


def test_a_revoked_invitation_is_not_resent(tenant_a, admin, invitation, django_capture_on_commit_callbacks):
    services.revoke_invitation(
        acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, invitation=invitation
    )
    with scopes_disabled():
        before = Invitation.objects.values_list("token_digest", "expires_at").get(pk=invitation.pk)
    counts, outbox = row_counts(), len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("accounts:invitation_resend", kwargs={"pk": invitation.pk}), follow=True)
    assert "This invitation was revoked: it cannot be sent again." in page_text(response)
    with scopes_disabled():
        assert Invitation.objects.values_list("token_digest", "expires_at").get(pk=invitation.pk) == before
    assert row_counts() == counts and len(mail.outbox) == outbox
    assert not AuditEvent.objects.filter(action="invitation.resent").exists()


def test_the_service_refetches_inside_the_organization(tenant_a, tenant_b, invitation):
    with pytest.raises(Invitation.DoesNotExist):
        invitation_services.resend_invitation(
            acting_user=tenant_b.users[Role.ORG_ADMIN], organization=tenant_b.organization, invitation=invitation
        )


def test_a_resend_needs_members_manage(tenant_a, invitation):
    response = tenant_a.client_for(Role.CLINICIAN).post(
        reverse("accounts:invitation_resend", kwargs={"pk": invitation.pk})
    )
    assert response.status_code == 403
