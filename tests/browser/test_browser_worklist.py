"""The review worklist and notifications in Chromium: a clinician lands on the results waiting for
sign-off, highest risk first; a high-risk result that clinician A requested, completed by a real worker,
reaches clinician B's bell."""

import re
import time
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment
from medilens.testing.factories import make_member
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)
Status = Assessment.Status
# Goff 2014's panel, older, smoking and hypertensive: a PCE 10-year risk of 20% or more ("high").
HIGH_RISK_PANEL = {
    "age": 70, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 160, "bp_treated": False, "diabetic": False, "smoker": True,
}


def _patient(tenant, mrn, family, born=date(1956, 1, 1)):
    with organization_scope(tenant.organization):
        return services.create_patient(
            actor=tenant.users[Role.CLINICIAN], organization=tenant.organization, consent=True, mrn=mrn,
            given_name="Ada", family_name=family, date_of_birth=born, sex_at_birth="female",
        )


def _completed(tenant, family, risk, hours_ago):
    actor = tenant.users[Role.CLINICIAN]
    patient = _patient(tenant, f"W-{family}", family)
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=actor, organization=tenant.organization, patient=patient, modality="cvd_risk",
            inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120},
        )
        services.transition(assessment.pk, Status.RUNNING, actor=actor)
        # The result's level is the worker's to write (save_results); a transition sets only status fields.
        Assessment.objects.filter(pk=assessment.pk).update(risk_level=risk)
        services.transition(assessment.pk, Status.COMPLETED, actor=actor)
        when = timezone.now() - timedelta(hours=hours_ago)
        Assessment.objects.filter(pk=assessment.pk).update(completed_at=when, created_at=when)


@pytest.mark.browser
def test_a_clinician_lands_on_the_worklist_highest_risk_first(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    _completed(tenant, "Lowe", "low", hours_ago=40)
    _completed(tenant, "Highnew", "high", hours_ago=1)
    _completed(tenant, "Border", "borderline", hours_ago=3)
    _completed(tenant, "Highold", "high", hours_ago=20)
    _completed(tenant, "Middle", "intermediate", hours_ago=2)

    sign_in(page, tenant.users[Role.CLINICIAN].email, password)

    expect(page).to_have_url(f"{live_server.url}/assessments/review/")
    rows = page.locator("#assessment-rows tbody tr")
    expect(rows.locator("th")).to_have_text(
        [re.compile(f"^{name}, Ada") for name in ("Highold", "Highnew", "Middle", "Border", "Lowe")]
    )
    # From the full list, a filter through the form: the high-risk results only, the URL saying so.
    page.get_by_role("link", name="All assessments").click()
    page.get_by_label("Risk level").select_option("high")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"risk=high"))
    expect(rows.locator("th")).to_have_text([re.compile("^Highnew"), re.compile("^Highold")])
    # A malformed date typed into the address bar is an inline message, not an error page.
    page.goto(f"{live_server.url}/assessments/?requested_from=yesterday")
    expect(page.get_by_role("alert")).to_contain_text("Some filters could not be read")
    expect(page.get_by_role("main")).to_contain_text("Enter a valid date")
    expect(page.locator("#assessment-rows")).to_have_count(0)


def _wait_for_status(assessment_id, statuses, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with scopes_disabled():
            assessment = Assessment.objects.get(pk=assessment_id)
        if assessment.status in statuses:
            return assessment
        time.sleep(0.1)
    raise AssertionError(f"the assessment stayed {assessment.status}")


@pytest.mark.browser
@pytest.mark.worker
def test_a_high_risk_result_clinician_a_requested_reaches_clinician_bs_bell(
    page, live_server, password, sign_in, celery_worker
):
    tenant = build_tenant("clinic-a")
    requester = tenant.users[Role.CLINICIAN]
    colleague = make_member(tenant.organization, Role.CLINICIAN, email="b.clinician@clinic-a.example.org")
    colleague.set_password(password)
    colleague.save()
    patient = _patient(tenant, "N-0001", "Notified")

    sign_in(page, colleague.email, password)
    bell = page.get_by_role("banner").get_by_role("link", name=re.compile("^Notifications"))
    expect(bell).to_contain_text("0")

    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=requester, organization=tenant.organization, patient=patient, modality="cvd_risk",
            inputs=dict(HIGH_RISK_PANEL),
        )
    done = _wait_for_status(assessment.pk, {Status.COMPLETED, Status.FAILED})
    assert done.status == Status.COMPLETED and done.risk_level == "high", done.failure_reason

    # The notification is made by the worker after the result's commit: reload until the bell shows it.
    deadline = time.monotonic() + 30
    while "1" not in bell.inner_text() and time.monotonic() < deadline:
        page.reload()
    expect(bell).to_contain_text("1")
    bell.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    notification = page.locator("#notifications li").first
    expect(notification).to_contain_text("A result is high risk")
    notification.get_by_role("button", name="Open").click()
    expect(page).to_have_url(f"{live_server.url}/assessments/{assessment.pk}/")
    expect(bell).to_contain_text("0")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 1100])
def test_the_full_list_never_makes_a_laptop_page_scroll_sideways(
    page, live_server, password, sign_in, screenshot_dir, width, analysed_in_process
):
    """Real results of several modalities (score labels such as "Voice-quality findings (MediLens screening
    rule)", modality names such as "Dermatology (skin lesion)"): at a laptop's width the page never scrolls
    sideways; a table still too wide scrolls inside its own frame."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assessments import pipeline, samples

    tenant = build_tenant("clinic-a")
    patient = _patient(tenant, "NOR-100002", "Castillo-Fernández")
    with organization_scope(tenant.organization):
        for modality in ("cvd_risk", "speech", "dermatology", "cardiology"):
            sample = samples.SAMPLES.get(modality)
            files = [] if modality == "cvd_risk" else [SimpleUploadedFile(
                sample.filename, (samples.SAMPLES_DIR / sample.filename).read_bytes(),
                content_type=sample.content_type,
            )]
            assessment = services.create_assessment(
                actor=tenant.users[Role.CLINICIAN], organization=tenant.organization, patient=patient,
                modality=modality, inputs=dict(HIGH_RISK_PANEL) if modality == "cvd_risk" else dict(sample.inputs),
                files=files,
            )
            assert pipeline.run(assessment.pk) == "completed"
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, tenant.users[Role.CLINICIAN].email, password)
    page.goto(f"{live_server.url}/assessments/")
    expect(page.locator("#assessment-rows tbody tr")).to_have_count(4)
    page.screenshot(path=str(screenshot_dir / f"worklist-all-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
