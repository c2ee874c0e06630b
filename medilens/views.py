"""Project-level views: the dashboard, health endpoints and error pages."""

import logging
import sys
import uuid

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.generic import TemplateView

from accounts.access import OrganizationMixin
from accounts.selectors import organization_api_clients, organization_members
from audit.selectors import organization_events
from medilens import unavailable

logger = logging.getLogger(__name__)


class DashboardView(OrganizationMixin, TemplateView):
    required_permission = "dashboard.view"
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        organization = self.request.organization
        context["member_count"] = organization_members(organization).count()
        if self.has_permission("api_clients.manage"):
            context["api_client_count"] = organization_api_clients(organization).filter(revoked_at=None).count()
        if self.has_permission("audit.view"):
            context["recent_events"] = list(organization_events(organization)[:8])
        for extend in DASHBOARD_SECTIONS:
            context.update(extend(self))
        return context


# Apps add their own dashboard figures here (a callable taking the view, returning context).
DASHBOARD_SECTIONS: list = []


def healthz(request):
    """Liveness: the process answers. Checks nothing else on purpose."""
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache():
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def _check_broker():
    from medilens.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_storage():
    # A read-only probe: listing needs the bucket (or media directory) and valid credentials.
    default_storage.exists("readyz-probe")


READINESS_CHECKS = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
    "storage": _check_storage,
}


def readyz(request):
    """Readiness: 200 when every dependency answers, else 503 naming the ones that failed."""
    results, failed = {}, []
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as error:  # any failure means not ready; the reason goes to the log only
            logger.warning("readiness check %s failed: %s", name, type(error).__name__)
            results[name] = "failed"
            failed.append(name)
        else:
            results[name] = "ok"
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def permission_denied(request, exception=None):
    return render(request, "errors/403.html", status=403)


API_PREFIX = "/api/"
FHIR_PREFIX = "/api/v1/fhir/"


def page_not_found(request, exception=None):
    # A URL under the API that no route matches (an id that is not a UUID, say) answers as the API does:
    # a partner's client parses JSON errors, and the schema documents the 404 as one.
    if request.path.startswith(FHIR_PREFIX):  # FHIR's clients read an OperationOutcome
        from fhir_export.outcome import FHIR_JSON, operation_outcome

        outcome = operation_outcome(404, "No such FHIR resource or operation.")
        return JsonResponse(outcome, status=404, content_type=FHIR_JSON)
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": {"status": 404, "code": "not_found", "message": "Not found."}}, status=404)
    return render(request, "errors/404.html", status=404)


def server_error(request):
    # Called inside Django's handling of the exception: overload (no pooled connection, a statement past its
    # timeout: medilens/overload.py) and an outage of Redis (sign-in limits, the broker: medilens/unavailable.py)
    # are 503s with Retry-After that say which, not a 500.
    from .overload import is_overload, overloaded

    error = sys.exc_info()[1]
    if is_overload(error):
        return overloaded(request, error)
    if unavailable.is_outage(error):
        return unavailable.answer(request, message=unavailable.MESSAGE, retry_after=unavailable.RETRY_AFTER_SECONDS)
    return render(request, "errors/500.html", status=500)
