"""The cognitive battery in Chromium, done with the keyboard alone: a clinician starts patient mode from the
patient's page, the "patient" does every task (space bar for the reaction-time task), the answers become
a queued assessment that the pipeline scores, and patient mode is left only with the clinician's password.

The battery runs with the shortened test timings (settings.COGNITIVE_BATTERY_TIMING = "fast"), so the
whole flow takes seconds.
"""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment, BiomarkerValue
from medilens.testing.fixtures import build_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("analysed_in_process")]

# Wait after the circle is visible before pressing: a press within 100 ms would be an anticipation.
REACTION_DELAY_MS = 150


def _press(page, role: str, name: str) -> None:
    """Focus a control and press Enter on it, as a keyboard user does."""
    page.get_by_role(role, name=name).press("Enter")


def _answer_digits(page, label: str, digits: list[int]) -> None:
    field = page.get_by_label(label)
    expect(field).to_be_visible()
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    page.keyboard.type("".join(map(str, digits)))
    page.keyboard.press("Enter")


def _recall(page, words: list[str]) -> None:
    field = page.get_by_label("Type every word you remember, in any order, with a space between words.")
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    page.keyboard.type(" ".join(words))
    _press(page, "button", "Done")


@pytest.mark.browser
def test_the_battery_by_keyboard_creates_the_assessment_and_only_the_password_leaves_patient_mode(
    page, live_server, password, sign_in, settings, screenshot_dir
):
    settings.COGNITIVE_BATTERY_TIMING = "fast"
    tenant = build_tenant("clinic-a")
    clinician = tenant.users["clinician"]
    with organization_scope(tenant.organization):
        patient = services.create_patient(
            actor=clinician, organization=tenant.organization, consent=True, mrn="COG-0001", given_name="Ada",
            family_name="Lovelace", date_of_birth=date(1948, 5, 2), sex_at_birth="female",
        )
        services.create_patient(
            actor=clinician, organization=tenant.organization, consent=True, mrn="COG-0002", given_name="Grace",
            family_name="Hopperfield", date_of_birth=date(1951, 3, 4), sex_at_birth="female",
        )
    sign_in(page, clinician.email, password)

    # The clinician looks at the patient list (another patient on it), then starts patient mode from the
    # patient's page.
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_text("Hopperfield")).to_be_visible()
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    _press(page, "link", "Cognitive battery")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cognitive battery")
    _press(page, "button", "Start patient mode")
    expect(page).to_have_url(re.compile(r"/cognitive/kiosk/$"))

    # Patient mode: no navigation, nothing about the patient or the clinician.
    expect(page.get_by_role("navigation")).to_have_count(0)
    body = page.locator("body")
    for hidden in ("Lovelace", "COG-0001", clinician.email, "Sign out"):
        expect(body).not_to_contain_text(hidden)
    page.screenshot(path=str(screenshot_dir / "cognitive-kiosk.png"), full_page=True)

    # Back, all the way to the patient list: every earlier page is asked for again (the portal's pages are
    # not kept by the browser) and leads back here; none is shown from the browser's cache.
    for _ in range(3):
        page.go_back()
        expect(page).to_have_url(re.compile(r"/cognitive/kiosk/$"))
        expect(body).not_to_contain_text("Hopperfield")
        expect(body).not_to_contain_text("Lovelace")
    protocol = page.evaluate("JSON.parse(document.getElementById('battery-protocol').textContent)")
    words = protocol["words"]

    _press(page, "button", "Start")
    _press(page, "button", "Show the words")
    _recall(page, words[:5])  # immediate recall: 5 of 10

    # Reaction time: press the space bar each time the circle appears.
    _press(page, "button", "Begin")
    circle = page.locator("[data-role=rt-circle]")
    for _trial in range(5):
        expect(circle).to_be_visible()
        page.wait_for_timeout(REACTION_DELAY_MS)
        page.keyboard.press("Space")
        expect(circle).to_be_hidden()

    # Digit span forward: lengths 3 and 4 right, both trials of 5 wrong (the test stops there) -> span 4.
    _press(page, "button", "Begin")
    forward = protocol["forward"]
    for sequence in forward[:4]:
        _answer_digits(page, "Type the numbers in the same order", sequence)
    for sequence in forward[4:6]:
        _answer_digits(page, "Type the numbers in the same order", sequence[::-1])

    # Backward: length 2 right, both trials of 3 typed forwards (wrong) -> span 2.
    _press(page, "button", "Begin")
    backward = protocol["backward"]
    for sequence in backward[:2]:
        _answer_digits(page, "Type the numbers in reverse order", sequence[::-1])
    for sequence in backward[2:4]:
        _answer_digits(page, "Type the numbers in reverse order", sequence)

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Earlier you saw a list of words"))
    _recall(page, [*words[:3], "spaceship"])  # delayed recall: 3 of 10 and one intrusion

    expect(page).to_have_url(re.compile(r"/cognitive/kiosk/thank-you/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you — please hand the device back")

    with scopes_disabled():
        assessment = Assessment.objects.get(patient=patient, modality="cognitive")
    assert assessment.status == "queued"
    trials = assessment.inputs["reaction_time"]["trials"]
    assert len(trials) == 5
    assert all(not t["premature"] and 100 <= t["rt_ms"] <= 5000 for t in trials), trials
    assert len(assessment.inputs["digit_span"]["forward"]) == 6
    assert len(assessment.inputs["digit_span"]["backward"]) == 4
    assert assessment.inputs["word_recall"]["delay_ms"] > 0

    # Still in patient mode: the portal's pages lead back to the kiosk (here: its thank-you page).
    page.goto(f"{live_server.url}/patients/")
    expect(page).to_have_url(re.compile(r"/cognitive/kiosk/thank-you/$"))

    # A wrong password keeps patient mode.
    _press(page, "link", "Clinician: leave patient mode")
    page.get_by_label("Your password").fill(password + "x")
    page.get_by_label("Your password").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("That password is not right")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    expect(page).to_have_url(re.compile(r"/cognitive/kiosk/thank-you/$"))

    # The clinician's password leaves it, onto the new assessment.
    _press(page, "link", "Clinician: leave patient mode")
    page.get_by_label("Your password").fill(password)
    page.get_by_label("Your password").press("Enter")
    expect(page).to_have_url(re.compile(rf"/assessments/{assessment.pk}/$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.goto(f"{live_server.url}/patients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")

    # The worker's part, in-process: the responses are scored as typed.
    with organization_scope(tenant.organization):
        assert pipeline.run(assessment.pk) == "completed"
        values = dict(BiomarkerValue.objects.filter(assessment=assessment).values_list("name", "value"))
    assert values["digit_span_forward"] == 4
    assert values["digit_span_backward"] == 2
    assert values["immediate_recall"] == pytest.approx(50.0)
    assert values["delayed_recall"] == pytest.approx(30.0)
    assert values["delayed_recall_intrusions"] == 1
    assert values["simple_rt_false_starts"] == 0
