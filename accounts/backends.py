from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef


class EmailBackend(ModelBackend):
    """Email login, case-insensitive (the user manager looks emails up with iexact).

    ``get_user`` (each signed-in request's user, from its session) also reads whether the user has a second
    factor, in the same statement: the second-factor middleware asks on every page
    (``accounts.mfa.policy.has_factor_now``), which was a query of its own."""

    def get_user(self, user_id):
        from allauth.mfa.models import Authenticator

        from .mfa.policy import FACTOR_TYPES

        factors = Authenticator.objects.filter(user=OuterRef("pk"), type__in=FACTOR_TYPES)
        user = get_user_model()._default_manager.annotate(factor_at_load=Exists(factors)).filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def axes_username(request, credentials) -> str:
    """django-axes keys lockouts on the normalized email, so 'A@x.org' and 'a@x.org' count together."""
    # allauth's password re-entry passes the email as "email".
    raw = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    return raw.strip().lower()
