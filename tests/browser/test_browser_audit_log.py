"""Audit log page: filtering by action and exporting the filtered rows as CSV."""

import csv
import io
import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from accounts import services
from accounts.models import Membership
from accounts.roles import Role
from audit.models import AuditEvent
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_filter_by_action_and_export_the_filtered_rows_as_csv(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    other = build_tenant("clinic-b")
    admin, auditor = tenant.users["org_admin"], tenant.users["auditor"]
    organization = tenant.organization
    for email in ("first@example.org", "second@example.org"):
        services.invite(acting_user=admin, organization=organization, email=email, role=Role.CLINICIAN)
    with scopes_disabled():
        membership = Membership.objects.get(organization=organization, user=tenant.users["technician"])
    services.change_role(acting_user=admin, organization=organization, membership=membership, role=Role.CLINICIAN)
    # Another tenant's invitation must show up neither in the page nor in the export.
    services.invite(
        acting_user=other.users["org_admin"], organization=other.organization, email="b@example.org", role="clinician"
    )

    sign_in(page, auditor.email, password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    rows = page.get_by_role("table", name="Audit events, newest first").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("code")).to_have_text(["membership.role_changed", "invitation.sent", "invitation.sent"])

    # The action filter lists the log's own actions; a group entry takes all of its actions.
    page.get_by_label("Action").select_option(label="All invitation events")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"/audit/\?(.*&)?action=invitation(&|$)"))
    expect(page.get_by_label("Action")).to_have_value("invitation")
    expect(rows).to_have_count(2)
    expect(rows.locator("code")).to_have_text(["invitation.sent", "invitation.sent"])
    expect(rows.first).to_contain_text(admin.email)

    export = page.get_by_role("link", name="Export CSV")
    expect(export).to_have_attribute("href", re.compile(r"action=invitation"))
    with page.expect_download() as download_info:
        export.click()
    download = download_info.value

    assert re.fullmatch(r"audit-clinic-a-\d{8}-\d{6}\.csv", download.suggested_filename)
    with open(download.path(), encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(io.StringIO(handle.read())))
    assert [row["action"] for row in table] == ["invitation.sent", "invitation.sent"]
    assert {row["actor"] for row in table} == {admin.email}
    assert all(row["outcome"] == "success" for row in table)

    # The export is itself audited, with the filter it used.
    exported = AuditEvent.objects.filter(organization=organization, action="audit.exported").get()
    assert exported.actor_label == auditor.email
    assert exported.details == {"filters": {"action": "invitation"}, "rows": 2}

    # An action that matches nothing says so instead of showing an empty table.
    page.get_by_label("Action").select_option("membership.role_changed")
    page.get_by_label("Outcome").select_option("failure")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No events match these filters.")).to_be_visible()
    expect(rows).to_have_count(0)
