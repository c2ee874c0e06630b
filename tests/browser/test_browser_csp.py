"""The Content-Security-Policy in Chromium: the violation capture every browser test relies on does
catch violations; the API docs (Swagger UI and Redoc, from drf-spectacular-sidecar) and the admin work
under the policy with nothing fetched from another origin; an explanation image, a presigned URL on the
object store, is allowed by img-src.
"""

import io
import time

import pytest
from django.contrib.admin import site
from django.core.files.base import ContentFile
from django.test import Client
from django_scopes import scopes_disabled
from PIL import Image
from playwright.sync_api import expect

from accounts.models import User
from assessments.models import AIExplanation, Assessment
from assessments.tests.portal import make_assessment, make_patient
from medilens import storage
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _same_origin_only(page, live_server):
    """Records every request the page makes that leaves the live server (or a data: or blob: URL)."""
    elsewhere = []
    page.on(
        "request",
        lambda request: None
        if request.url.startswith((live_server.url, "data:", "blob:"))
        else elsewhere.append(request.url),
    )
    return elsewhere


@pytest.mark.browser
def test_the_capture_reports_an_inline_script_and_style_the_policy_blocks(page, live_server, csp_violations):
    """Without this the other tests' 'no violation' would prove nothing: a page script adds an inline
    script and an inline style, the CSP blocks both, and the capture has them."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true;";
          document.body.append(script);
          const style = document.createElement("style");
          style.textContent = "body { background: red; }";
          document.head.append(style);
        }"""
    )
    wanted = {"script-src-elem", "style-src-elem"}
    deadline = time.monotonic() + 5
    while not wanted <= {v.get("directive") for v in csp_violations} and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the binding calls; polled with a deadline
    assert wanted <= {v.get("directive") for v in csp_violations}, csp_violations
    assert page.evaluate("() => window.inlineRan === undefined")
    csp_violations.clear()  # seen and checked: not a failure of this test


@pytest.mark.browser
def test_swagger_ui_and_redoc_render_with_their_own_assets_only(page, live_server):
    elsewhere = _same_origin_only(page, live_server)

    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MediLens API")
    expect(page.locator(".opblock").first).to_be_visible()

    page.goto(f"{live_server.url}/api/v1/redoc/")
    expect(page.locator("h1").first).to_contain_text("MediLens API")
    expect(page.get_by_text("Authorization", exact=False).first).to_be_attached()
    assert elsewhere == []


@pytest.mark.browser
def test_admin_pages_work_under_the_policy(page, live_server, password):
    staff = User.objects.create_superuser("platform@medilens.example.org", password, full_name="Platform Admin")
    build_tenant("clinic-a")
    client = Client()
    client.force_login(staff)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    elsewhere = _same_origin_only(page, live_server)
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tenants, users and models")
    for model in site._registry:
        meta = model._meta
        page.goto(f"{live_server.url}/admin/{meta.app_label}/{meta.model_name}/")
        expect(page.locator("#changelist, #content-main").first).to_be_visible()
    page.goto(f"{live_server.url}/admin/accounts/membership/add/")
    # The user field's autocomplete (Django admin's select2) opens and searches under the policy.
    page.locator(".select2-selection").first.click()
    page.locator(".select2-search__field").fill("clinic-a")
    expect(page.locator(".select2-results__option").first).to_contain_text("clinic-a")
    assert elsewhere == []


def _assessment_with_an_explanation_image(tenant):
    """A completed assessment (cvd_risk, analysed in this process) whose explanation has an image in the
    object store, as an imaging analyzer leaves it."""
    assessment = make_assessment(tenant, make_patient(tenant, "CSP-1"), run=True)
    assert assessment.status == Assessment.Status.COMPLETED, assessment.failure_reason
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    key = storage.object_key(tenant.organization.pk, assessment.pk, "png")
    storage.store(key, ContentFile(buffer.getvalue()))
    with scopes_disabled():
        AIExplanation.objects.filter(assessment=assessment).update(image_key=key)
    return assessment


@pytest.mark.browser
def test_an_explanation_image_from_the_object_store_is_allowed(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    assessment = _assessment_with_an_explanation_image(tenant)
    sign_in(page, tenant.users["clinician"].email, password)
    page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
    image = page.get_by_role("img", name="Explanation image", exact=False)
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith("/")  # our view, which redirects to the object store
    page.wait_for_function("(image) => image.complete && image.naturalWidth === 64", arg=image.element_handle())


@pytest.mark.browser
def test_the_new_api_key_selects_itself_on_click_without_an_inline_handler(page, live_server, password, sign_in):
    """The key field's onclick="this.select()" became static/js/select-on-focus.js: it still works."""
    tenant = build_tenant("clinic-a")
    sign_in(page, tenant.users["org_admin"].email, password)
    page.goto(f"{live_server.url}/api-clients/")
    page.get_by_label("Name").fill("Lab system")
    page.get_by_role("button", name="Create client and show its key").click()
    key = page.get_by_label("API key")
    expect(key).to_be_visible()
    page.wait_for_load_state("load")  # the field is there before its deferred script has run
    page.get_by_role("heading", level=1).click()  # focus elsewhere first: the click below is what selects
    key.click(position={"x": 5, "y": 5})
    selection = key.evaluate("(field) => [field.selectionStart, field.selectionEnd, field.value.length]")
    assert selection[0] == 0 and selection[1] == selection[2] > 20
