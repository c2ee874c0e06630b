"""Who may open and post what on the patient and assessment pages (roles per accounts.roles.PERMISSIONS),
what a technician never sees, and that another organization's ids are a 404 that changes nothing."""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from accounts.roles import Role, role_has
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, DiscussionMessage, Patient, UploadedFile

from .portal import events, make_assessment, make_failed_assessment, make_patient, pdf_bytes, row_counts, text, upload

pytestmark = pytest.mark.django_db

ROLES = [Role.ORG_ADMIN, Role.CLINICIAN, Role.TECHNICIAN, Role.AUDITOR]


def _objects(tenant, mrn_prefix="A"):
    patient = make_patient(tenant, f"{mrn_prefix}-001")
    completed = make_assessment(
        tenant, patient, run=True, attachments=[upload("letter.pdf", pdf_bytes(), "application/pdf")]
    )
    queued = make_assessment(tenant, patient)
    failed = make_failed_assessment(tenant, patient)
    unconsented = make_patient(tenant, f"{mrn_prefix}-002", consent=False)
    with scopes_disabled():
        uploaded = UploadedFile.objects.get(assessment=completed)
    assert (completed.status, queued.status, failed.status) == ("completed", "queued", "failed")
    return SimpleNamespace(patient=patient, completed=completed, queued=queued, failed=failed,
                           unconsented=unconsented, file=uploaded)


@pytest.fixture
def objects(tenant_a):
    return _objects(tenant_a)


# (route name, URL kwargs, permission, status when allowed)
def _pages(o):
    return [
        ("assessments:patient_list", {}, "patients.view", 200),
        ("assessments:patient_create", {}, "patients.edit", 200),
        ("assessments:patient_detail", {"pk": o.patient.pk}, "patients.view", 200),
        ("assessments:patient_edit", {"pk": o.patient.pk}, "patients.edit", 200),
        ("assessments:assessment_create", {"pk": o.patient.pk}, "assessments.create", 200),
        ("assessments:assessment_detail", {"pk": o.completed.pk}, "assessments.view", 200),
        ("assessments:assessment_progress", {"pk": o.queued.pk}, "assessments.view", 200),
        ("assessments:file_download", {"pk": o.file.pk}, "assessments.view_results", 302),
    ]


def _posts(o):
    """(route name, URL kwargs, permission, form data, state of what the POST would change)."""

    def status_of(assessment):
        return lambda: Assessment.objects.filter(pk=assessment.pk).values_list("status", "reviewed_at").first()

    return [
        ("assessments:patient_create", {}, "patients.edit",
         {"mrn": "NEW-1", "given_name": "Neo", "family_name": "New", "date_of_birth": "1970-01-01",
          "sex_at_birth": "male"}, lambda: Patient.objects.count()),
        ("assessments:patient_edit", {"pk": o.patient.pk}, "patients.edit",
         {"mrn": o.patient.mrn, "given_name": "Changed", "family_name": "Okafor", "date_of_birth": "1965-03-14",
          "sex_at_birth": "female"}, lambda: Patient.objects.get(pk=o.patient.pk).given_name),
        ("assessments:patient_consent", {"pk": o.unconsented.pk}, "patients.edit", {},
         lambda: Patient.objects.get(pk=o.unconsented.pk).consent_recorded_at),
        ("assessments:assessment_create", {"pk": o.patient.pk}, "assessments.create",
         {"modality": "cvd_risk", "inputs-age": "60", "inputs-sex": "female", "inputs-total_cholesterol": "213",
          "inputs-hdl_cholesterol": "50", "inputs-cholesterol_unit": "mg/dL", "inputs-systolic_bp": "120"},
         lambda: Assessment.objects.count()),
        ("assessments:assessment_cancel", {"pk": o.queued.pk}, "assessments.manage", {}, status_of(o.queued)),
        ("assessments:assessment_retry", {"pk": o.failed.pk}, "assessments.manage", {}, status_of(o.failed)),
        ("assessments:assessment_sign_off", {"pk": o.completed.pk}, "assessments.sign_off", {"note": "ok"},
         status_of(o.completed)),
        ("assessments:assessment_discussion", {"pk": o.completed.pk}, "discussion.post", {"body": "Looks fine."},
         lambda: DiscussionMessage.objects.count()),
        ("assessments:assessment_attach", {"pk": o.completed.pk}, "assessments.create",
         {"attachments": upload("more.pdf", pdf_bytes(), "application/pdf")},
         lambda: UploadedFile.objects.count()),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_permissions_table_says(tenant_a, objects, role):
    client = tenant_a.client_for(role)
    for name, kwargs, permission, allowed in _pages(objects):
        response = client.get(reverse(name, kwargs=kwargs))
        expected = allowed if role_has(role, permission) else 403
        assert response.status_code == expected, (name, role, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_every_write_is_refused_with_403_for_roles_without_its_permission(tenant_a, objects, role):
    client = tenant_a.client_for(role)
    for name, kwargs, permission, data, state in _posts(objects):
        with organization_scope(tenant_a.organization):
            before = state()
        response = client.post(reverse(name, kwargs=kwargs), data)
        with organization_scope(tenant_a.organization):
            after = state()
        if role_has(role, permission):
            assert response.status_code in (200, 302), (name, role, response.status_code)
            assert after != before, (name, role)
        else:
            assert response.status_code == 403, (name, role, response.status_code)
            assert after == before, (name, role)


def test_signed_out_visitors_are_sent_to_sign_in(client, objects):
    for name, kwargs, _permission, _allowed in _pages(objects):
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name


def test_a_technician_sees_status_but_never_a_risk_score(tenant_a, objects):
    score = f"{objects.completed.risk_score:.2f}".rstrip("0").rstrip(".")
    client = tenant_a.client_for(Role.TECHNICIAN)
    pages = [
        reverse("assessments:assessment_detail", args=[objects.completed.pk]),
        reverse("assessments:assessment_progress", args=[objects.completed.pk]),
        reverse("assessments:patient_detail", args=[objects.patient.pk]),
        reverse("assessments:patient_list"),
        reverse("portal:dashboard"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        page = text(response)
        assert score not in page, url
        assert 'class="risk-score"' not in body and "Risk score" not in page and 'id="summary-heading"' not in body, url
        assert "Biomarker trend" not in page and "Recommendations" not in page, url
        assert 'class="preliminary"' not in body, url
    detail = text(client.get(pages[0]))
    assert "Completed" in detail  # the status is there
    assert objects.completed.explanation.summary not in detail
    # Input files and attachments are results too (shown by their display names since issue 10).
    assert objects.file.display_name not in detail

    clinician_response = tenant_a.client_for(Role.CLINICIAN).get(pages[0])
    clinician = text(clinician_response)
    assert score in clinician and objects.file.display_name in clinician
    assert 'id="summary-heading"' in clinician_response.content.decode()


def test_another_organizations_ids_are_404_and_change_nothing(tenant_a, tenant_b, objects):
    theirs = _objects(tenant_b, mrn_prefix="B")
    client = tenant_a.client_for(Role.ORG_ADMIN)
    with scopes_disabled():
        before = row_counts(), list(Assessment.objects.values_list("pk", "status", "reviewed_at").order_by("pk"))
        consent_before = Patient.objects.get(pk=theirs.unconsented.pk).consent_recorded_at
    for name, kwargs, _permission, _allowed in _pages(theirs):
        if not kwargs:
            continue
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 404, name
    for name, kwargs, _permission, data, _state in _posts(theirs):
        if not kwargs:
            continue
        assert client.post(reverse(name, kwargs=kwargs), data).status_code == 404, name
    with scopes_disabled():
        after = row_counts(), list(Assessment.objects.values_list("pk", "status", "reviewed_at").order_by("pk"))
        assert Patient.objects.get(pk=theirs.unconsented.pk).consent_recorded_at == consent_before
    assert after == before
    assert not events(tenant_a.organization, "file.download_url_issued").exists()
    assert not events(tenant_b.organization, "file.download_url_issued").exists()
    assert not events(tenant_b.organization, "patient.viewed").exists()


def test_lists_and_the_dashboard_never_show_another_organizations_patients(tenant_a, tenant_b):
    make_patient(tenant_a, "A-1", family_name="Okafor")
    theirs = make_patient(tenant_b, "B-1", family_name="Okafor-Beta", given_name="Zed")
    make_assessment(tenant_b, theirs, run=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    for url in ["/patients/", "/patients/?q=Okafor", "/patients/?q=B-1", "/patients/?q=Zed", "/"]:
        response = client.get(url)
        page = text(response)
        assert "Zed" not in page.replace("“Zed”", "") and "Okafor-Beta" not in page, url
        assert str(theirs.pk) not in response.content.decode(), url
    assert "0 matches" in text(client.get("/patients/?q=B-1"))


def test_services_refuse_a_cross_tenant_patient_even_when_called_directly(tenant_a, tenant_b):
    """Defence in depth behind the 404: the service checks the patient's organization too."""
    theirs = make_patient(tenant_b, "B-9")
    from django.core.exceptions import ValidationError

    with organization_scope(tenant_a.organization), pytest.raises(ValidationError):
        services.create_assessment(
            actor=tenant_a.users[Role.CLINICIAN], organization=tenant_a.organization, patient=theirs,
            modality="cvd_risk", inputs={"total_cholesterol": 200, "hdl_cholesterol": 50, "systolic_bp": 120},
        )


GARBAGE = {
    "mrn": "x" * 500, "given_name": "\x00", "family_name": "", "date_of_birth": "not-a-date",
    "sex_at_birth": "?", "height_cm": "12345678.9", "weight_kg": "NaN", "consent": "maybe",
    "modality": "cvd_risk", "inputs-age": "1e309", "inputs-sex": "", "inputs-total_cholesterol": "inf",
    "inputs-hdl_cholesterol": "-0", "inputs-cholesterol_unit": "stone", "inputs-systolic_bp": "",
    "inputs-measured_on": "2999-01-01", "inputs-unknown": "1", "note": "n" * 6000, "body": "b" * 6000,
    "next": "javascript:alert(1)",
}


def test_garbage_in_every_form_is_a_4xx_never_a_500(tenant_a, objects):
    client = tenant_a.client_for(Role.ORG_ADMIN)
    for name, kwargs, _permission, _data, _state in _posts(objects):
        response = client.post(reverse(name, kwargs=kwargs), GARBAGE)
        assert response.status_code < 500, (name, response.status_code)
        if name not in ("assessments:patient_consent", "assessments:assessment_cancel",
                        "assessments:assessment_retry"):
            assert response.status_code == 400, (name, response.status_code)
