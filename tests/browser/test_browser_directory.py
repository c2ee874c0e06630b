"""The reference directory in Chromium (issue 18): from the side menu to a facility found by a commune typed
without its accents, a latitude out of range told beside its field, and a medicine class by its ATC code; axe-core
checks every page visited (tests/browser/conftest.py)."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from directory.tests.search_data import load_facilities, load_medicines
from medilens.testing.fixtures import build_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_clinician_finds_a_facility_and_a_medicine_class(page, live_server, password, sign_in):
    clinic = build_tenant("clinic-a")
    load_facilities(
        {"name": "CHU de Saint-Étienne", "commune": "Saint-Étienne", "latitude": 45.421, "longitude": 4.42},
        {"name": "CH de Roanne", "commune": "Roanne", "latitude": 46.036, "longitude": 4.068},
    )
    load_medicines({"name": "TAHOR 20MG CPR", "atc5": "C10AA05"}, {"name": "ELIQUIS 5MG", "atc5": "B01AF02"})
    sign_in(page, clinic.users[Role.CLINICIAN].email, password)

    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Facilities").click()
    page.get_by_label("Name or commune").fill("saint etienne")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("rowheader"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("CHU de Saint-Étienne")

    page.get_by_label("Near (latitude,longitude)").fill("91,4.39")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("The latitude 91 is outside -90 to 90.")).to_be_visible()
    expect(page.get_by_label("Near (latitude,longitude)")).to_have_attribute("aria-invalid", "true")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Medicines").click()
    page.get_by_label("ATC class").fill("C10AA")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("rowheader")).to_have_text(["TAHOR 20MG CPR"])
