"""What the database should be told about the current tenant, held per thread / task (a ContextVar).

``bind`` is entered by the tenancy guard (``accounts.tenancy.organization_scope``) and by the lookups
that find a tenant (a signed-in user's memberships, an API key by its prefix, a task's assessment by its
id, an invitation by its token's digest). The values reach
PostgreSQL only through ``medilens.rls.stamp``, as transaction-local settings.
"""

from contextlib import contextmanager
from contextvars import ContextVar

# The settings the policies read, in the order ``stamp`` sends them.
SETTINGS = ("app.organization_id", "app.user_id", "app.api_key_prefix", "app.assessment_id", "app.invitation_digest")
NOTHING = ("", "", "", "", "")

_bound: ContextVar[tuple[str, ...]] = ContextVar("medilens_rls_bound", default=NOTHING)


def _text(value) -> str:
    return "" if value is None else str(value)


@contextmanager
def bind(*, organization_id=None, user_id=None, api_key_prefix=None, assessment_id=None, invitation_digest=None):
    """Name what the next transactions may see. A nested bind replaces the whole tuple (least privilege:
    an organization scope inside a membership lookup does not keep the lookup's user)."""
    values = (organization_id, user_id, api_key_prefix, assessment_id, invitation_digest)
    token = _bound.set(tuple(_text(value) for value in values))
    try:
        yield
    finally:
        _bound.reset(token)


@contextmanager
def unbound():
    """Nothing bound: a tenant query here sees no rows (used by tests and cross-tenant discovery)."""
    token = _bound.set(NOTHING)
    try:
        yield
    finally:
        _bound.reset(token)


def current() -> tuple[str, ...]:
    return _bound.get()
