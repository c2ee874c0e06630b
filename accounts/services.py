"""Every state change of organizations, members, invitations and API clients.

Keyword-only arguments, an explicit acting user, one transaction, and the audit event recorded last in
that transaction. Errors a person can fix are ``ValidationError`` with a message meant for them.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

import audit
from medilens.rls import context as row_security

from .invitation_services import send_invitation_email
from .models import ApiClient, Invitation, Membership, Organization, User, normalize_email
from .roles import Role
from .tenancy import organization_scope, scopes_disabled


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


def _checked_identity(organization: Organization, name: str | None, slug: str | None) -> dict:
    """The new name and slug (None: unchanged), refused as create_organization refuses them."""
    identity = {}
    if name is not None:
        identity["name"] = name.strip()
        if not identity["name"]:
            raise ValidationError({"name": "An organization needs a name."})
    if slug is not None:
        identity["slug"] = slugify(slug)
        if not identity["slug"]:
            raise ValidationError({"slug": "The slug must contain letters or digits."})
        if Organization.objects.filter(slug=identity["slug"]).exclude(pk=organization.pk).exists():
            raise ValidationError({"slug": f"The slug '{identity['slug']}' is already taken by another organization."})
    return identity


def update_organization_settings(
    *,
    acting_user,
    organization: Organization,
    data_retention_days: int,
    require_consent_for_assessment: bool,
    require_mfa_for_all_members: bool | None = None,
    name: str | None = None,
    slug: str | None = None,
) -> Organization:
    """The clinic's own settings (its admins, in the portal); platform staff may also rename it.
    ``require_mfa_for_all_members`` None leaves that setting as it is."""
    if data_retention_days < 1:
        raise ValidationError({"data_retention_days": "Retention must be at least one day."})
    identity = _checked_identity(organization, name, slug)
    wanted = {
        **identity,
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
def _lock_org_admins(organization) -> int:
    """Lock the organization's admins, in pk order and before the row being changed (one lock order for
    every caller: two concurrent demotions neither deadlock nor both pass the last-admin check), and
    count them. Runs inside the organization's scope."""
    return len(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ORG_ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def add_membership(*, acting_user, organization: Organization, user: User, role: str) -> Membership:
    _check_role(role)
    with transaction.atomic(), organization_scope(organization):
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


def change_role(*, acting_user, organization: Organization, membership: Membership, role: str) -> Membership:
    """Re-fetched inside ``organization``: another organization's membership is ``Membership.DoesNotExist``
    (the caller's 404), whatever lookup the caller did."""
    _check_role(role)
    with transaction.atomic(), organization_scope(organization):
        admins = _lock_org_admins(organization)
        membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
        if membership.role == role:
            return membership
        if membership.role == Role.ORG_ADMIN and admins <= 1:
            raise ValidationError(
                {"role": "This is the organization's last admin: make someone else admin first."}
            )
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit.record(
            action="membership.role_changed",
            actor=acting_user,
            organization=organization,
            target=membership,
            details={"user_id": membership.user_id, "from": previous, "to": role},
        )
    return membership


def remove_membership(*, acting_user, organization: Organization, membership: Membership) -> None:
    """Re-fetched inside ``organization``, as change_role."""
    with transaction.atomic(), organization_scope(organization):
        admins = _lock_org_admins(organization)
        membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
        if membership.role == Role.ORG_ADMIN and admins <= 1:
            raise ValidationError("This is the organization's last admin and cannot be removed.")
        user_id, pk = membership.user_id, membership.pk
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
    with transaction.atomic(), organization_scope(organization):
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
        send_invitation_email(invitation=invitation, token=token, inviter=acting_user)
        audit.record(
            action="invitation.sent",
            actor=acting_user,
            organization=organization,
            target=invitation,
            details={"role": role},
        )
    return invitation, token


def revoke_invitation(*, acting_user, organization: Organization, invitation: Invitation) -> None:
    """Re-fetched inside ``organization``: another organization's invitation is ``Invitation.DoesNotExist``."""
    with transaction.atomic(), organization_scope(organization):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, organization=organization)
        if invitation.state != "open":
            raise ValidationError("Only an open invitation can be revoked.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(action="invitation.revoked", actor=acting_user, organization=organization, target=invitation)


class InvitationInvalid(Exception):
    """The link is unknown, used, revoked or expired: one message for all, so links cannot be probed."""


def find_open_invitation(token: str) -> Invitation:
    # Row-Level Security: the application role reads the one invitation whose digest the link holds.
    with scopes_disabled(), row_security.bind(invitation_digest=Invitation.digest(token)):
        invitation = (
            Invitation.objects.select_related("organization").filter(token_digest=Invitation.digest(token)).first()
        )
    if invitation is None or not invitation.is_open or not invitation.organization.is_active:
        raise InvitationInvalid("This invitation link is invalid, already used or expired.")
    return invitation


def accept_invitation(*, token: str, user: User | None = None, full_name: str = "", password: str = "") -> Membership:
    """Accept as the signed-in ``user`` (an existing account) or create the account with a password."""
    from django.contrib.auth.password_validation import validate_password

    found = find_open_invitation(token)
    # Row-Level Security: everything below reads and writes rows of the invitation's organization.
    with transaction.atomic(), scopes_disabled(), row_security.bind(organization_id=found.organization_id):
        invitation = Invitation.objects.select_for_update().get(pk=found.pk)
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


def revoke_api_client(*, acting_user, organization: Organization, client: ApiClient) -> ApiClient:
    """Re-fetched inside ``organization``: another organization's client is ``ApiClient.DoesNotExist``."""
    with transaction.atomic(), organization_scope(organization):
        client = ApiClient.objects.select_for_update().get(pk=client.pk, organization=organization)
        if client.revoked_at is None:
            client.revoked_at = timezone.now()
            client.save(update_fields=["revoked_at"])
            audit.record(action="api_client.revoked", actor=acting_user, organization=organization, target=client)
    return client


def set_api_client_webhook_grant(
    *, acting_user, organization: Organization, client: ApiClient, granted: bool
) -> ApiClient:
    """Grant or withdraw ``webhooks.manage`` for one client (an endpoint receives patient data, so no access
    level carries it). Re-fetched inside ``organization``; a revoked client cannot be granted it."""
    with transaction.atomic(), organization_scope(organization):
        client = ApiClient.objects.select_for_update().get(pk=client.pk, organization=organization)
        if granted and client.revoked_at is not None:
            raise ValidationError("A revoked API client cannot be granted anything.")
        if client.may_manage_webhooks != granted:
            client.may_manage_webhooks = granted
            client.save(update_fields=["may_manage_webhooks"])
            audit.record(
                action="api_client.webhooks_granted" if granted else "api_client.webhooks_withdrawn",
                actor=acting_user,
                organization=organization,
                target=client,
            )
    return client


# --- users -------------------------------------------------------------------------------------------
# Accounts are platform-wide (a person may belong to several organizations): their events go to the
# platform chain.
def create_user(
    *, acting_user, email: str, full_name: str, password: str | None, is_staff: bool = False, is_superuser: bool = False
) -> User:
    """``password=None`` makes an account that cannot sign in with a password until one is set."""
    from django.contrib.auth.password_validation import validate_password

    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    user = User(email=email, full_name=(full_name or "").strip(), is_staff=is_staff, is_superuser=is_superuser)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        user.set_password(password)
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError({"email": f"An account with {email} already exists."})
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise ValidationError({"email": f"An account with {email} already exists."}) from None
        audit.record(
            action="user.created",
            actor=acting_user,
            target=user,
            details={"staff": is_staff, "superuser": is_superuser, "usable_password": password is not None},
        )
    return user


def deactivate_user(*, acting_user, user: User) -> User:
    """The account can no longer sign in, and its open sessions end at their next request (Django's
    backends refuse inactive users). Its rows and audit events stay."""
    if getattr(acting_user, "pk", None) is not None and acting_user.pk == user.pk:
        raise ValidationError("You cannot deactivate your own account.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
            audit.record(action="user.deactivated", actor=acting_user, target=user)
    return user


def set_password(*, acting_user, user: User, password: str) -> User:
    """Someone other than the user (platform staff, the demo's seeding) sets the password."""
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(action="user.password_set", actor=acting_user, target=user)
    return user


# --- passwords ---------------------------------------------------------------------------------------
def record_password_changed(*, user: User, via: str) -> None:
    """Django's views change the password; this records it (via: 'change' or 'reset')."""
    audit.record(action=f"auth.password_{'reset' if via == 'reset' else 'changed'}", actor=user, target=user)


def record_password_reset_requested() -> None:
    """Django's view sends the email (or not, for an unknown address: the page is the same); the event
    names no account, so the log cannot be used to discover which addresses have one."""
    audit.record(action="auth.password_reset_requested", actor="anonymous")
