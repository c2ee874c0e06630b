"""The Webhooks page in Chromium: an org admin adds an endpoint by typing, sees its secret once, and the page
keeps the CSP and fits the window (screenshot in test-results/screenshots/webhooks.png)."""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_an_org_admin_adds_an_endpoint_and_sees_its_secret_once(page, live_server, password, sign_in, screenshot_dir):
    from medilens.testing.fixtures import build_tenant

    tenant = build_tenant("clinic-a")
    sign_in(page, tenant.users["org_admin"].email, password)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")

    page.get_by_label("URL").fill("http://127.0.0.1:9/ehr-inbox")
    page.get_by_label("assessment.completed").check()
    page.get_by_label("assessment.signed_off").check()
    page.get_by_role("button", name="Add endpoint").click()

    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get(organization=tenant.organization)
    expect(page.get_by_label("Secret")).to_have_value(endpoint.secret)
    assert endpoint.events == ["assessment.completed", "assessment.signed_off"]
    expect(page.get_by_role("heading", name="http://127.0.0.1:9/ehr-inbox", exact=True)).to_be_visible()
    assert not page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    page.screenshot(path=str(screenshot_dir / "webhooks.png"), full_page=True)

    page.goto(f"{live_server.url}/webhooks/")
    expect(page.get_by_label("Secret")).to_have_count(0)  # shown once
