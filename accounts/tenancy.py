"""The tenancy guard: tenant-owned rows are reachable only inside an organization scope.

django-scopes makes a query on a scoped manager raise ``ScopeError`` when no scope is active. Its
``scope(organization=None)`` would mean "no filter", which fails open; ``organization_scope`` refuses a
missing organization so that a bug can only ever fail closed.
"""

from contextlib import contextmanager, nullcontext

from django.db import connection, models, transaction
from django_scopes import ScopedManager, scope, scopes_disabled  # noqa: F401  (re-exported)

from medilens.rls import context as row_security


class TenantScopeMissing(RuntimeError):
    pass


@contextmanager
def organization_scope(organization):
    if organization is None or getattr(organization, "pk", None) is None:
        raise TenantScopeMissing("an organization scope needs a saved organization")
    with organization_id_scope(organization.pk):
        yield organization


@contextmanager
def organization_id_scope(organization_id: int):
    """``organization_scope`` for code that holds only the organization's id (an event's row)."""
    if not organization_id:
        raise TenantScopeMissing("an organization scope needs an organization id")
    # The same organization for PostgreSQL's Row-Level Security: each transaction run inside this scope
    # starts with set_config('app.organization_id', ..., true) (medilens/rls/stamp.py).
    with scope(organization=organization_id), row_security.bind(organization_id=organization_id):
        yield


def tenant_transaction():
    """One transaction around a tenant request on PostgreSQL, so Row-Level Security's setting is made once
    per request rather than around each autocommit query. Nothing on SQLite, whose IMMEDIATE transactions
    would take the write lock for every page view (SQLite has django-scopes only). Inside a transaction
    already (a test's, a caller's), it joins that one: the setting is made at its next statement."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return transaction.atomic()
    return nullcontext()


def TenantManager(**kwargs):  # noqa: N802 - a manager factory, named like the class it returns
    return ScopedManager(organization="organization", **kwargs)


class TenantModel(models.Model):
    """Base for every tenant-owned model: an organization FK (PROTECT) and a scoped manager."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="+", editable=False
    )

    objects = TenantManager()

    class Meta:
        abstract = True
