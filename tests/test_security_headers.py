"""Content-Security-Policy and Permissions-Policy: every response of every route (pages, fragments, the API,
errors, admin, the API docs) carries both, with a policy that allows no inline script, no eval and no
framing; no template, and no rendered page, holds what that policy would block (inline script, event
handler attributes, style attributes or elements, javascript: URLs)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.roles import Role
from accounts.tests.helpers import all_routes
from accounts.tests.tenant_routes import NOT_TENANT_OBJECTS, OBJECT_ROUTES
from medilens import api_docs

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# Non-executable data blocks (json_script, for instance) are allowed: the CSP governs scripts that run.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
POWERFUL_FEATURES_OFF = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "midi")


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(response, where: str) -> None:
    assert "Content-Security-Policy" in response, f"{where}: no Content-Security-Policy"
    policy = directives(response)
    for name in ("default-src", "script-src"):
        assert policy[name] == ["'self'"], f"{where}: {name} {policy[name]}"
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], where
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"], where
    for name, values in policy.items():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(values), f"{where}: {name} {values}"
    assert not set(policy) & {"script-src-attr", "script-src-elem"}, f"{where}: a script exception"
    features = dict(
        part.strip().split("=", 1) for part in response["Permissions-Policy"].split(",") if part.strip()
    )
    for feature in POWERFUL_FEATURES_OFF:
        assert features[feature] == "()", f"{where}: {feature}={features.get(feature)}"


# --- what the policy would block ----------------------------------------------------------------------
class _InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value or "" for name, value in attrs}
        self.found += [f"<{tag} {name}=…>" for name in names if re.fullmatch(r"on[a-z]+", name)]
        if "style" in names:
            self.found.append(f"<{tag} style=…>")
        self.found += [
            f"<{tag} {name}=javascript:…>"
            for name, value in names.items()
            if value.strip().lower().startswith("javascript:")
        ]
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script" and "src" not in names and names.get("type", "").lower() not in DATA_SCRIPT_TYPES:
            self._script = (tag, [])

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            code = "".join(self._script[1]).strip()
            if code:
                self.found.append(f"inline <script>: {code[:60]!r}")
            self._script = None


def inline_code(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found


# Django template tags inside a tag confuse an HTML parser; in templates, the same things by pattern.
_TEMPLATE_PATTERNS = {
    "inline <script>": re.compile(
        r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>\s*[^<\s]", re.I
    ),
    "<style> element": re.compile(r"<style\b", re.I),
    "on…= handler": re.compile(r"\son[a-z]+\s*=\s*[\"'{]", re.I),
    "style= attribute": re.compile(r"\sstyle\s*=\s*[\"'{]", re.I),
    "javascript: URL": re.compile(r"=\s*[\"']\s*javascript:", re.I),
}


def template_findings(text: str) -> list[str]:
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", "", text, flags=re.S)
    return [name for name, pattern in _TEMPLATE_PATTERNS.items() if pattern.search(text)]


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<script>alert(1)</script>', "inline <script>"),
        ('<input onclick="this.select()">', "on…= handler"),
        ('<div style="color: red">', "style= attribute"),
        ("<style>body { margin: 0 }</style>", "<style> element"),
        ('<a href="javascript:void(0)">', "javascript: URL"),
    ],
)
def test_the_scans_find_what_the_policy_blocks(html, found):
    assert template_findings(html) == [found]
    assert inline_code(html), html


def test_the_scans_let_through_what_the_policy_allows():
    allowed = (
        '<script src="/static/js/app.js" defer></script>'
        '<script id="protocol" type="application/json">{"a": 1}</script>'
        '<svg><rect fill="#fff" stroke-width="2"/></svg><p data-style="x">one style= in text</p>'
        "{# <style> in a comment #}"
    )
    assert template_findings(allowed) == []
    assert inline_code(allowed.replace("{# <style> in a comment #}", "")) == []


def test_no_template_holds_inline_script_handlers_or_styles():
    findings = {
        str(path.relative_to(TEMPLATES)): found
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (found := template_findings(path.read_text()))
    }
    assert findings == {}


# --- every route ----------------------------------------------------------------------------------------
def _url(route, tenant) -> str | None:
    if not route.parameters:
        return reverse(route.name)
    if route.name in OBJECT_ROUTES:
        return reverse(route.name, kwargs=OBJECT_ROUTES[route.name].make(tenant))
    assert route.name in NOT_TENANT_OBJECTS, route.name
    return None  # token links: their own tests; a made-up token below still gets a response


def _made_up_url(route) -> str:
    """A token or key route with a parameter that names nothing (text, or a number where the route wants one)."""
    try:
        return reverse(route.name, kwargs={name: "x" for name in route.parameters})
    except NoReverseMatch:
        return reverse(route.name, kwargs={name: 0 for name in route.parameters})


@pytest.mark.django_db
def test_every_route_answers_with_both_policies(tenant_a):
    portal = tenant_a.client_for(Role.ORG_ADMIN)
    api = tenant_a.api("clinician")
    checked = []
    for route in all_routes():
        url = _url(route, tenant_a)
        if url is None:
            url = _made_up_url(route)
        client = api if route.is_api else portal
        # The API's answers to other methods are issue 10's robustness work (tests of their own).
        for method in ("get",) if route.is_api else ("get", "post"):
            response = getattr(client, method)(url)
            assert_strict(response, f"{method.upper()} {url} ({response.status_code})")
            if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
                assert inline_code(response.content.decode()) == [], f"{method.upper()} {url}"
            checked.append(response.status_code)
    assert len(checked) == sum(1 if route.is_api else 2 for route in all_routes())
    assert {200, 302, 405} <= set(checked)  # pages, redirects and refusals all carry them


@pytest.mark.django_db
def test_error_pages_anonymous_pages_and_admin_carry_both_policies(tenant_a, password):
    anonymous = Client()
    for url in ("/accounts/login/", "/no/such/page/", "/api/v1/assessments/", "/healthz"):
        assert_strict(anonymous.get(url), url)
    assert_strict(tenant_a.client_for(Role.CLINICIAN).get("/audit/"), "/audit/ (403)")
    staff = Client()
    from accounts.models import User

    staff.force_login(User.objects.create_superuser("root@example.org", password, full_name="Root"))
    for url in ("/admin/", "/admin/accounts/organization/", "/admin/accounts/user/add/"):
        response = staff.get(url)
        assert response.status_code == 200
        assert_strict(response, url)


# --- the API docs ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_api_docs_need_no_inline_script_and_load_nothing_from_elsewhere():
    client = Client()
    swagger = client.get("/api/v1/docs/")
    assert inline_code(swagger.content.decode()) == []
    assert_strict(swagger, "docs")
    assert directives(swagger)["img-src"][:2] == ["'self'", "data:"]
    script = client.get("/api/v1/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    # Swagger UI would otherwise send the schema's URL to validator.swagger.io for a badge.
    assert '"validatorUrl": null' in script.content.decode()

    redoc = client.get("/api/v1/redoc/")
    body = redoc.content.decode()
    assert inline_code(body) == [] and "googleapis" not in body
    policy = directives(redoc)
    assert "'unsafe-inline'" not in policy["style-src"]
    bundle_url = re.search(r'<script src="([^"]+)"', body).group(1)
    assert bundle_url.startswith("/api/v1/redoc/?bundle=")
    bundle = client.get(bundle_url)
    assert bundle.status_code == 200 and bundle["Content-Type"].startswith("text/javascript")
    code = b"".join(bundle.streaming_content) if bundle.streaming else bundle.content
    assert b"cdn.redoc.ly" not in code and api_docs.NO_LOGO.encode() in code
    assert "immutable" in bundle["Cache-Control"]


# --- img-src follows where files are -----------------------------------------------------------------------
@pytest.mark.django_db
def test_img_src_names_the_origin_browsers_get_presigned_urls_for(s3_storage, settings):
    """Explanation images redirect to a presigned URL: img-src allows that origin and no other."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "medilens.storage.PrivateS3Storage", "OPTIONS": s3_storage},
    }
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "https://files.medilens.example.org"
    assert directives(Client().get("/accounts/login/"))["img-src"] == ["'self'", "https://files.medilens.example.org"]

    settings.AWS_S3_PUBLIC_ENDPOINT_URL = ""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    assert directives(Client().get("/accounts/login/"))["img-src"] == ["'self'"]
