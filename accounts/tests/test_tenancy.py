"""Tenancy fails closed: another organization's object is a 404 on every route that takes one, never
shows up in a list, count or export, and a query outside an organization scope raises."""

import pytest
from django.urls import reverse
from django_scopes import ScopeError, scopes_disabled

from accounts import services
from accounts.models import ApiClient, Invitation, Membership, Organization
from accounts.roles import Role, role_has
from accounts.tenancy import TenantScopeMissing, organization_scope
from assessments import services as assessment_services
from medilens.testing.factories import make_member
from webhooks import services as webhook_services

from .helpers import all_routes, api_routes, page_text, portal_routes, row_counts, tenant_models
from .tenant_routes import (
    NOT_TENANT_OBJECTS,
    OBJECT_ROUTES,
    PUBLIC_ROUTES,
    WEBHOOK_URL,
    make_assessment,
    make_patient,
)

ROUTES = {route.name: route for route in all_routes()}


# --- the tables cover the URLconf -----------------------------------------------------------------------
def test_every_route_with_a_parameter_is_in_the_isolation_table():
    unlisted = [
        f"{route.route} ({route.name})"
        for route in all_routes()
        if route.parameters and route.name not in OBJECT_ROUTES and route.name not in NOT_TENANT_OBJECTS
    ]
    assert not unlisted, (
        "These routes take a path parameter but are not in accounts/tests/tenant_routes.py: add each to "
        f"OBJECT_ROUTES so its two-tenant isolation test runs: {unlisted}"
    )


def test_the_isolation_table_names_only_existing_routes_with_parameters():
    for name in [*OBJECT_ROUTES, *NOT_TENANT_OBJECTS]:
        assert name in ROUTES, f"{name} is in the table but not in the URLconf"
        assert ROUTES[name].parameters, f"{name} takes no parameter"


def test_every_route_is_behind_the_tenancy_guard_or_declared_public():
    unguarded = [
        f"{route.route} ({route.name})"
        for route in all_routes()
        if not (route.is_portal or route.is_api) and route.name not in PUBLIC_ROUTES
    ]
    assert not unguarded, (
        "Routes that are neither OrganizationMixin views nor TenantAPIViews must be listed in PUBLIC_ROUTES "
        f"with a reason: {unguarded}"
    )
    for name in PUBLIC_ROUTES:
        assert name in ROUTES, f"{name} is declared public but not in the URLconf"
        assert not (ROUTES[name].is_portal or ROUTES[name].is_api), f"{name} is guarded: remove it from PUBLIC_ROUTES"


def test_the_urlconf_has_the_routes_this_suite_was_written_for():
    # A guard against the enumeration silently finding nothing (e.g. a refactor of the URLconf).
    portal = {r.name for r in portal_routes()}
    assert {
        "portal:dashboard", "accounts:members", "accounts:member_role", "accounts:member_remove",
        "accounts:invitation_revoke", "accounts:api_clients", "accounts:api_client_revoke", "accounts:settings",
        "audit:log", "audit:export",
    } <= portal
    assert "api:organization" in {r.name for r in api_routes()}


# --- another tenant's object is a 404 ------------------------------------------------------------------
def _actor(tenant, route):
    if route.is_api:
        with scopes_disabled():  # webhook routes need the grant an org admin gives (webhooks.manage)
            ApiClient.objects.filter(pk=tenant.api_clients[ApiClient.Access.CLINICIAN].pk).update(
                may_manage_webhooks=True
            )
        return tenant.api(ApiClient.Access.CLINICIAN)
    permission = route.view_class.required_permission
    role = next(r for r in Role.values if role_has(r, permission))
    return tenant.client_for(role)


def send(client, method, url, request, body, route):
    """One request of the table, as the route's kind of client sends it."""
    if route.is_api and method != "get":
        return getattr(client, method)(url, body, format=request.format)
    return getattr(client, method)(url, body)


@pytest.mark.parametrize("name", sorted(OBJECT_ROUTES))
def test_another_organizations_object_is_404_and_unchanged(name, tenant_a, tenant_b):
    route, spec = ROUTES[name], OBJECT_ROUTES[name]
    theirs = spec.make(tenant_b)
    ours = spec.make(tenant_a)
    for method, request in spec.requests.items():
        actor, body = _actor(tenant_a, route), request.body(tenant_a)
        state, counts = spec.state(theirs), row_counts()
        response = send(actor, method, reverse(name, kwargs=theirs), request, body, route)
        assert response.status_code == 404, f"{method.upper()} {name} on B's object: {response.status_code}"
        assert spec.state(theirs) == state, "B's object changed"
        assert row_counts() == counts
        text = response.content.decode()
        for value in map(str, theirs.values()):
            assert (value if len(value) > 8 else f"/{value}/") not in text, "the 404 echoes B's identifier"

    # Control: the same requests on A's own object are let through, so the 404 above is the tenancy guard.
    for method, request in spec.requests.items():
        body = request.body(tenant_a)
        response = send(_actor(tenant_a, route), method, reverse(name, kwargs=ours), request, body, route)
        assert response.status_code in request.allowed, f"{method.upper()} {name} on A's own object: {response}"


def test_a_missing_object_and_another_tenants_object_get_the_same_answer(tenant_a, tenant_b):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    theirs = OBJECT_ROUTES["accounts:member_remove"].make(tenant_b)["pk"]
    with scopes_disabled():
        missing = max(Membership.objects.values_list("pk", flat=True)) + 1000
    answers = []
    for pk in (theirs, missing):
        response = admin.post(reverse("accounts:member_remove", kwargs={"pk": pk}))
        assert response.status_code == 404
        answers.append(page_text(response))
    assert "Page not found" in answers[0]
    assert answers[0] == answers[1]


# --- lists, counts and exports never show another tenant ----------------------------------------------
def _activity(tenant, marker: str) -> dict:
    """Audited activity in a tenant, every piece carrying ``marker``: an invitation, an API client, a role
    change, a patient with an assessment and a comment. Returns what a page of that tenant should show."""
    admin = tenant.users[Role.ORG_ADMIN]
    services.invite(
        acting_user=admin,
        organization=tenant.organization,
        email=f"{marker}@{tenant.organization.slug}.example.org",
        role=Role.CLINICIAN,
    )
    client, _key = services.create_api_client(
        acting_user=admin, organization=tenant.organization, name=f"{marker} system", access="read_only"
    )
    with scopes_disabled():
        membership = Membership.objects.get(organization=tenant.organization, user=tenant.users[Role.TECHNICIAN])
    services.change_role(acting_user=admin, organization=tenant.organization, membership=membership, role=Role.AUDITOR)
    patient = make_patient(tenant, mrn=f"{marker}-mrn", given_name="Pat", family_name=f"{marker}-family")
    assessment = make_assessment(tenant, patient)
    with organization_scope(tenant.organization):
        assessment_services.post_discussion_message(actor=admin, assessment=assessment, body=f"{marker} comment")
        webhook_services.create_endpoint(
            actor=admin, organization=tenant.organization, url=WEBHOOK_URL, events=["assessment.completed"],
            description=f"{marker} endpoint",
        )
    return {"client": client, "patient": patient, "assessment": assessment}


def _b_markers(tenant_b, activity) -> list[str]:
    markers = ["clinic-b", "clinic b", tenant_b.organization.name.lower(), "b-marker"]
    markers += [client.key_prefix for client in tenant_b.api_clients.values()]
    markers += [activity["client"].key_prefix, str(activity["patient"].pk), str(activity["assessment"].pk)]
    return markers


def _expected_a(name, activity) -> list[str]:
    """What A's own pages must show (controls: an empty page cannot pass the isolation check)."""
    return {
        "portal:dashboard": ["clinic a"],
        "accounts:members": ["clinician@clinic-a.example.org", "a-marker@clinic-a.example.org"],
        "accounts:api_clients": [activity["client"].key_prefix, "a-marker system"],
        "audit:log": ["org_admin@clinic-a.example.org", "membership.role_changed"],
        "audit:export": ["org_admin@clinic-a.example.org", "api_client.created", activity["client"].key_prefix],
        "assessments:patient_list": ["a-marker-mrn", "a-marker-family"],
        "api:organization": ["clinic-a"],
        "api:patient-list": ["a-marker-mrn", str(activity["patient"].pk)],
        "api:assessment-list": [str(activity["assessment"].pk)],
        "api:webhook-list": ["a-marker endpoint"],
        "webhooks:endpoints": ["a-marker endpoint"],
    }.get(name, [])


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode().lower()


LIST_ROUTES = sorted(r.name for r in portal_routes() if not r.parameters and "get" in r.methods)
API_LIST_ROUTES = sorted(r.name for r in api_routes() if not r.parameters and "get" in r.methods)


@pytest.mark.parametrize("name", LIST_ROUTES)
def test_portal_pages_never_show_another_organization(name, tenant_a, tenant_b):
    b_activity = _activity(tenant_b, "b-marker")
    for n in range(3):  # B has more members than A, so a leaked count would differ
        make_member(tenant_b.organization, Role.CLINICIAN, email=f"more{n}@clinic-b.example.org")
    a_activity = _activity(tenant_a, "a-marker")

    response = tenant_a.client_for(Role.ORG_ADMIN).get(reverse(name))
    assert response.status_code == 200
    body = _body(response)
    for marker in _b_markers(tenant_b, b_activity):
        assert marker.lower() not in body, f"{name} shows {marker!r} of organization B"
    for marker in _expected_a(name, a_activity):
        assert marker.lower() in body, f"{name} does not show A's {marker!r}"


@pytest.mark.parametrize("name", API_LIST_ROUTES)
def test_api_reads_never_show_another_organization(name, tenant_a, tenant_b):
    b_activity = _activity(tenant_b, "b-marker")
    a_activity = _activity(tenant_a, "a-marker")
    response = _actor(tenant_a, ROUTES[name]).get(reverse(name))
    assert response.status_code == 200
    body = _body(response)
    for marker in _b_markers(tenant_b, b_activity):
        assert marker.lower() not in body, f"{name} shows {marker!r} of organization B"
    for marker in _expected_a(name, a_activity):
        assert marker.lower() in body, f"{name} does not show A's {marker!r}"


def test_dashboard_counts_only_the_active_organization(tenant_a, tenant_b):
    for n in range(3):
        make_member(tenant_b.organization, Role.CLINICIAN, email=f"more{n}@clinic-b.example.org")
    _activity(tenant_b, "b-marker")
    response = tenant_a.client_for(Role.ORG_ADMIN).get(reverse("portal:dashboard"))
    assert response.context["member_count"] == len(tenant_a.users) == 4
    assert response.context["api_client_count"] == len(tenant_a.api_clients)
    assert {e.organization_id for e in response.context["recent_events"]} <= {tenant_a.organization.pk}


def test_audit_filters_cannot_reach_another_organization(tenant_a, tenant_b):
    _activity(tenant_b, "b-marker")
    auditor = tenant_a.client_for(Role.AUDITOR)
    response = auditor.get(reverse("audit:log"), {"actor": "org_admin@clinic-b.example.org"})
    assert response.status_code == 200
    assert list(response.context["page_obj"].object_list) == []
    response = auditor.get(reverse("audit:export"), {"action": "api_client"})
    rows = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(rows) == 1, "only the header: B's api_client events are not A's"


def test_api_key_acts_for_its_own_organization_only(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        for access in ApiClient.Access.values:
            data = tenant.api(access).get(reverse("api:organization")).json()
            assert data["organization"]["slug"] == tenant.organization.slug
            assert data["client"]["key_prefix"] == tenant.api_clients[access].key_prefix


# --- the guard itself -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        lambda: list(Membership.objects.all()),
        lambda: ApiClient.objects.count(),
        lambda: Invitation.objects.filter(email="x@example.org").exists(),
        lambda: Membership.objects.get(pk=1),
        lambda: ApiClient.objects.first(),
    ],
    ids=["membership-all", "apiclient-count", "invitation-filter", "membership-get", "apiclient-first"],
)
def test_an_unscoped_query_of_a_tenant_model_raises(query):
    with pytest.raises(ScopeError):
        query()


@pytest.mark.django_db
def test_every_tenant_model_refuses_unscoped_queries():
    models = tenant_models()
    assert {Membership, Invitation, ApiClient} <= set(models)
    for model in models:
        with pytest.raises(ScopeError):
            model._default_manager.count()
        with pytest.raises(ScopeError):
            list(model._default_manager.all())


@pytest.mark.django_db
def test_organization_scope_refuses_a_missing_organization():
    with pytest.raises(TenantScopeMissing):
        with organization_scope(None):
            pass
    with pytest.raises(TenantScopeMissing):
        with organization_scope(Organization(name="Unsaved", slug="unsaved")):
            pass


def test_organization_scope_shows_only_that_organization(tenant_a, tenant_b):
    with scopes_disabled():
        theirs = Membership.objects.filter(organization=tenant_b.organization).first()
    with organization_scope(tenant_a.organization):
        assert Membership.objects.count() == len(tenant_a.users)
        assert set(Membership.objects.values_list("organization_id", flat=True)) == {tenant_a.organization.pk}
        assert set(ApiClient.objects.values_list("pk", flat=True)) == {c.pk for c in tenant_a.api_clients.values()}
        with pytest.raises(Membership.DoesNotExist):
            Membership.objects.get(pk=theirs.pk)
    # Leaving the scope closes it again.
    with pytest.raises(ScopeError):
        Membership.objects.count()
