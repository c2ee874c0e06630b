"""The one way an API request reaches tenant data.

``ApiKeyAuthentication`` finds the client by its key's prefix and compares SHA-256 digests in constant
time. ``OrganizationPermission`` refuses suspended organizations and checks the endpoint's
``required_permission`` against the client's access. ``TenantAPIView`` runs the whole request inside the
key's organization scope; every API view derives from it.
"""

import logging
from contextlib import nullcontext

from django.core.exceptions import (
    ImproperlyConfigured,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from medilens import unavailable
from medilens.rls import errors as row_security_errors

from .api_auth import ApiKeyThrottle
from .roles import PERMISSIONS
from .tenancy import organization_scope, tenant_transaction


class TenantAPIView(APIView):
    """Base of every API view: the key's organization is the scope for the whole request.

    ``required_permission`` is either one permission name or a dict from HTTP method to name.
    """

    required_permission: str | dict[str, str] | None = None
    throttle_classes = [ApiKeyThrottle]
    # Methods that store uploaded files run without the request's transaction: their service stores the files
    # first and then opens its own short transaction, so no upload runs while a transaction (and its locks) is
    # open. Each query in between is its own short transaction (Row-Level Security's setting with it).
    stores_files_on: frozenset[str] = frozenset()

    def get_required_permission(self, request) -> str | None:
        """The permission this request needs; None for OPTIONS, which describes the endpoint and reads no
        data (any valid key of an active organization may ask). HEAD needs what GET needs."""
        method = request.method
        if method == "OPTIONS":
            return None
        required = self.required_permission
        if isinstance(required, dict):
            if method == "HEAD" and method not in required:
                method = "GET"
            required = required.get(method) or required.get("*")
        if required not in PERMISSIONS:
            raise ImproperlyConfigured(f"{type(self).__name__} must name a known required_permission for {method}")
        return required

    def _handles(self, method: str) -> bool:
        name = method.lower()
        return name in self.http_method_names and hasattr(self, name)

    def dispatch(self, request, *args, **kwargs):
        # One transaction per request on PostgreSQL: Row-Level Security's setting is transaction-local.
        # Handled errors (4xx) commit what was written, as autocommit did; an unhandled one rolls back.
        # The scope (entered in initial) ends after the commit, so on_commit work (publishing a task and
        # stamping it) still runs inside it.
        self._scope = None
        try:
            with nullcontext() if request.method in self.stores_files_on else tenant_transaction():
                return super().dispatch(request, *args, **kwargs)
        finally:
            scope_cm, self._scope = self._scope, None
            if scope_cm is not None:
                scope_cm.__exit__(None, None, None)

    def initial(self, request, *args, **kwargs):
        # A method the view does not handle is a 405 before authentication and permissions: its
        # permission is not declared (the lookup above would fail), and the answer reveals nothing.
        if not self._handles(request.method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        request.organization = request.auth.organization
        request.api_client = request.auth
        self._scope = organization_scope(request.organization)
        self._scope.__enter__()



logger = logging.getLogger(__name__)

# Refusals Django raises while reading a request, which DRF would hand to Django's HTML 400 (or, for
# RecursionError, a 500). The API parsers turn them into API errors already; this is the net for a body
# read some other way.
_REQUEST_REFUSALS = {
    RequestDataTooBig: (413, "request_too_large", "The request body is larger than this endpoint accepts."),
    TooManyFilesSent: (400, "too_many_files", "The request carries more files than allowed."),
    TooManyFieldsSent: (400, "too_many_fields", "The request carries more fields than allowed."),
    RecursionError: (400, "too_deeply_nested", "The request is nested too deeply to read."),
}


def _request_refusal(exc, view) -> exceptions.APIException | None:
    for kind, (status_code, code, message) in _REQUEST_REFUSALS.items():
        if isinstance(exc, kind):
            if kind is RecursionError:  # the parsers bound nesting: this one came from elsewhere
                logger.warning("RecursionError in %s answered 400", type(view).__name__)
            refusal = exceptions.APIException(message, code)
            refusal.status_code = status_code
            return refusal
    return None


def _unavailable_dependency(exc, view) -> exceptions.APIException | None:
    """Redis (the cache that counts rate limits, the broker) not answering: a 503 with Retry-After, never a
    500 (medilens/unavailable.py)."""
    if not unavailable.is_outage(exc):
        return None
    logger.warning("%s answered 503: %s", type(view).__name__, type(exc).__name__)
    refusal = exceptions.APIException(unavailable.MESSAGE, "service_unavailable")
    refusal.status_code = 503
    return refusal


def exception_handler(exc, context):
    """One error shape everywhere: {"error": {"status", "code", "message", "fields"?}}."""
    outage = _unavailable_dependency(exc, context.get("view"))
    if outage is not None:
        exc = outage
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif row_security_errors.is_refusal(exc):
        row_security_errors.settle(exc)
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif (refusal := _request_refusal(exc, context.get("view"))) is not None:
        exc = refusal
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    body = {"status": response.status_code, "code": code}
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        body["message"] = str(data["detail"])
    elif isinstance(data, (dict, list)):
        body["message"] = "The request has invalid fields." if response.status_code == 400 else "Request failed."
        body["fields"] = data if isinstance(data, dict) else {"non_field_errors": data}
    else:
        body["message"] = str(data)
    response.data = {"error": body}
    if outage is not None:
        response["Retry-After"] = str(unavailable.RETRY_AFTER_SECONDS)
    return response


class OrganizationView(TenantAPIView):
    """GET /api/v1/organization/: which organization this key acts for (lets a partner check its key)."""

    required_permission = "patients.view"

    @extend_schema(
        responses=inline_serializer(
            "OrganizationOfKey",
            {
                "organization": inline_serializer(
                    "OrganizationSummary", {"slug": serializers.SlugField(), "name": serializers.CharField()}
                ),
                "client": inline_serializer(
                    "ApiClientSummary",
                    {
                        "name": serializers.CharField(),
                        "access": serializers.ChoiceField(choices=["clinician", "read_only"]),
                        "key_prefix": serializers.CharField(),
                    },
                ),
            },
        )
    )
    def get(self, request):
        client = request.auth
        return Response(
            {
                "organization": {"slug": request.organization.slug, "name": request.organization.name},
                "client": {"name": client.name, "access": client.access, "key_prefix": client.key_prefix},
            },
            status=status.HTTP_200_OK,
        )
