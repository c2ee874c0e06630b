"""Patient (kiosk) mode: it keeps the session on its own pages; the battery's responses become a queued
assessment that the pipeline completes; leaving needs the clinician's password (counted by django-axes); every
start and exit is audited, by the kiosk's services."""

import json

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline
from assessments.models import Assessment, BiomarkerValue
from assessments.tests.helpers_api import make_patient
from audit.models import AuditEvent
from kiosk import session as kiosk
from modalities.cognitive import synthetic
from modalities.cognitive.protocol import WORD_LISTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a, given_name="Ada", family_name="Lovelace-Marker")


def _count(model) -> int:
    with scopes_disabled():
        return model.objects.count()


def _events(tenant, action):
    return list(AuditEvent.objects.filter(organization=tenant.organization, action=action).order_by("sequence"))


# --- patient (kiosk) mode -----------------------------------------------------------------------------
@pytest.fixture
def clinician(tenant_a):
    return tenant_a.client_for(Role.CLINICIAN)


def _start(client, patient):
    response = client.post(reverse("kiosk:start", args=[patient.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("kiosk:battery")
    return client.session[kiosk.SESSION_KEY]


def _battery_responses(running: dict) -> dict:
    """What the browser posts: answers to the protocol this session presented."""
    protocol = running["protocol"]
    forward = [{"presented": s, "response": s} for s in protocol["forward"][:4]]  # lengths 3 and 4 right
    forward += [{"presented": s, "response": []} for s in protocol["forward"][4:6]]  # both of length 5 wrong
    backward = [{"presented": s, "response": s[::-1]} for s in protocol["backward"][:2]]  # length 2 right
    backward += [{"presented": s, "response": s} for s in protocol["backward"][2:4]]  # length 3 not reversed
    words = protocol["words"]
    return {
        "version": 1,
        "protocol": {"battery": "medilens-cognitive", "timing": "standard"},
        "reaction_time": {"trials": [{"foreperiod_ms": 2000, "rt_ms": rt} for rt in (310, 290, 330, 300, 320)]},
        "digit_span": {"forward": forward, "backward": backward},
        "word_recall": {"list_id": protocol["list_id"], "words": words, "immediate": words[:5],
                        "delayed": [*words[:3], "spaceship"], "delay_ms": 240_000},
    }


def _submit(client, body):
    return client.post(reverse("kiosk:submit"), json.dumps(body), content_type="application/json")


def test_starting_patient_mode_marks_the_session_and_audits_it(tenant_a, clinician, patient):
    running = _start(clinician, patient)
    assert running["patient"] == str(patient.pk) and running["started"]
    assert running["protocol"]["words"] == list(WORD_LISTS[running["protocol"]["list_id"]])
    [event] = _events(tenant_a, "kiosk.started")
    assert event.target_id == str(patient.pk) and event.actor_user == tenant_a.users[Role.CLINICIAN]


def test_in_patient_mode_every_other_portal_url_leads_back_to_the_kiosk(tenant_a, clinician, patient):
    other = make_patient(tenant_a, given_name="Other", family_name="Person")
    _start(clinician, patient)
    for url in [
        reverse("assessments:patient_list"),
        reverse("assessments:patient_detail", args=[other.pk]),
        reverse("assessments:patient_detail", args=[patient.pk]),
        reverse("portal:dashboard"),
        reverse("audit:log"),
        reverse("kiosk:start", args=[other.pk]),
        "/admin/",
        "/api/v1/patients/",
    ]:
        response = clinician.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("kiosk:battery"), url
    # Writes too: switching organization, editing a patient, starting another battery.
    for url in [reverse("accounts:switch_organization"), reverse("assessments:patient_edit", args=[other.pk]),
                reverse("kiosk:start", args=[other.pk])]:
        response = clinician.post(url, {"organization": "clinic-a", "given_name": "Changed"})
        assert response.status_code == 302 and response["Location"] == reverse("kiosk:battery"), url
    with organization_scope(tenant_a.organization):
        other.refresh_from_db()
    assert other.given_name == "Other"
    # Static files are not redirected (the kiosk page needs its script and stylesheet).
    assert clinician.get("/static/js/cognitive-battery.js").status_code != 302


def test_signed_in_pages_are_not_kept_by_the_browser(clinician, patient):
    # Otherwise Back in patient mode could show, from the cache, a page opened before the hand-over.
    for url in (reverse("assessments:patient_list"), reverse("assessments:patient_detail", args=[patient.pk])):
        assert clinician.get(url)["Cache-Control"] == "no-store"


def test_the_kiosk_page_has_no_navigation_and_no_patient_data(clinician, patient):
    _start(clinician, patient)
    response = clinician.get(reverse("kiosk:battery"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    for leaked in ("Lovelace-Marker", patient.mrn, "Sign out", 'aria-label="Main"', "Patients</a>",
                   "clinician@clinic-a"):
        assert leaked not in page
    assert 'id="battery-protocol"' in page and "cognitive-battery.js" in page


def test_the_battery_responses_become_a_queued_assessment_that_the_pipeline_completes(tenant_a, clinician, patient):
    running = _start(clinician, patient)
    response = _submit(clinician, _battery_responses(running))
    assert response.status_code == 201, response.content
    assert response.json() == {"redirect": reverse("kiosk:done")}
    with scopes_disabled():
        assessment = Assessment.objects.get(patient=patient, modality="cognitive")
    assert assessment.status == "queued" and assessment.requested_by == tenant_a.users[Role.CLINICIAN]
    assert assessment.inputs["word_recall"]["delayed"][-1] == "spaceship"  # the raw answers are the input
    assert clinician.session[kiosk.SESSION_KEY]["assessment"] == str(assessment.pk)

    # A retry of the same post (a lost connection) creates nothing new.
    again = _submit(clinician, _battery_responses(running))
    assert again.status_code == 200 and again.json() == {"redirect": reverse("kiosk:done")}
    assert _count(Assessment) == 1
    # Finished: the kiosk page now shows the thank-you page, still in patient mode.
    assert clinician.get(reverse("kiosk:battery"))["Location"] == reverse("kiosk:done")
    thanks = clinician.get(reverse("kiosk:done"))
    assert "Thank you — please hand the device back" in thanks.content.decode()
    assert clinician.get(reverse("assessments:patient_list"))["Location"] == reverse("kiosk:battery")

    with organization_scope(tenant_a.organization):
        assert pipeline.run(assessment.pk) == "completed"
        values = dict(BiomarkerValue.objects.filter(assessment=assessment).values_list("name", "value"))
    # Forward: lengths 3 and 4 right, both of 5 wrong -> 4. Backward: 2 right, 3 not reversed -> 2.
    # Delayed recall 3 of 10 words + 1 intrusion; immediate 5 of 10; RTs 290-330 -> median 310.
    assert values["digit_span_forward"] == 4
    assert values["digit_span_backward"] == 2
    assert values["delayed_recall"] == pytest.approx(30.0)
    assert values["delayed_recall_intrusions"] == 1
    assert values["immediate_recall"] == pytest.approx(50.0)
    assert values["simple_rt_median"] == pytest.approx(310.0)
    assert values["simple_rt_lapses"] == 0


def test_a_submission_that_is_not_what_the_session_presented_is_refused(clinician, patient):
    running = _start(clinician, patient)
    body = _battery_responses(running)
    body["word_recall"]["words"] = list(WORD_LISTS["C" if running["protocol"]["list_id"] != "C" else "A"])
    response = _submit(clinician, body)
    assert response.status_code == 400 and "word list does not match" in response.json()["errors"]["inputs"][0]

    body = _battery_responses(running)
    body["digit_span"]["forward"][0]["presented"] = [9, 9, 9]
    assert _submit(clinician, body).status_code == 400
    assert _count(Assessment) == 0


def test_a_malformed_submission_is_a_400_with_field_errors_and_stays_in_patient_mode(clinician, patient):
    running = _start(clinician, patient)
    body = _battery_responses(running)
    body["reaction_time"]["trials"][0]["rt_ms"] = -3
    response = _submit(clinician, body)
    assert response.status_code == 400
    assert "must be above 0" in response.json()["errors"]["inputs.reaction_time.trials[0].rt_ms"][0]
    bad_json = clinician.post(reverse("kiosk:submit"), "{not json", content_type="application/json")
    assert bad_json.status_code == 400
    assert _count(Assessment) == 0
    assert kiosk.SESSION_KEY in clinician.session


def test_submitting_without_a_running_battery_is_409(clinician, patient):
    response = _submit(clinician, synthetic.normal_case())
    assert response.status_code == 409
    assert _count(Assessment) == 0


def test_leaving_needs_the_clinicians_password_and_a_wrong_one_stays_in_patient_mode(
    tenant_a, clinician, patient, password
):
    running = _start(clinician, patient)
    _submit(clinician, _battery_responses(running))

    wrong = clinician.post(reverse("kiosk:exit"), {"password": password + "x"})
    assert wrong.status_code == 400
    assert "still in patient mode" in wrong.content.decode()
    assert clinician.get(reverse("assessments:patient_list"))["Location"] == reverse("kiosk:battery")
    # The failure went through authenticate(): django-axes counted it against the clinician's account.
    attempt = AccessAttempt.objects.get(username=tenant_a.users[Role.CLINICIAN].email)
    assert attempt.failures_since_start == 1
    empty = clinician.post(reverse("kiosk:exit"), {"password": ""})
    assert empty.status_code == 400

    right = clinician.post(reverse("kiosk:exit"), {"password": password})
    with scopes_disabled():
        assessment = Assessment.objects.get(patient=patient)
    assert right.status_code == 302
    assert right["Location"] == reverse("assessments:assessment_detail", args=[assessment.pk])
    assert kiosk.SESSION_KEY not in clinician.session
    assert clinician.get(reverse("assessments:patient_list")).status_code == 200

    outcomes = [(e.outcome, e.details.get("reason", "")) for e in _events(tenant_a, "kiosk.exited")]
    assert outcomes == [("failure", "wrong password"), ("failure", "no password"), ("success", "")]
    assert all(e.target_id == str(patient.pk) for e in _events(tenant_a, "kiosk.exited"))
    recorded = json.dumps([e.details for e in _events(tenant_a, "kiosk.exited")])
    assert password not in recorded, "the typed password must never reach the audit log"


def test_another_members_password_does_not_unlock(tenant_a, clinician, patient, password):
    _start(clinician, patient)
    # The technician's password is the same test password, but it is checked against the signed-in clinician's
    # email: only the clinician who started patient mode can leave it this way.
    technician = tenant_a.users[Role.TECHNICIAN]
    technician.set_password("a different password 123")
    technician.save()
    response = clinician.post(reverse("kiosk:exit"), {"password": "a different password 123"})
    assert response.status_code == 400
    assert kiosk.SESSION_KEY in clinician.session


def test_repeated_wrong_passwords_lock_leaving_without_showing_the_portal(settings, tenant_a, clinician, patient,
                                                                         password):
    settings.AXES_FAILURE_LIMIT = 2
    _start(clinician, patient)
    clinician.post(reverse("kiosk:exit"), {"password": "wrong one"})
    locked = clinician.post(reverse("kiosk:exit"), {"password": "wrong two"})
    assert locked.status_code == 403
    page = locked.content.decode()
    assert "locked" in page and 'aria-label="Main"' not in page
    # Locked out: even the right password is refused for now, and the session stays in patient mode.
    assert clinician.post(reverse("kiosk:exit"), {"password": password}).status_code == 403
    assert kiosk.SESSION_KEY in clinician.session
    assert [e.outcome for e in _events(tenant_a, "kiosk.exited")] == ["failure", "denied", "denied"]


def test_signing_out_ends_patient_mode_and_is_audited(tenant_a, clinician, patient):
    _start(clinician, patient)
    response = clinician.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert kiosk.SESSION_KEY not in clinician.session
    [event] = _events(tenant_a, "kiosk.exited")
    assert event.details["via"] == "sign_out" and event.target_id == str(patient.pk)


def test_no_patient_mode_without_recorded_consent_when_the_organization_requires_it(tenant_a, clinician):
    unconsented = make_patient(tenant_a, consent=False)
    assert tenant_a.organization.require_consent_for_assessment
    response = clinician.post(reverse("kiosk:start", args=[unconsented.pk]))
    assert response.status_code == 400 and "consent is not recorded" in response.content.decode()
    assert kiosk.SESSION_KEY not in clinician.session
    assert not _events(tenant_a, "kiosk.started")


def test_kiosk_pages_without_a_running_battery_say_so(clinician):
    for name in ("kiosk:battery", "kiosk:done", "kiosk:exit"):
        response = clinician.get(reverse(name))
        assert response.status_code == 200 and "No cognitive battery is running" in response.content.decode()


def test_retests_rotate_the_word_list(tenant_a, clinician, patient):
    first = _start(clinician, patient)["protocol"]["list_id"]
    with organization_scope(tenant_a.organization):
        from assessments import services

        services.create_assessment(actor="system:test", organization=tenant_a.organization, patient=patient,
                                   modality="cognitive", inputs=synthetic.normal_case())
    second_client = tenant_a.client_for(Role.CLINICIAN)
    second = _start(second_client, patient)["protocol"]["list_id"]
    assert first != second
