"""The results page and the modality chooser in Chromium: the cards lead where a modality is done (the
kiosk for the cognitive battery), and ECG, cardiovascular-risk and retinal results read at a laptop's
1366x900 and a phone's 390x844 with nothing wider than the screen, and no table past the edge of its card.
Screenshots go to test-results/screenshots/ for a person to look at."""

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from accounts.tenancy import organization_scope
from assessments import pipeline, samples, services
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PANEL = {"total_cholesterol": 213, "hdl_cholesterol": 38, "systolic_bp": 148, "egfr": 56.11, "race": "white"}


def _patient(tenant):
    with organization_scope(tenant.organization):
        return services.create_patient(
            actor=tenant.users["clinician"], organization=tenant.organization, consent=True, mrn="RS-0001",
            given_name="Nadia", family_name="Castillo", date_of_birth=date(1961, 4, 2), sex_at_birth="female",
            current_smoker=True,
        )


def _analysed(tenant, patient, modality, *, inputs=None):
    sample = samples.SAMPLES.get(modality)
    files = []
    if sample is not None:
        data = (samples.SAMPLES_DIR / sample.filename).read_bytes()
        files = [SimpleUploadedFile(sample.filename, data, content_type=sample.content_type)]
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=tenant.users["clinician"], organization=tenant.organization, patient=patient, modality=modality,
            inputs=inputs if inputs is not None else dict(sample.inputs), files=files,
        )
        assert pipeline.run(assessment.pk) == "completed"
    return assessment


def _overflow(page) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _spilling_tables(page) -> list[str]:
    """Tables drawn past the right edge of the card holding them (a wide table scrolls sideways inside its
    card instead: its wrapper clips it), by caption or first header, with how far."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.card table')].flatMap(table => {
            const card = table.closest('.card').getBoundingClientRect();
            const wrap = table.closest('.table-wrap');
            const clips = wrap && getComputedStyle(wrap).overflowX !== 'visible';
            const shown = (clips ? wrap : table).getBoundingClientRect();
            const past = Math.round(shown.right - card.right);
            const name = (table.caption || table.querySelector('th') || table).textContent.trim().slice(0, 60);
            return past > 0 ? [`${name}: ${past} px`] : [];
        })"""
    )


@pytest.mark.browser
def test_results_pages_fit_a_laptop_and_a_phone(
    browser, live_server, password, sign_in, screenshot_dir, analysed_in_process
):
    tenant = build_tenant("clinic-a")
    patient = _patient(tenant)
    results = {
        "ecg": _analysed(tenant, patient, "cardiology"),
        "cvd-risk": _analysed(tenant, patient, "cvd_risk", inputs=PANEL),
        "retinal": _analysed(tenant, patient, "retinal"),
    }
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport, locale="en-GB")
        page = context.new_page()
        sign_in(page, tenant.users["clinician"].email, password)
        for name, assessment in results.items():
            page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
            expect(page.get_by_role("heading", name="Summary", exact=True)).to_be_visible()
            page.screenshot(path=str(screenshot_dir / f"results-{name}-{size}.png"), full_page=True)
            assert _overflow(page) <= 0, f"{name} at {size} is {_overflow(page)} px wider than the window"
            assert _spilling_tables(page) == [], f"{name} at {size}: tables past their card's edge"
        context.close()


@pytest.mark.browser
def test_the_cards_lead_to_the_form_and_the_cognitive_card_to_the_kiosk(page, live_server, password, sign_in,
                                                                        screenshot_dir):
    tenant = build_tenant("clinic-a")
    patient = _patient(tenant)
    sign_in(page, tenant.users["clinician"].email, password)
    page.goto(f"{live_server.url}/patients/{patient.pk}/assessments/new/")
    cards = page.locator(".modality-card")
    expect(cards.first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "modality-cards.png"), full_page=True)
    assert _overflow(page) <= 0

    ecg = cards.filter(has_text="ECG (cardiology)")
    sample = ecg.get_by_role("link", name=samples.SAMPLES["cardiology"].filename)
    with page.expect_download() as downloading:
        sample.click()
    assert downloading.value.suggested_filename == samples.SAMPLES["cardiology"].filename

    ecg.get_by_role("link", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New ECG assessment")
    page.go_back()

    page.locator(".modality-card").filter(has_text="Cognitive battery").get_by_role(
        "link", name=re.compile("Start in patient mode")
    ).click()
    expect(page).to_have_url(re.compile(rf"/cognitive/patients/{patient.pk}/start/$"))
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/patients/{patient.pk}/assessments/new/")
    page.screenshot(path=str(screenshot_dir / "modality-cards-phone.png"), full_page=True)
    assert _overflow(page) <= 0

    # A patient whose record rules the risk equations out is told so on the form, before anything is sent.
    with organization_scope(tenant.organization):
        services.update_patient(actor=tenant.users["clinician"], patient=patient, prior_cardiovascular_disease=True)
    page.set_viewport_size(VIEWPORTS["laptop"])
    page.goto(f"{live_server.url}/patients/{patient.pk}/assessments/new/?modality=cvd_risk")
    expect(page.locator("#record-refusal")).to_contain_text("established cardiovascular disease")
    page.screenshot(path=str(screenshot_dir / "cvd-form-record-refusal.png"), full_page=True)
