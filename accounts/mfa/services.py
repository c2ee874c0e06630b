"""Every change to a person's second factors, and every failed second step, with its audit event.

allauth adds and removes factors in its own views; its signals reach ``record_enrolment`` and
``record_removal`` here. Resets (an org admin for a member, platform staff for anyone) and the demo's and
tests' enrolment with a known secret are done here.
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

import audit
from audit.models import AuditEvent
from medilens.rls import context as row_security

from .. import signin_limits
from ..models import Membership, Organization, User
from ..roles import Role
from ..tenancy import organization_scope, scopes_disabled

FACTOR_LABELS = {
    Authenticator.Type.TOTP: "authenticator app",
    Authenticator.Type.WEBAUTHN: "passkey",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
}


def record_enrolment(*, user: User, authenticator: Authenticator) -> None:
    audit.record(
        action="mfa.enrolled", actor=user, target=user, details={"factor": authenticator.type, "id": authenticator.pk}
    )


def record_removal(*, user: User, authenticator: Authenticator) -> None:
    audit.record(
        action="mfa.removed", actor=user, target=user, details={"factor": authenticator.type, "id": authenticator.pk}
    )


def record_recovery_codes_renewed(*, user: User) -> None:
    audit.record(action="mfa.recovery_codes_renewed", actor=user, target=user)


def record_failed_second_step(*, request, user: User, factor: str) -> None:
    """A wrong, reused or expired code, or a refused passkey, after a right password: audited, and counted
    exactly as a wrong password is (axes' lockout of the account from this address, and the limits of
    accounts.signin_limits)."""
    with transaction.atomic():
        audit.record(
            action="mfa.failed",
            actor="anonymous",
            target=user,
            outcome=AuditEvent.Outcome.FAILURE,
            details={"factor": factor},
        )
    signin_limits.record_failure(request, user.email)
    # Through axes' handler rather than Django's user_login_failed signal: the failure is audited above
    # as mfa.failed, not a second time as a failed password.
    AxesProxyHandler.user_login_failed(sender=record_failed_second_step, credentials={"username": user.email},
                                       request=request)


def enrol_totp(*, user: User, secret: str | None = None) -> tuple[Authenticator, str]:
    """An authenticator-app factor with a known base32 secret (the demo's seed, test fixtures), plus
    recovery codes, as enrolling on the page gives. Returns the factor and its secret."""
    secret = secret or generate_totp_secret()
    with transaction.atomic():
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        authenticator = TOTP.activate(user, secret).instance
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists():
            RecoveryCodes.activate(user)
        record_enrolment(user=user, authenticator=authenticator)
    return authenticator, secret


def _delete_factors(user: User) -> list[str]:
    factors = list(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    Authenticator.objects.filter(user=user).delete()
    return sorted(factors)


def _is_org_admin_anywhere(user: User) -> bool:
    # Every organization of this user, not only the current one: under Row-Level Security the user's own
    # memberships are read by app.user_id (inside an organization's scope the setting alone would hide the
    # others, and an admin of another clinic would look like a plain member).
    with scopes_disabled(), row_security.bind(user_id=user.pk):
        return Membership.objects.filter(user=user, role=Role.ORG_ADMIN).exists()


def reset_member_factors(*, acting_user: User, organization: Organization, membership_id: int) -> User:
    """An org admin removes a member's second factors (a lost phone); the member enrols again at their next
    sign-in if a factor is required of them. Organization admins and platform staff are reset only by
    platform staff: one clinic's admin must not weaken another's."""
    with transaction.atomic(), organization_scope(organization):
        membership = Membership.objects.select_related("user").get(pk=membership_id, organization=organization)
        acting = Membership.objects.filter(user=acting_user, organization=organization, role=Role.ORG_ADMIN)
        if not acting.exists():
            raise PermissionDenied("Only an organization admin can reset a member's second factors.")
        user = membership.user
        if user.pk == acting_user.pk:
            raise ValidationError("Manage your own second factors from your security page.")
        if user.is_staff or _is_org_admin_anywhere(user):
            raise ValidationError(
                f"{user.email} is an organization admin: their second factors are reset by MediLens platform staff."
            )
        User.objects.select_for_update().get(pk=user.pk)
        factors = _delete_factors(user)
        if not factors:
            raise ValidationError(f"{user.email} has no second factor to reset.")
        audit.record(
            action="mfa.reset",
            actor=acting_user,
            organization=organization,
            target=user,
            details={"user_id": user.pk, "factors": factors, "by": "org_admin"},
        )
    return user


def reset_factors_as_staff(*, acting_user: User, user: User) -> list[str]:
    """Platform staff (Django admin) remove anyone's second factors, an org admin's included."""
    if not getattr(acting_user, "is_staff", False):
        raise PermissionDenied("Only platform staff can reset this person's second factors.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        factors = _delete_factors(user)
        if factors:
            audit.record(
                action="mfa.reset",
                actor=acting_user,
                target=user,
                details={"user_id": user.pk, "factors": factors, "by": "platform_staff"},
            )
    return factors
