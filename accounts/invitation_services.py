"""Invitation links: the email that carries one, and sending a fresh one again.

Only a digest of an invitation's token is stored, so a link cannot be shown again later. Resending
therefore makes a new token (the old link stops working at once, as a lost or forwarded email should)
and renews the expiry; the manager sees the new link once, to copy it into another channel.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import audit

from .models import Invitation, Organization
from .tenancy import organization_scope


def invitation_link(token: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("accounts:invitation_accept", args=[token])


def send_invitation_email(*, invitation: Invitation, token: str, inviter) -> None:
    """Queue the email for after the commit: a rolled-back invitation sends nothing."""
    organization = invitation.organization
    body = render_to_string(
        "accounts/email/invitation.txt",
        {"organization": organization, "invitation": invitation, "link": invitation_link(token), "inviter": inviter},
    )
    email = invitation.email
    transaction.on_commit(
        lambda: send_mail(
            f"You are invited to {organization.name} on MediLens", body, settings.DEFAULT_FROM_EMAIL, [email]
        )
    )


def resend_invitation(*, acting_user, organization: Organization, invitation: Invitation) -> tuple[Invitation, str]:
    """A new link for an invitation not yet accepted or revoked (an expired one too: that is the usual reason
    to resend). Returns the invitation and the new raw token."""
    with transaction.atomic(), organization_scope(organization):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, organization=organization)
        if invitation.state not in ("open", "expired"):
            raise ValidationError(f"This invitation was {invitation.state}: it cannot be sent again.")
        token, digest = Invitation.new_token()
        invitation.token_digest = digest
        invitation.expires_at = timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS)
        invitation.save(update_fields=["token_digest", "expires_at"])
        send_invitation_email(invitation=invitation, token=token, inviter=acting_user)
        # The inviter named in the email is the one who resent it; the row keeps who first invited.
        audit.record(
            action="invitation.resent",
            actor=acting_user,
            organization=organization,
            target=invitation,
            details={"role": invitation.role},
        )
    return invitation, token
