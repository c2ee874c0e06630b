"""The new-assessment form, the assessment page with its live progress, results, sign-off, cancel and
retry, and the discussion."""

import re

import pytest

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments.models import Assessment, DiscussionMessage, PipelineStage

from .portal import (
    NothingStored,
    events,
    form_data,
    make_assessment,
    make_failed_assessment,
    make_patient,
    pdf_bytes,
    text,
    upload,
)

pytestmark = pytest.mark.django_db


def _new_url(patient, modality="cvd_risk"):
    return f"/patients/{patient.pk}/assessments/new/" + (f"?modality={modality}" if modality else "")


def _field_errors(response, name: str) -> str:
    match = re.search(rf'id="id_inputs-{name}_error">(.*?)</div>', response.content.decode(), flags=re.S)
    return text_of(match.group(1)) if match else ""


def text_of(fragment: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# --- the form ----------------------------------------------------------------------------------------
def test_the_form_is_prefilled_from_the_patients_record_with_units(tenant_a):
    patient = make_patient(tenant_a, "N-1", treated_hypertension=True, current_smoker=False)
    response = tenant_a.client_for(Role.TECHNICIAN).get(_new_url(patient))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'name="inputs-age" value="{patient.age}"' in body
    assert re.search(r'<option value="female" selected>Female</option>', body)
    # History answers are yes / no selects, prefilled from the record.
    def chosen(name):
        return re.findall(r'<option value="([^"]*)" selected>', re.search(rf'<select name="{name}".*?</select>', body,
                                                                          re.S).group(0))

    assert chosen("inputs-bp_treated") == ["True"] and chosen("inputs-smoker") == ["False"]
    assert 'name="inputs-bmi" value="25.0"' in body  # 68 kg, 1.65 m
    assert '<input type="hidden" name="modality" value="cvd_risk">' in body
    page = text(response)
    for label in ("Systolic blood pressure (mmHg)", "eGFR (mL/min/1.73m2)", "Cholesterol unit", "mmol/L"):
        assert label in page
    assert 'name="attachments"' in body and "multiple" in body and 'enctype="multipart/form-data"' in body
    assert 'name="files"' not in body  # cvd_risk takes no input files
    assert "data-upload-progress" in body and "js/upload-progress.js" in body
    assert f'hx-post="/patients/{patient.pk}/assessments/new/?modality=cvd_risk"' in body


def test_a_valid_form_queues_the_assessment_with_its_stages(tenant_a):
    patient = make_patient(tenant_a, "N-2")
    client = tenant_a.client_for(Role.TECHNICIAN)
    response = client.post(_new_url(patient), form_data(**{"inputs-bp_treated": "on"}))
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        assessment = Assessment.objects.get(patient=patient)
        stages = list(PipelineStage.objects.filter(assessment=assessment).values_list("name", "status"))
    assert response["Location"] == f"/assessments/{assessment.pk}/"
    assert assessment.status == "queued" and assessment.requested_by == tenant_a.users[Role.TECHNICIAN]
    assert stages == [("validate", "pending"), ("equations", "pending"), ("explain", "pending")]
    assert assessment.inputs["total_cholesterol"] == 213 and assessment.inputs["bp_treated"] is True
    assert events(tenant_a.organization, "assessment.created", assessment).count() == 1
    assert "assessment queued." in text(client.get(response["Location"]))  # no PHI in flash messages


def test_htmx_gets_the_next_page_as_hx_redirect_instead_of_a_302(tenant_a):
    patient = make_patient(tenant_a, "N-3")
    response = tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), form_data(), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""
    with organization_scope(tenant_a.organization):
        assessment = Assessment.objects.get(patient=patient)
    assert response["HX-Redirect"] == f"/assessments/{assessment.pk}/"


def test_answering_no_overrides_the_record_and_mmol_are_converted(tenant_a):
    patient = make_patient(tenant_a, "N-4", current_smoker=True, has_diabetes=True)
    data = form_data(**{"inputs-cholesterol_unit": "mmol/L", "inputs-total_cholesterol": "5.5",
                        "inputs-hdl_cholesterol": "1.3", "inputs-smoker": "False", "inputs-diabetic": "False"})
    assert tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), data).status_code == 302
    with organization_scope(tenant_a.organization):
        inputs = Assessment.objects.get(patient=patient).inputs
    assert inputs["smoker"] is False and inputs["diabetic"] is False
    assert inputs["total_cholesterol"] == pytest.approx(212.7, abs=0.2) and inputs["cholesterol_unit"] == "mg/dL"


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"inputs-hdl_cholesterol": ""}, "hdl_cholesterol", "This field is required."),
        ({"inputs-hdl_cholesterol": "250"}, "hdl_cholesterol",
         "HDL cholesterol must be lower than total cholesterol."),
        ({"inputs-systolic_bp": "900"}, "systolic_bp", "900 is not a plausible value"),
        ({"inputs-systolic_bp": "high"}, "systolic_bp", "Enter a number."),
        ({"inputs-age": "-3"}, "age", "-3 is not a plausible value"),
        ({"inputs-sex": "unknown"}, "sex", "Select a valid choice."),
    ],
)
def test_bad_risk_factors_are_a_400_on_their_field_and_nothing_is_stored(tenant_a, s3_server, s3_bucket, change,
                                                                         field, message):
    patient = make_patient(tenant_a, "B-1")
    data = {**form_data(**change), "attachments": upload("lab.pdf", pdf_bytes(), "application/pdf")}
    with NothingStored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), data)
    assert response.status_code == 400
    errors = _field_errors(response, field)
    assert message in errors
    assert errors.count(message) == 1  # said once, though the form and the service both check it
    page = text(response)
    assert "The assessment was not created." in page
    assert "Files are never kept from a refused request: choose them again." in page
    # What was typed stays in the form.
    assert 'name="inputs-total_cholesterol" value="213"' in response.content.decode()


def test_an_unknown_modality_is_a_400_and_nothing_is_stored(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "B-2")
    client = tenant_a.client_for(Role.CLINICIAN)
    with NothingStored(s3_server, s3_bucket):
        response = client.post(_new_url(patient, "bogus"), {**form_data(), "modality": "bogus"})
    assert response.status_code == 400
    page = text(response)
    assert "'bogus' is not a modality. Choose one of: " in page
    listed = page.split("Choose one of: ", 1)[1].split(".", 1)[0].split(", ")
    assert {"cardiology", "cvd_risk", "dermatology", "radiology", "retinal", "speech", "cognitive"} <= set(listed)
    shown = client.get(_new_url(patient, "bogus"))
    assert shown.status_code == 400 and "'bogus' is not a modality" in text(shown)


def test_missing_consent_is_refused_with_a_link_to_record_it(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "B-3", consent=False)
    client = tenant_a.client_for(Role.CLINICIAN)
    warning = client.get(_new_url(patient))
    assert "consent is not recorded" in text(warning)
    data = {**form_data(), "attachments": upload("lab.pdf", pdf_bytes(), "application/pdf")}
    with NothingStored(s3_server, s3_bucket):
        response = client.post(_new_url(patient), data)
    assert response.status_code == 400
    body = response.content.decode()
    summary = body.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "consent is not recorded; record it before requesting an assessment" in text_of(summary)
    assert f'href="/patients/{patient.pk}/#consent"' in summary
    # Once consent is recorded the same request goes through.
    client.post(f"/patients/{patient.pk}/consent/")
    assert client.post(_new_url(patient), form_data()).status_code == 302


def test_an_organization_that_does_not_require_consent_accepts_without_it(tenant_a):
    tenant_a.organization.require_consent_for_assessment = False
    tenant_a.organization.save()
    patient = make_patient(tenant_a, "B-4", consent=False)
    assert tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), form_data()).status_code == 302


# --- the assessment page -----------------------------------------------------------------------------
def test_progress_polls_while_queued_and_stops_once_finished(tenant_a):
    patient = make_patient(tenant_a, "L-1")
    assessment = make_assessment(tenant_a, patient)
    client = tenant_a.client_for(Role.TECHNICIAN)
    progress_url = f"/assessments/{assessment.pk}/progress/"

    page = client.get(f"/assessments/{assessment.pk}/").content.decode()
    assert f'hx-get="{progress_url}" hx-trigger="every 2s" hx-swap="outerHTML"' in page
    polled = client.get(progress_url, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in polled.content.decode() and "HX-Refresh" not in polled
    assert "Queued: waiting for a worker" in text(polled)
    assert polled["Cache-Control"] == "no-store"

    from assessments import pipeline

    with organization_scope(tenant_a.organization):
        pipeline.run(assessment.pk)
    finished = client.get(progress_url, HTTP_HX_REQUEST="true")
    assert "hx-get" not in finished.content.decode() and "hx-trigger" not in finished.content.decode()
    assert finished["HX-Refresh"] == "true"  # reload once, so the results appear
    assert "all 3 stages done" in text(finished)
    assert text(finished).count("Completed") >= 4  # the assessment and its three stages
    # Outside htmx (no HX-Request) there is nothing to refresh.
    assert "HX-Refresh" not in client.get(progress_url)
    # The reloaded page has no polling left.
    assert "hx-trigger" not in client.get(f"/assessments/{assessment.pk}/").content.decode()


def test_opening_an_assessment_is_audited_but_polling_is_not(tenant_a):
    patient = make_patient(tenant_a, "L-2")
    assessment = make_assessment(tenant_a, patient)
    client = tenant_a.client_for(Role.AUDITOR)
    client.get(f"/assessments/{assessment.pk}/")
    for _ in range(3):
        client.get(f"/assessments/{assessment.pk}/progress/", HTTP_HX_REQUEST="true")
    event = events(tenant_a.organization, "assessment.viewed", assessment).get()
    assert event.actor_user == tenant_a.users[Role.AUDITOR]


def test_a_completed_assessment_shows_results_with_ranges_sources_and_explanation(tenant_a):
    patient = make_patient(tenant_a, "R-1")
    assessment = make_assessment(tenant_a, patient, inputs={"total_cholesterol": 213, "hdl_cholesterol": 50,
                                                            "systolic_bp": 120, "age": 55, "egfr": 90}, run=True)
    response = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/")
    body, page = response.content.decode(), text(response)
    assert 'class="preliminary"' in body
    # Goff 2014's worked example: white female, 55: 2.1%.
    assert 2.05 <= assessment.risk_score < 2.15
    score = f"{assessment.risk_score:.2f}".rstrip("0").rstrip(".")
    assert f'<p class="risk-score">{score}<small> %</small>' in body
    assert "Low risk" in page
    assert "Not applicable: the equations give a point estimate, with no per-patient confidence" in page
    assert assessment.method_version in page
    # Biomarkers: catalogue labels, units, reference ranges, flags, sources (collapsed under the label, so the
    # table keeps to the page's width).
    tables = body.split('id="biomarkers-heading"')[1].split("</section>")[0]
    found = re.finditer(r'<tr>\s*<th scope="row">([^<]+)<.*?</tr>', tables, flags=re.S)
    rows, sources = {}, {}
    for m in found:
        source = re.search(r'<details class="source"><summary>Source</summary>(.*?)</details>', m.group(0), re.S)
        sources[text_of(m.group(1))] = text_of(source.group(1)) if source else ""
        rows[text_of(m.group(1))] = text_of(m.group(0).replace(source.group(0), "") if source else m.group(0))
    assert rows["HDL cholesterol"] == "HDL cholesterol 50 mg/dL — Normal ≥ 40"
    assert sources["HDL cholesterol"] == "NCEP ATP III (JAMA 2001;285:2486), Table II"
    assert rows["Total cholesterol"] == "Total cholesterol 213 mg/dL — High < 200"
    # 120 mmHg is on the limit, and ACC/AHA's "elevated" starts there: the range says so and the flag agrees.
    assert rows["Systolic blood pressure"] == "Systolic blood pressure 120 mmHg — High 90 to < 120"
    # The PCE risk is flagged in the guideline's categories, in the same words as the risk level.
    assert rows["10-year ASCVD risk (PCE)"] == (
        "10-year ASCVD risk (PCE) 2.1 % — Normal < 5 % low, >= 5 to < 7.5 % borderline, >= 7.5 to < 20 % intermediate, "
        ">= 20 % high"
    )
    # The headline says what it is, with its unit, categories and source; recommendations cite theirs.
    summary = text_of(body.split('id="summary-heading"')[1].split("</section>")[0])
    assert "10-year ASCVD risk (PCE) 2.1 %" in summary and "Categories: < 5 % low" in summary
    assert "Source Goff et al., Circulation 2014" in summary  # in a <details>, collapsed
    assert "10-year total CVD risk (PREVENT)" in page
    assert "Source: 2019 ACC/AHA Primary Prevention Guideline" in page
    explanation = assessment.explanation.summary
    assert explanation in page
    assert page.count("Systolic blood pressure") >= 2
    # Only factors that add something are listed, in the score's own unit (percentage points of a %).
    assert "What adds to the 10-year ASCVD risk (PCE)" in page and "Adds (percentage points)" in page
    contributions = text_of(body.split('id="contributions-heading"')[1].split("</table>")[0])
    assert "Total cholesterol 213 mg/dL 170 mg/dL" in contributions
    assert "Systolic blood pressure" not in contributions and "HDL" not in contributions  # already optimal


def test_not_applicable_equations_say_why(tenant_a):
    patient = make_patient(tenant_a, "R-2")
    # No eGFR: PREVENT does not apply; the PCE still does.
    assessment = make_assessment(tenant_a, patient, run=True)
    page = text(tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/"))
    assert assessment.status == "completed"
    assert "Not measured or not applicable PREVENT equations : PREVENT equations need eGFR (or serum creatinine " \
        "to estimate it); none was provided." in page


def test_a_failed_assessment_shows_its_reason_and_can_be_retried(tenant_a):
    patient = make_patient(tenant_a, "F-1")
    assessment = make_failed_assessment(tenant_a, patient)
    assert assessment.status == "failed"
    client = tenant_a.client_for(Role.CLINICIAN)
    body = client.get(f"/assessments/{assessment.pk}/").content.decode()
    alert = body.split('<div class="alert alert-danger" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "The analysis failed." in alert and "The test analyzer was asked to fail." in alert
    assert "Retry" in text_of(body) and "Risk summary" not in text_of(body)

    response = client.post(f"/assessments/{assessment.pk}/retry/")
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        assessment.refresh_from_db()
    assert assessment.status == "queued" and assessment.failure_reason == ""
    assert events(tenant_a.organization, "assessment.queued", assessment).count() == 1
    # Retrying what is not failed is refused on the page, not a 500.
    again = client.post(f"/assessments/{assessment.pk}/retry/")
    assert again.status_code == 400 and "Only a failed assessment can be retried." in text(again)


def test_cancel_a_queued_assessment_but_not_a_completed_one(tenant_a):
    patient = make_patient(tenant_a, "X-1")
    queued = make_assessment(tenant_a, patient)
    completed = make_assessment(tenant_a, patient, run=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    assert "Cancel assessment" in text(client.get(f"/assessments/{queued.pk}/"))
    assert "Cancel assessment" not in text(client.get(f"/assessments/{completed.pk}/"))

    assert client.post(f"/assessments/{queued.pk}/cancel/").status_code == 302
    refused = client.post(f"/assessments/{completed.pk}/cancel/")
    assert refused.status_code == 400
    assert "An assessment that is completed cannot become cancelled." in text(refused)
    with organization_scope(tenant_a.organization):
        queued.refresh_from_db()
        completed.refresh_from_db()
    assert (queued.status, completed.status) == ("cancelled", "completed")
    assert "No results were kept." in text(client.get(f"/assessments/{queued.pk}/"))


def test_sign_off_is_audited_and_ends_the_preliminary_banner(tenant_a):
    patient = make_patient(tenant_a, "S-1")
    assessment = make_assessment(tenant_a, patient, run=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/assessments/{assessment.pk}/"
    before = client.get(url).content.decode()
    assert 'class="preliminary"' in before and 'id="sign-off"' in before

    response = client.post(f"{url}sign-off/", {"note": "Discussed statin therapy."})
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        assessment.refresh_from_db()
    assert assessment.reviewed_by == tenant_a.users[Role.CLINICIAN] and assessment.review_note
    assert events(tenant_a.organization, "assessment.signed_off", assessment).count() == 1
    after = client.get(url)
    assert 'class="preliminary"' not in after.content.decode() and 'id="sign-off"' not in after.content.decode()
    assert "Signed off by" in text(after) and "Discussed statin therapy." in text(after)

    twice = client.post(f"{url}sign-off/", {"note": "again"})
    assert twice.status_code == 400 and "These results are already signed off." in text(twice)
    assert events(tenant_a.organization, "assessment.signed_off", assessment).count() == 1


def test_results_still_running_cannot_be_signed_off(tenant_a):
    patient = make_patient(tenant_a, "S-2")
    assessment = make_assessment(tenant_a, patient)
    client = tenant_a.client_for(Role.CLINICIAN)
    assert 'id="sign-off"' not in client.get(f"/assessments/{assessment.pk}/").content.decode()
    response = client.post(f"/assessments/{assessment.pk}/sign-off/", {"note": ""})
    assert response.status_code == 400 and "Only completed results can be signed off." in text(response)
    assert not events(tenant_a.organization, "assessment.signed_off").exists()


def test_the_discussion_posts_and_audits_messages(tenant_a):
    patient = make_patient(tenant_a, "D-1")
    assessment = make_assessment(tenant_a, patient, run=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/assessments/{assessment.pk}/"
    response = client.post(f"{url}discussion/", {"body": "Repeat lipids in 3 months."})
    assert response.status_code == 302 and response["Location"].endswith("#discussion")
    with scopes_disabled():
        message = DiscussionMessage.objects.get()
    assert events(tenant_a.organization, "discussion.posted", message).count() == 1
    assert "Repeat lipids in 3 months." in text(client.get(url))

    empty = client.post(f"{url}discussion/", {"body": "   "})
    assert empty.status_code == 400 and "Write a message first." in text(empty)
    with scopes_disabled():
        assert DiscussionMessage.objects.count() == 1
    # An auditor reads the thread but has no form to post.
    auditor = tenant_a.client_for(Role.AUDITOR).get(url).content.decode()
    assert "Repeat lipids in 3 months." in auditor and 'name="body"' not in auditor


def test_the_typed_result_renders_by_type_and_an_unknown_schema_is_not_guessed():
    from types import SimpleNamespace

    from assessments.presenters import result_view

    document = {
        "schema_version": 2,
        "score": None,
        "score_withheld": "No validated composite exists.",
        "measurements": [{"name": "beats", "label": "Beats analysed", "value": 11, "unit": "", "decimals": 0,
                          "derived": False}],
        "not_applicable": [{"name": "pce", "label": "Pooled Cohort Equations", "reason": "Age 35 is outside 40-79."}],
        "notes": ["Repeat the test."],
        "details": {"risk_rule": "not rendered by name"},
    }
    view = result_view(SimpleNamespace(results=document, risk_score=None, model_version=None), [])
    assert view["score"] is None and view["score_withheld"] == "No validated composite exists."
    assert view["measurements"][0]["value"] == "11" and view["measurements"][0]["label"] == "Beats analysed"
    assert view["not_applicable"][0]["reason"] == "Age 35 is outside 40-79."
    assert view["notes"] == ["Repeat the test."] and view["contributions"] == []
    future = result_view(SimpleNamespace(results={"schema_version": 99}, risk_score=1.0, model_version=None), [])
    assert future == {"unreadable": True}


@pytest.mark.parametrize(
    ("low", "high", "low_inclusive", "high_inclusive", "shown"),
    [
        (60, 100, True, True, "60–100"),
        (90, 120, True, False, "90 to < 120"),
        (390, 450, False, False, "> 390 to < 450"),
        (40, None, True, True, "≥ 40"),
        (0.3, None, False, True, "> 0.3"),
        (None, 200, True, False, "< 200"),
        (None, 6, True, True, "≤ 6"),
        (None, None, True, True, "—"),
    ],
)
def test_a_range_reads_which_side_of_each_limit_is_normal(low, high, low_inclusive, high_inclusive, shown):
    from assessments.presenters import value_range

    assert value_range(low, high, low_inclusive, high_inclusive) == shown


@pytest.mark.parametrize(("change", "shown"), [(3.21, "+3.2"), (-0.06, "−0.1"), (0.04, "0.0"), (None, "—")])
def test_a_contribution_reads_with_its_own_sign(change, shown):
    """An equation may lower the risk when a factor moves to its usual optimum: never "+-0.1"."""
    from assessments.presenters import signed

    assert signed(change, 1) == shown
