"""The API's front door for a partner's developer: /api/v1/ answers with links, every documented operation
says what it does in words meant for them (never an internal docstring), and the docs pages load nothing
from another origin."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from medilens.api_descriptions import OPERATION_DESCRIPTIONS

# Phrases of MediLens's own docstrings and code that must never reach the public documentation.
INTERNAL = re.compile(
    r"Base of every|TenantAPIView|required_permission|``|self\.|selectors?\b|services?\.py|scope for the whole",
    re.IGNORECASE,
)


def _operations():
    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    return [(method, path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_every_operation_has_a_description_for_partners_and_none_leaks_internal_text():
    operations = _operations()
    assert len(operations) >= 16
    for method, path, operation in operations:
        description = operation.get("description", "")
        where = f"{method.upper()} {path} ({operation['operationId']})"
        assert len(description) >= 20, f"{where} has no description: add it to medilens/api_descriptions.py"
        assert not INTERNAL.search(description), f"{where} shows internal text: {description[:120]!r}"


def test_the_create_assessment_operation_says_how_to_use_it():
    [create] = [op for method, path, op in _operations() if op["operationId"] == "assessments_create"]
    assert create["description"] == OPERATION_DESCRIPTIONS["assessments_create"]
    assert "Idempotency-Key" in create["description"] and "Base of every" not in create["description"]


def test_the_description_table_names_only_existing_operations():
    ids = {op["operationId"] for _m, _p, op in _operations()}
    assert set(OPERATION_DESCRIPTIONS) <= ids


@pytest.mark.django_db
def test_the_api_root_answers_json_with_links_to_resources_and_docs():
    response = Client().get("/api/v1/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    host = "http://testserver"
    assert body["resources"] == {
        "organization": host + reverse("api:organization"),
        "patients": host + reverse("api:patient-list"),
        "assessments": host + reverse("api:assessment-list"),
        "webhooks": host + reverse("api:webhook-list"),
        "fhir": host + reverse("api:fhir-metadata"),
        "directory_facilities": host + reverse("api:directory-facility-list"),
        "directory_medicines": host + reverse("api:directory-medicine-list"),
    }
    assert body["documentation"] == {
        "schema": host + reverse("api:schema"),
        "docs": host + reverse("api:docs"),
        "redoc": host + reverse("api:redoc"),
    }
    # Every link answers (the resources ask for a key: 401 without one, never a 404).
    client = Client()
    for url in body["documentation"].values():
        assert client.get(url).status_code == 200, url
    for url in body["resources"].values():
        assert client.get(url).status_code in (401, 403), url


@pytest.mark.django_db
def test_the_api_root_holds_no_tenant_data_and_refuses_writes():
    client = Client()
    assert client.post("/api/v1/", {}).status_code == 405
    assert "organization_id" not in client.get("/api/v1/").content.decode()


# Any URL of another origin in src/href/url(...) or a fetch of an absolute URL.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api:docs", "api:redoc"])
def test_the_docs_pages_reference_no_other_origin(name):
    client = Client()
    body = client.get(reverse(name)).content.decode()
    assert not EXTERNAL.findall(body), f"{name} references another origin"
    # The page's own assets, each fetched: none of them loads anything from another origin either.
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", body)
    assert assets
    for asset in assets:
        if asset.startswith(settings.STATIC_URL):
            # Static files (served by WhiteNoise, not by the test client): shipped in the checkout or a package.
            path = finders.find(asset[len(settings.STATIC_URL):].split("?")[0])
            assert path, f"{asset} is not a static file of this site"
            content = Path(path).read_bytes() if asset.endswith((".css", ".js")) else b""
        else:
            response = client.get(asset)
            assert response.status_code == 200, asset
            content = b"".join(response.streaming_content) if response.streaming else response.content
        if asset.endswith(".css"):
            assert not EXTERNAL.findall(content.decode()), f"{asset} references another origin"
