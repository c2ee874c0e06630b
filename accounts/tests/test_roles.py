"""Every role against every protected view: allowed or 403, as accounts.roles.PERMISSIONS says.

The expectations come from the PERMISSIONS table itself (``role_has``), and the views come from the
URLconf, so a new view or a change of the table is covered without editing this file (writes and routes
with parameters need an entry in tenant_routes.py, which the tenancy tests enforce).
"""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse
from django.views import View

from accounts.access import OrganizationMixin
from accounts.models import ApiClient
from accounts.roles import API_READ_ONLY, PERMISSIONS, Role, permissions_for, role_has

from .helpers import api_routes, portal_routes, row_counts
from .tenant_routes import OBJECT_ROUTES, WRITES, Request

PORTAL = {route.name: route for route in portal_routes()}
API = {route.name: route for route in api_routes()}

PORTAL_CASES = [
    pytest.param(name, method, role, id=f"{name}-{method}-{role}")
    for name, route in sorted(PORTAL.items())
    for method in route.methods
    for role in Role.values
]


def _api_required(route, method: str) -> str:
    return route.view_class().get_required_permission(SimpleNamespace(method=method.upper()))


API_CASES = [
    pytest.param(name, method, access, id=f"{name}-{method}-{access}")
    for name, route in sorted(API.items())
    for method in route.methods
    for access in ApiClient.Access.values
]


def _request_for(name: str, method: str, tenant):
    """URL kwargs, the Request and a state reader for one request to one route in ``tenant``."""
    spec = OBJECT_ROUTES.get(name)
    if spec is not None:
        if method not in spec.requests:
            pytest.fail(f"tenant_routes.OBJECT_ROUTES[{name!r}] has no {method.upper()} request")
        kwargs = spec.make(tenant)
        return kwargs, spec.requests[method], lambda: spec.state(kwargs)
    if method == "get":
        return {}, Request(), lambda: None
    if method not in WRITES.get(name, {}):
        pytest.fail(f"add a valid {method.upper()} request for {name!r} to tenant_routes.WRITES")
    return {}, WRITES[name][method], lambda: None


def _send(client, method, url, request, body, *, api=False):
    """``body`` is resolved before the test's snapshot: making it may itself create rows."""
    if api and method != "get":
        return getattr(client, method)(url, body, format=request.format)
    return getattr(client, method)(url, body)


# --- the views declare what they need ---------------------------------------------------------------
def test_every_portal_view_names_a_known_permission():
    assert PORTAL, "the URLconf has no OrganizationMixin view: the enumeration is broken"
    for name, route in PORTAL.items():
        assert route.view_class.required_permission in PERMISSIONS, f"{name}: {route.view_class.required_permission!r}"


def test_every_api_view_names_a_known_permission_for_each_method():
    assert API
    for name, route in API.items():
        for method in route.methods:
            assert _api_required(route, method) in PERMISSIONS, f"{name} {method}"


# Which permission the issue says each accounts page needs. (Who holds a permission is PERMISSIONS'
# business; this only pins that a page asks for the right one, which the matrix cannot see.)
ISSUE_PERMISSIONS = {
    "portal:dashboard": "dashboard.view",
    "accounts:members": "members.manage",
    "accounts:member_role": "members.manage",
    "accounts:member_remove": "members.manage",
    "accounts:invitation_revoke": "members.manage",
    "accounts:invitation_resend": "members.manage",
    "accounts:api_clients": "api_clients.manage",
    "accounts:api_client_revoke": "api_clients.manage",
    "accounts:settings": "settings.manage",
    "audit:log": "audit.view",
    "audit:export": "audit.view",
}


def test_accounts_pages_ask_for_the_permission_the_issue_names():
    for name, permission in ISSUE_PERMISSIONS.items():
        assert PORTAL[name].view_class.required_permission == permission, name


def test_no_write_is_open_to_a_read_only_role():
    """Auditors and read-only keys change nothing: every view that accepts a write needs a permission
    neither holds."""
    for name, route in PORTAL.items():
        if set(route.methods) - {"get"}:
            permission = route.view_class.required_permission
            assert not role_has(Role.AUDITOR, permission), f"{name} lets an auditor write ({permission})"
    for name, route in API.items():
        for method in set(route.methods) - {"get"}:
            permission = _api_required(route, method)
            assert not role_has(Role.AUDITOR, permission), f"{method.upper()} {name}"
            assert not role_has(API_READ_ONLY, permission), f"{method.upper()} {name}"


def test_a_view_without_a_known_permission_is_refused(tenant_a):
    class Forgetful(OrganizationMixin, View):
        def get(self, request):  # pragma: no cover - must never run
            raise AssertionError("reached the view")

    class Typo(Forgetful):
        required_permission = "members.manag"

    for view_class in (Forgetful, Typo):
        request = RequestFactory().get("/")
        request.user = tenant_a.users[Role.ORG_ADMIN]
        request.session = {}
        with pytest.raises(ImproperlyConfigured):
            view_class.as_view()(request)
    with pytest.raises(KeyError):
        role_has(Role.ORG_ADMIN, "members.manag")


def test_org_admin_holds_every_permission_and_auditor_changes_nothing():
    assert permissions_for(Role.ORG_ADMIN) == set(PERMISSIONS)
    # Read-only: every permission an auditor holds is a viewing one.
    assert permissions_for(Role.AUDITOR)
    assert all(name.split(".")[1].startswith("view") for name in permissions_for(Role.AUDITOR))
    assert "audit.view" in permissions_for(Role.AUDITOR)
    assert "assessments.view_results" not in permissions_for(Role.TECHNICIAN)
    assert permissions_for(API_READ_ONLY) <= permissions_for(Role.CLINICIAN) | permissions_for(Role.AUDITOR)
    assert permissions_for(None) == set()


# --- the matrix -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "method", "role"), PORTAL_CASES)
def test_role_matrix(name, method, role, tenant_a):
    route = PORTAL[name]
    kwargs, request, state = _request_for(name, method, tenant_a)
    body = request.body(tenant_a)
    before_state, before_counts = state(), row_counts()
    response = _send(tenant_a.client_for(role), method, reverse(name, kwargs=kwargs), request, body)
    if role_has(role, route.view_class.required_permission):
        assert response.status_code in request.allowed, f"{role} {method.upper()} {name}: {response.status_code}"
        if response.status_code == 302:
            assert not response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == 403, f"{role} {method.upper()} {name}: {response.status_code}"
        assert "have access" in response.content.decode()
        assert state() == before_state, "a refused request changed the object"
        assert row_counts() == before_counts, "a refused request changed rows"


@pytest.mark.parametrize(("name", "method", "role"), [c for c in PORTAL_CASES if c.values[2] == Role.ORG_ADMIN])
def test_anonymous_is_sent_to_login(name, method, role, tenant_a, client):
    kwargs, request, state = _request_for(name, method, tenant_a)
    body = request.body(tenant_a)
    before_state, counts = state(), row_counts()
    response = _send(client, method, reverse(name, kwargs=kwargs), request, body)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert row_counts() == counts and state() == before_state


@pytest.mark.parametrize(("name", "method", "access"), API_CASES)
def test_api_access_matrix(name, method, access, tenant_a):
    route = API[name]
    kwargs, request, state = _request_for(name, method, tenant_a)
    body = request.body(tenant_a)
    before_state, before_counts = state(), row_counts()
    response = _send(tenant_a.api(access), method, reverse(name, kwargs=kwargs), request, body, api=True)
    if tenant_a.api_clients[access].has_permission(_api_required(route, method)):
        assert response.status_code in request.allowed, (response.status_code, response.content[:500])
    else:
        assert response.status_code == 403, (response.status_code, response.content[:500])
        assert response.json()["error"]["code"] == "permission_denied"
        assert state() == before_state and row_counts() == before_counts


def test_read_only_key_is_refused_on_writes(tenant_a):
    writes = [
        (name, method)
        for name, route in API.items()
        for method in route.methods
        if not role_has(API_READ_ONLY, _api_required(route, method))
    ]
    if not writes:
        pytest.skip("no API endpoint needs a permission a read-only key lacks yet")
    for name, method in writes:
        kwargs, request, state = _request_for(name, method, tenant_a)
        body = request.body(tenant_a)
        before_state, counts = state(), row_counts()
        response = _send(tenant_a.api(API_READ_ONLY), method, reverse(name, kwargs=kwargs), request, body, api=True)
        assert response.status_code == 403, f"{method.upper()} {name}"
        assert set(response.json()["error"]) >= {"status", "code", "message"}
        assert row_counts() == counts and state() == before_state


@pytest.mark.parametrize("name", sorted(API))
def test_api_without_a_key_is_401(name, tenant_a, client):
    route = API[name]
    kwargs, _request, _state = _request_for(name, route.methods[0], tenant_a)
    response = getattr(client, route.methods[0])(reverse(name, kwargs=kwargs))
    assert response.status_code == 401
    body = response.json()
    if name.startswith("api:fhir-"):  # FHIR's error shape: an OperationOutcome
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
    else:
        assert body["error"]["status"] == 401


def test_a_role_is_per_organization(tenant_a, tenant_b):
    """The same person is org admin in A and clinician in B: B's members page is refused."""
    from medilens.testing.factories import MembershipFactory

    person = tenant_a.users[Role.ORG_ADMIN]
    MembershipFactory(organization=tenant_b.organization, user=person, role=Role.CLINICIAN)
    client = tenant_a.client_for(Role.ORG_ADMIN)
    assert client.get(reverse("accounts:members")).status_code == 200
    client.post(reverse("accounts:switch_organization"), {"organization": tenant_b.organization.slug})
    assert client.get(reverse("accounts:members")).status_code == 403
    assert client.get(reverse("portal:dashboard")).status_code == 200


def test_api_client_roles_are_clinician_or_read_only():
    assert ApiClient(access=ApiClient.Access.CLINICIAN).role == Role.CLINICIAN
    assert ApiClient(access=ApiClient.Access.READ_ONLY).role == API_READ_ONLY
    assert not role_has(API_READ_ONLY, "audit.view")
