from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Email login, case-insensitive (the user manager looks emails up with iexact)."""


def axes_username(request, credentials) -> str:
    """django-axes keys lockouts on the normalized email, so 'A@x.org' and 'a@x.org' count together."""
    # allauth's password re-entry passes the email as "email".
    raw = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    return raw.strip().lower()
