"""API authentication, permission and throttling (kept apart from views: DRF imports these while
``rest_framework.views`` itself is loading)."""

import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from audit import context as audit_context
from medilens.rls import context as row_security

from .models import ApiClient
from .tenancy import scopes_disabled

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiClientPrincipal:
    """What ``request.user`` is for an API call: the client, acting for its organization."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, client: ApiClient):
        self.client = client
        self.pk = None

    def __str__(self):
        return f"api:{self.client.name}"


def client_address(request) -> str:
    """The address the audit log records for this request: one place decides which proxies to trust."""
    return audit_context.current().ip or request.META.get("REMOTE_ADDR") or "unknown"


class InvalidKeyThrottle:
    """Failed API keys per client address (API_INVALID_KEY_RATE, default 20/min), counted in fixed windows
    with the cache's atomic increment (concurrent guesses are all counted). Once an address is over, every
    key it sends is refused with a 429 until the window ends, before the key is looked at: checking the
    key first would keep answering the guess."""

    scope = "api_invalid_key"

    def __init__(self, request):
        count, period = settings.API_INVALID_KEY_RATE.split("/")  # DRF's rate syntax: "20/min"
        self.limit, self.window = int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
        now = time.time()
        start = int(now // self.window) * self.window
        self.wait = max(1, int(start + self.window - now + 0.999))
        self.key = f"throttle_{self.scope}_{client_address(request)}_{start}"

    def check(self) -> None:
        if (cache.get(self.key) or 0) >= self.limit:
            raise exceptions.Throttled(
                wait=self.wait, detail="Too many invalid API keys from this address. Try again later."
            )

    def record_failure(self) -> None:
        cache.add(self.key, 0, self.window + 1)
        try:
            cache.incr(self.key)
        except ValueError:  # expired between add and incr
            cache.set(self.key, 1, self.window + 1)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        throttle = InvalidKeyThrottle(request)
        throttle.check()
        try:
            return self._authenticate(parts)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise

    def _authenticate(self, parts):
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <API key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        pieces = key.split("_", 2)
        if len(pieces) != 3 or pieces[0] != ApiClient.KEY_PREFIX:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        # Row-Level Security: the application role reads the client with this prefix (app.api_key_prefix).
        with scopes_disabled(), row_security.bind(api_key_prefix=pieces[1]):
            client = ApiClient.objects.select_related("organization").filter(key_prefix=pieces[1]).first()
        if client is None or not hmac.compare_digest(client.key_digest, ApiClient.digest(key)):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not client.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        self._touch(client)
        return ApiClientPrincipal(client), client

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    @staticmethod
    def _touch(client: ApiClient) -> None:
        """Record last use at most once a minute: a write per request would serialize every call.

        The request runs in one transaction (accounts.api), so the request that writes holds the key's row
        until it ends, and every request of that key that read the old time meanwhile would queue behind it
        and then write and hold it in turn: the load test (benchmarks/load_test.py) saw requests wait 20 s
        there. So the row is taken only if no one holds it (SKIP LOCKED): whoever holds it is recording the
        same minute."""
        now = timezone.now()
        if client.last_used_at is not None and now - client.last_used_at < LAST_USED_RESOLUTION:
            return
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        with (
            scopes_disabled(),
            row_security.bind(organization_id=client.organization_id),
            transaction.atomic(savepoint=False),
        ):
            free = ApiClient.objects.select_for_update(skip_locked=True).filter(stale, pk=client.pk)
            if list(free.values_list("pk", flat=True)):
                ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now


class OrganizationPermission(BasePermission):
    message = "Your API client's access does not allow this."

    def has_permission(self, request, view):
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            raise exceptions.NotAuthenticated("Send an API key: 'Authorization: Bearer <API key>'.")
        if not client.organization.is_active:
            raise exceptions.PermissionDenied("This organization is suspended.")
        required = view.get_required_permission(request)
        return required is None or client.has_permission(required)


class ApiKeyThrottle(SimpleRateThrottle):
    """Per-key rate limit (API_THROTTLE_RATE, default 600/min); 429 with Retry-After."""

    scope = "api_key"

    def get_rate(self):
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        client = getattr(request, "auth", None)
        ident = client.key_prefix if isinstance(client, ApiClient) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
