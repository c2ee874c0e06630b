"""The tenancy guard: tenant-owned rows are reachable only inside an organization scope.

django-scopes makes a query on a scoped manager raise ``ScopeError`` when no scope is active. Its
``scope(organization=None)`` would mean "no filter", which fails open; ``organization_scope`` refuses a
missing organization so that a bug can only ever fail closed.
"""

from contextlib import contextmanager

from django.db import models
from django_scopes import ScopedManager, scope, scopes_disabled  # noqa: F401  (re-exported)


class TenantScopeMissing(RuntimeError):
    pass


@contextmanager
def organization_scope(organization):
    if organization is None or getattr(organization, "pk", None) is None:
        raise TenantScopeMissing("an organization scope needs a saved organization")
    with scope(organization=organization.pk):
        yield organization


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
