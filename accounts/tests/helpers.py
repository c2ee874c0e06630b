"""Helpers shared by the accounts tests: the URLconf as a list of routes, row counts, page text."""

import html
import re
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.access import OrganizationMixin
from accounts.api import TenantAPIView
from accounts.models import ApiClient, Invitation, Membership, Organization, User

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>|\(\?P<([^>]+)>")


@dataclass(frozen=True)
class Route:
    name: str | None
    route: str
    callback: object

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    @property
    def parameters(self) -> list[str]:
        return [a or b for a, b in _PARAMETER.findall(self.route)]

    @property
    def is_portal(self) -> bool:
        return isinstance(self.view_class, type) and issubclass(self.view_class, OrganizationMixin)

    @property
    def is_api(self) -> bool:
        return isinstance(self.view_class, type) and issubclass(self.view_class, TenantAPIView)

    @property
    def methods(self) -> list[str]:
        return [m for m in HTTP_METHODS if hasattr(self.view_class, m)]


def _walk(resolver, prefix="", namespace=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(name=name, route=prefix + str(entry.pattern), callback=entry.callback)


def all_routes(*, include_admin: bool = False) -> list[Route]:
    """Every URL pattern of the project. Django admin is left out unless asked for: it is staff-only,
    deliberately unscoped, and tested on its own."""
    routes = list(_walk(get_resolver()))
    if not include_admin:
        routes = [r for r in routes if not (r.name or "").startswith("admin:") and not r.route.startswith("admin/")]
    return routes


def portal_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_portal]


def api_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_api]


def tenant_models() -> list[type]:
    """Concrete models owned by a tenant: a non-null foreign key named ``organization`` to Organization."""
    owned = []
    for model in apps.get_models():
        field = next((f for f in model._meta.concrete_fields if f.name == "organization"), None)
        if field is not None and field.is_relation and field.related_model is Organization and not field.null:
            owned.append(model)
    return owned


def row_counts() -> dict[str, int]:
    """Rows of every accounts and tenant-owned model, across tenants, in one query: 'nothing changed' is
    these counts being equal before and after."""
    models = list(dict.fromkeys((Organization, User, Membership, Invitation, ApiClient, *tenant_models())))
    # Table names come from the model registry, never from input.
    tables = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in models)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {tables}")
        counts = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, counts, strict=True)}


def page_text(response) -> str:
    """The visible text of an HTML response, tags stripped and whitespace collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def alert_text(response) -> str:
    """The text of the page's alert blocks (form errors, messages meant for the person)."""
    body = response.content.decode()
    blocks = re.findall(r'<div class="alert[^"]*" role="alert">(.*?)</div>', body, flags=re.S)
    return " ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", b)).split()) for b in blocks)


def messages_of(response) -> list[str]:
    """Flash messages rendered by the page (follow=True responses)."""
    return [str(m) for m in response.context["messages"]] if response.context else []
