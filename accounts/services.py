"""Every state change of organizations, members, invitations and API clients.

Keyword-only arguments, an explicit acting user, one transaction, and the audit event recorded last in
that transaction. Errors a person can fix are ``ValidationError`` with a message meant for them.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

import audit

from .models import ApiClient, Invitation, Membership, Organization, User, normalize_email
from .roles import Role
from .tenancy import scopes_disabled


def _check_role(role: str) -> str:
    if role not in Role.values:
        raise ValidationError({"role": f"'{role}' is not a role. Choose one of: {', '.join(Role.values)}."})
    return role


# --- organizations -----------------------------------------------------------------------------------
def create_organization(*, acting_user, name: str, slug: str = "", data_retention_days: int = 2555) -> Organization:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "An organization needs a name."})
    slug = slugify(slug or name)
    if not slug:
        raise ValidationError({"slug": "The slug must contain letters or digits."})
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"The slug '{slug}' is already taken by another organization."})
    if data_retention_days < 1:
        raise ValidationError({"data_retention_days": "Retention must be at least one day."})
    with transaction.atomic():
        organization = Organization.objects.create(name=name, slug=slug, data_retention_days=data_retention_days)
        audit.record(
            action="organization.created",
            actor=acting_user,
            organization=organization,
            target=organization,
            details={"slug": slug},
        )
    return organization


def set_organization_status(*, acting_user, organization: Organization, status: str) -> Organization:
    if status not in Organization.Status.values:
        raise ValidationError({"status": f"'{status}' is not an organization status."})
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        if organization.status == status:
            return organization
        organization.status = status
        organization.save(update_fields=["status", "updated_at"])
        action = "organization.suspended" if status == Organization.Status.SUSPENDED else "organization.reactivated"
        audit.record(action=action, actor=acting_user, organization=organization, target=organization)
    return organization


def update_organization_settings(
    *,
    acting_user,
    organization: Organization,
    data_retention_days: int,
    require_consent_for_assessment: bool,
    require_mfa_for_all_members: bool | None = None,
) -> Organization:
    """``require_mfa_for_all_members`` None leaves that setting as it is."""
    if data_retention_days < 1:
        raise ValidationError({"data_retention_days": "Retention must be at least one day."})
    wanted = {
        "data_retention_days": data_retention_days,
        "require_consent_for_assessment": require_consent_for_assessment,
    }
    if require_mfa_for_all_members is not None:
        wanted["require_mfa_for_all_members"] = require_mfa_for_all_members
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        changed = []
        for field, value in wanted.items():
            if getattr(organization, field) != value:
                setattr(organization, field, value)
                changed.append(field)
        if changed:
            organization.save(update_fields=[*changed, "updated_at"])
            audit.record(
                action="organization.settings_changed",
                actor=acting_user,
                organization=organization,
                target=organization,
                details={"fields": changed},
            )
    return organization


# --- memberships -------------------------------------------------------------------------------------
def _org_admin_count(organization) -> int:
    with scopes_disabled():
        return Membership.objects.filter(organization=organization, role=Role.ORG_ADMIN).count()


def add_membership(*, acting_user, organization: Organization, user: User, role: str) -> Membership:
    _check_role(role)
    with transaction.atomic(), scopes_disabled():
        if Membership.objects.filter(organization=organization, user=user).exists():
            raise ValidationError({"email": f"{user.email} is already a member of {organization.name}."})
        membership = Membership.objects.create(organization=organization, user=user, role=role)
        audit.record(
            action="membership.added",
            actor=acting_user,
            organization=organization,
            target=membership,
            details={"user_id": user.pk, "role": role},
        )
    return membership


def change_role(*, acting_user, membership: Membership, role: str) -> Membership:
    _check_role(role)
    with transaction.atomic(), scopes_disabled():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        # Lock the organization's admins so two concurrent demotions cannot both pass the check.
        list(
            Membership.objects.select_for_update()
            .filter(organization_id=membership.organization_id, role=Role.ORG_ADMIN)
            .values_list("pk", flat=True)
        )
        if membership.role == Role.ORG_ADMIN and _org_admin_count(membership.organization) <= 1:
            raise ValidationError(
                {"role": "This is the organization's last admin: make someone else admin first."}
            )
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit.record(
            action="membership.role_changed",
            actor=acting_user,
            organization=membership.organization,
            target=membership,
            details={"user_id": membership.user_id, "from": previous, "to": role},
        )
    return membership


def remove_membership(*, acting_user, membership: Membership) -> None:
    with transaction.atomic(), scopes_disabled():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        list(
            Membership.objects.select_for_update()
            .filter(organization_id=membership.organization_id, role=Role.ORG_ADMIN)
            .values_list("pk", flat=True)
        )
        if membership.role == Role.ORG_ADMIN and _org_admin_count(membership.organization) <= 1:
            raise ValidationError("This is the organization's last admin and cannot be removed.")
        organization, user_id, pk = membership.organization, membership.user_id, membership.pk
        membership.delete()
        audit.record(
            action="membership.removed",
            actor=acting_user,
            organization=organization,
            target_type="accounts.membership",
            target_id=pk,
            details={"user_id": user_id},
        )


# --- invitations -------------------------------------------------------------------------------------
def invite(*, acting_user, organization: Organization, email: str, role: str) -> tuple[Invitation, str]:
    """Create an invitation and email its link. Returns the invitation and the raw token."""
    _check_role(role)
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    with transaction.atomic(), scopes_disabled():
        if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
            raise ValidationError({"email": f"{email} is already a member of {organization.name}."})
        open_invites = Invitation.objects.filter(
            organization=organization, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
        if open_invites.filter(expires_at__gt=timezone.now()).exists():
            raise ValidationError({"email": f"{email} already has an open invitation."})
        # An expired, unused invitation gives way to the new one.
        open_invites.update(revoked_at=timezone.now())
        token, digest = Invitation.new_token()
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            token_digest=digest,
            invited_by=acting_user,
            expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
        )
        link = settings.PORTAL_BASE_URL.rstrip("/") + reverse("accounts:invitation_accept", args=[token])
        body = render_to_string(
            "accounts/email/invitation.txt",
            {"organization": organization, "invitation": invitation, "link": link, "inviter": acting_user},
        )
        transaction.on_commit(
            lambda: send_mail(
                f"You are invited to {organization.name} on MediLens",
                body,
                settings.DEFAULT_FROM_EMAIL,
                [email],
            )
        )
        audit.record(
            action="invitation.sent",
            actor=acting_user,
            organization=organization,
            target=invitation,
            details={"role": role},
        )
    return invitation, token


def revoke_invitation(*, acting_user, invitation: Invitation) -> None:
    with transaction.atomic(), scopes_disabled():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.state != "open":
            raise ValidationError("Only an open invitation can be revoked.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            action="invitation.revoked", actor=acting_user, organization=invitation.organization, target=invitation
        )


class InvitationInvalid(Exception):
    """The link is unknown, used, revoked or expired: one message for all, so links cannot be probed."""


def find_open_invitation(token: str) -> Invitation:
    with scopes_disabled():
        invitation = (
            Invitation.objects.select_related("organization").filter(token_digest=Invitation.digest(token)).first()
        )
    if invitation is None or not invitation.is_open or not invitation.organization.is_active:
        raise InvitationInvalid("This invitation link is invalid, already used or expired.")
    return invitation


def accept_invitation(*, token: str, user: User | None = None, full_name: str = "", password: str = "") -> Membership:
    """Accept as the signed-in ``user`` (an existing account) or create the account with a password."""
    from django.contrib.auth.password_validation import validate_password

    with transaction.atomic(), scopes_disabled():
        invitation = find_open_invitation(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_open:
            raise InvitationInvalid("This invitation link is invalid, already used or expired.")
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise ValidationError("An account with this email exists: sign in first, then open the link again.")
            if not full_name.strip():
                raise ValidationError({"full_name": "Enter your full name."})
            candidate = User(email=invitation.email, full_name=full_name.strip())
            validate_password(password, candidate)
            candidate.set_password(password)
            try:
                with transaction.atomic():
                    candidate.save()
            except IntegrityError:
                raise ValidationError("An account with this email exists: sign in first.") from None
            user = candidate
        elif normalize_email(user.email) != normalize_email(invitation.email):
            raise ValidationError(
                f"This invitation was sent to another address. Sign in as {invitation.email} to accept it."
            )
        if Membership.objects.filter(organization=invitation.organization, user=user).exists():
            raise ValidationError(f"You are already a member of {invitation.organization.name}.")
        membership = Membership.objects.create(organization=invitation.organization, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit.record(
            action="membership.added",
            actor=user,
            organization=invitation.organization,
            target=membership,
            details={"user_id": user.pk, "role": invitation.role, "via": "invitation"},
        )
        audit.record(
            action="invitation.accepted", actor=user, organization=invitation.organization, target=invitation
        )
    return membership


# --- API clients -------------------------------------------------------------------------------------
def create_api_client(*, acting_user, organization: Organization, name: str, access: str) -> tuple[ApiClient, str]:
    """Returns the client and its key; the key is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the client a name (e.g. the partner system's)."})
    if access not in ApiClient.Access.values:
        raise ValidationError({"access": f"'{access}' is not an access level."})
    key, prefix, digest = ApiClient.new_key()
    with transaction.atomic():
        client = ApiClient.objects.create(
            organization=organization,
            name=name[:120],
            access=access,
            key_prefix=prefix,
            key_digest=digest,
            created_by=acting_user if getattr(acting_user, "pk", None) else None,
        )
        audit.record(
            action="api_client.created",
            actor=acting_user,
            organization=organization,
            target=client,
            details={"access": access, "key_prefix": prefix},
        )
    return client, key


def revoke_api_client(*, acting_user, client: ApiClient) -> ApiClient:
    with transaction.atomic(), scopes_disabled():
        client = ApiClient.objects.select_for_update().get(pk=client.pk)
        if client.revoked_at is None:
            client.revoked_at = timezone.now()
            client.save(update_fields=["revoked_at"])
            audit.record(
                action="api_client.revoked", actor=acting_user, organization=client.organization, target=client
            )
    return client


# --- passwords ---------------------------------------------------------------------------------------
def record_password_changed(*, user: User, via: str) -> None:
    """Django's views change the password; this records it (via: 'change' or 'reset')."""
    audit.record(action=f"auth.password_{'reset' if via == 'reset' else 'changed'}", actor=user, target=user)
