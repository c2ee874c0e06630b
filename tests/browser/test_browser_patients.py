"""Finding the right patient and reading their page in Chromium (issue 14, items 4, 5 and 11): search by the
name as the list displays it and by a date of birth typed day first, a malformed date told beside the box,
and the patient page and timeline on a phone (390x844) with no horizontal overflow and chart text of at
least 11 CSS px."""

from datetime import date

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from assessments.tests.portal import make_assessment, make_patient
from medilens.testing.fixtures import build_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"
# The smallest text of the visible trend chart, in CSS pixels: its font size in SVG units times the scale
# at which the SVG is drawn.
SMALLEST_CHART_TEXT = """() => {
  const svg = [...document.querySelectorAll("svg.trend-chart")].find((s) => s.getBoundingClientRect().width > 0);
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const sizes = [...svg.querySelectorAll("text")].map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
  return {layout: svg.getAttribute("class"), smallest: Math.min(...sizes), count: sizes.length};
}"""


def _rows(page):
    return page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("rowheader"))


def test_search_by_family_given_and_by_date_of_birth(page, live_server, password, sign_in):
    clinic = build_tenant("clinic-a")
    for mrn, born in [("CHN-101", date(1950, 2, 3)), ("CHN-202", date(1971, 11, 30)), ("CHX-303", date(1988, 7, 4))]:
        make_patient(clinic, mrn, given_name="Daniel", family_name="Chen", date_of_birth=born)
    make_patient(clinic, "OTH-1", given_name="Nadia", family_name="Castillo", date_of_birth=date(1971, 11, 30))
    sign_in(page, clinic.users[Role.TECHNICIAN].email, password)

    page.goto(f"{live_server.url}/patients/")
    expect(_rows(page)).to_have_count(4)
    search = page.get_by_label("Name, MRN or date of birth")

    search.fill("Chen, Daniel")
    search.press("Enter")
    expect(_rows(page)).to_have_count(3)
    expect(_rows(page).get_by_role("rowheader")).to_have_text(["Chen, Daniel"] * 3)
    # The date of birth tells the three apart.
    expect(_rows(page).get_by_role("cell").filter(has_text="1971")).to_have_text(["30 Nov 1971 (55)"])

    search.fill("30/11/1971")
    search.press("Enter")
    expect(_rows(page).get_by_role("rowheader")).to_have_text(["Castillo, Nadia", "Chen, Daniel"])
    search.fill("Daniel Chen 30/11/1971")
    search.press("Enter")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).get_by_role("cell").first).to_contain_text("30 Nov 1971")

    search.fill("31/02/1971")
    search.press("Enter")
    message = "“31/02/1971” is not a date: write a date of birth as YYYY-MM-DD or DD/MM/YYYY."
    expect(page.get_by_text(message)).to_be_visible()
    expect(search).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("table")).to_have_count(0)


def test_the_patient_page_and_timeline_fit_a_phone(browser, live_server, password, sign_in):
    clinic = build_tenant("clinic-a")
    patient = make_patient(clinic, "PHONE-000123456", given_name="Maximiliane", family_name="Oppenheimer-Castellanos")
    make_assessment(clinic, patient, inputs={"total_cholesterol": 240, "hdl_cholesterol": 40, "systolic_bp": 150},
                    run=True)  # fmt: skip
    make_assessment(clinic, patient, run=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, clinic.users[Role.CLINICIAN].email, password)
        page.goto(f"{live_server.url}/patients/{patient.pk}/?biomarker=pce_ascvd_10y&biomarker=systolic_bp"
                  "&biomarker=total_cholesterol")  # fmt: skip
        expect(page.get_by_role("heading", level=1)).to_have_text("Maximiliane Oppenheimer-Castellanos")
        expect(page.get_by_role("group", name="10-year ASCVD risk (PCE), Systolic blood pressure, Total cholesterol "
                                "over time")).to_be_visible()  # fmt: skip
        assert page.evaluate(NO_OVERFLOW), page.evaluate("() => document.documentElement.scrollWidth")
        chart = page.evaluate(SMALLEST_CHART_TEXT)
        assert "trend-chart-narrow" in chart["layout"] and chart["count"] > 10
        assert chart["smallest"] >= 11, chart

        page.get_by_role("link", name="Timeline").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Timeline of Maximiliane Oppenheimer-Castellanos")
        expect(page.locator("ol.timeline > li")).to_have_count(2 + 2 * 2)
        assert page.evaluate(NO_OVERFLOW), page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        context.close()


def test_the_wide_chart_is_drawn_on_a_desktop(page, live_server, password, sign_in):
    clinic = build_tenant("clinic-a")
    patient = make_patient(clinic, "DESK-1")
    make_assessment(clinic, patient, run=True)
    sign_in(page, clinic.users[Role.CLINICIAN].email, password)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.locator("svg.trend-chart-wide")).to_be_visible()
    expect(page.locator("svg.trend-chart-narrow")).to_be_hidden()
    chart = page.evaluate(SMALLEST_CHART_TEXT)
    assert "trend-chart-wide" in chart["layout"] and chart["smallest"] >= 11, chart
