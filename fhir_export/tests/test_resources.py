"""Every FHIR resource type the export serves, read as a partner would and validated with fhir.resources'
R4B models; the codes, units, ranges and flags checked against inputs made here."""

from __future__ import annotations

import pytest

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import BiomarkerValue, UploadedFile
from assessments.tests.helpers_api import make_patient
from audit.models import AuditEvent

from .helpers import FHIR_JSON, GOFF_PANEL, PDF, fhir_get, run, validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def goff(tenant_a):
    patient = make_patient(tenant_a, mrn="FHIR-001", given_name="Grace", family_name="Hart")
    assessment = run(tenant_a, patient, modality="cvd_risk", inputs=dict(GOFF_PANEL), attachments=[("lab.pdf", PDF)])
    assert assessment.status == "completed", assessment.failure_reason
    return patient, assessment


def _values(assessment) -> dict[str, BiomarkerValue]:
    with scopes_disabled():
        return {value.name: value for value in BiomarkerValue.objects.filter(assessment=assessment)}


def test_metadata_is_a_capability_statement_listing_what_is_served(tenant_a):
    response = fhir_get(tenant_a.api("read_only"), "metadata")
    assert response.status_code == 200
    statement = validate(response.json())
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    served = {resource.type: resource for resource in statement.rest[0].resource}
    assert set(served) == {"Patient", "Observation", "RiskAssessment", "DiagnosticReport", "DocumentReference"}
    assert {p.name for p in served["Observation"].searchParam} >= {"patient", "code", "date"}
    assert served["Patient"].operation[0].name == "everything"


def test_patient_carries_the_mrn_under_the_organizations_system_and_is_audited(tenant_a, goff, settings):
    patient, _ = goff
    response = fhir_get(tenant_a.api("clinician"), f"Patient/{patient.pk}")
    assert response.status_code == 200
    body = response.json()
    resource = validate(body)
    assert resource.identifier[0].value == "FHIR-001"
    assert resource.identifier[0].system == f"{settings.FHIR_SYSTEM_BASE}/organization/clinic-a/mrn"
    assert resource.name[0].family == "Hart" and resource.name[0].given == ["Grace"]
    assert str(resource.birthDate) == "1970-01-01" and resource.gender == "female"
    with scopes_disabled():
        event = AuditEvent.objects.filter(action="patient.viewed", target_id=str(patient.pk)).latest("id")
    assert event.details["patients"] == [str(patient.pk)]


def test_observations_are_coded_in_loinc_with_ucum_units_ranges_and_flags(tenant_a, goff):
    patient, assessment = goff
    values = _values(assessment)
    api = tenant_a.api("clinician")
    expected = {
        # name: (LOINC, UCUM, value, HL7 interpretation)
        "total_cholesterol": ("2093-3", "mg/dL", 213, "H"),
        "hdl_cholesterol": ("2085-9", "mg/dL", 50, "N"),
        "systolic_bp": ("8480-6", "mm[Hg]", 120, "H"),
    }
    for name, (loinc, ucum, number, interpretation) in expected.items():
        body = fhir_get(api, f"Observation/{values[name].pk}").json()
        observation = validate(body)
        assert observation.status == "preliminary"  # not signed off yet
        assert observation.code.coding[0].system == "http://loinc.org" and observation.code.coding[0].code == loinc
        assert observation.code.coding[1].code == name  # MediLens's own code beside it
        quantity = observation.valueQuantity
        assert float(quantity.value) == number and quantity.system == "http://unitsofmeasure.org"
        assert quantity.code == ucum
        assert observation.interpretation[0].coding[0].code == interpretation
        assert observation.subject.reference == f"Patient/{patient.pk}"
    systolic = fhir_get(api, f"Observation/{values['systolic_bp'].pk}").json()
    assert systolic["referenceRange"][0]["low"]["value"] == 90 and systolic["referenceRange"][0]["high"]["value"] == 120
    assert "< 120" in systolic["referenceRange"][0]["text"]  # the source puts 120 itself out of range
    with scopes_disabled():
        read = AuditEvent.objects.filter(action="assessment.viewed", target_id=str(assessment.pk)).latest("id")
    assert read.details["via"] == "fhir" and read.details["resource"] == f"Observation/{values['systolic_bp'].pk}"
    assert read.details["patients"] == [str(patient.pk)]
    # A risk estimate has no LOINC code: MediLens's own code system only.
    pce = validate(fhir_get(api, f"Observation/{values['pce_ascvd_10y'].pk}").json())
    assert [coding.code for coding in pce.code.coding] == ["pce_ascvd_10y"]


def test_observation_derives_from_its_input_files_as_served_document_references(tenant_a):
    from modalities import registry

    patient = make_patient(tenant_a)
    case = registry.demo_cases("retinal")[0]
    assessment = run(tenant_a, patient, modality="retinal", inputs=dict(case.inputs), files=case.files)
    assert assessment.status == "completed", assessment.failure_reason
    api = tenant_a.api("clinician")
    value = next(iter(_values(assessment).values()))
    observation = fhir_get(api, f"Observation/{value.pk}").json()
    validate(observation)
    with scopes_disabled():
        inputs = list(UploadedFile.objects.filter(assessment=assessment, kind="input").order_by("pk"))
    assert [ref["reference"] for ref in observation["derivedFrom"]] == [f"DocumentReference/{f.pk}" for f in inputs]
    document = fhir_get(api, observation["derivedFrom"][0]["reference"]).json()
    validate(document)
    attachment = document["content"][0]["attachment"]
    assert attachment["url"] == f"http://testserver/api/v1/files/{inputs[0].pk}/download/"
    assert attachment["contentType"] == inputs[0].content_type and attachment["size"] == inputs[0].size
    with scopes_disabled():
        original = UploadedFile.objects.get(pk=inputs[0].pk).original_filename
    assert original not in str(document) and "X-Amz" not in str(document)
    with scopes_disabled():
        read = AuditEvent.objects.filter(action="file.listed", target_id=str(assessment.pk)).latest("id")
    assert read.details["resource"] == f"DocumentReference/{inputs[0].pk}" and read.details["via"] == "fhir"
    # The URL is the audited route: following it with the key issues the download and records it.
    download = api.get(attachment["url"])
    assert download.status_code == 200 and download.json()["url"]
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="file.download_url_issued", target_id=str(inputs[0].pk)).exists()


def test_risk_assessment_states_a_probability_only_for_a_probability(tenant_a, goff):
    _, assessment = goff
    api = tenant_a.api("clinician")
    body = fhir_get(api, f"RiskAssessment/{assessment.pk}").json()
    risk = validate(body)
    prediction = risk.prediction[0]
    assert float(prediction.probabilityDecimal) == pytest.approx(assessment.risk_score / 100)
    assert abs(float(prediction.probabilityDecimal) - 0.021) < 0.001  # Goff's worked example: 2.1 %
    assert prediction.qualitativeRisk.coding[0].code == "low"
    assert "Pooled Cohort Equations" in risk.method.text
    assert {ref.reference for ref in risk.basis} >= {f"DiagnosticReport/{assessment.pk}"}
    # A score in points (the ECG's triage rule) is not a probability: no probabilityDecimal.
    from modalities import registry

    case = registry.demo_cases("cardiology")[0]
    ecg = run(tenant_a, make_patient(tenant_a), modality="cardiology", inputs=dict(case.inputs), files=case.files)
    assert ecg.status == "completed" and ecg.risk_score is not None, ecg.failure_reason
    points = validate(fhir_get(api, f"RiskAssessment/{ecg.pk}").json()).prediction[0]
    assert points.probabilityDecimal is None and "points" in points.rationale


def test_diagnostic_report_is_preliminary_until_signed_off_then_final(tenant_a, goff):
    _, assessment = goff
    api = tenant_a.api("clinician")
    body = fhir_get(api, f"DiagnosticReport/{assessment.pk}").json()
    report = validate(body)
    assert report.status == "preliminary"
    assert report.conclusion.startswith("10-year ASCVD risk")
    assert {ref.reference for ref in report.result} == {f"Observation/{v.pk}" for v in _values(assessment).values()}
    with organization_scope(tenant_a.organization):
        services.sign_off(actor=tenant_a.users["clinician"], assessment=assessment, note="Reviewed.")
    signed = validate(fhir_get(api, f"DiagnosticReport/{assessment.pk}").json())
    assert signed.status == "final"
    value = next(iter(_values(assessment).values()))
    assert validate(fhir_get(api, f"Observation/{value.pk}").json()).status == "final"


def test_a_queued_assessment_has_no_report_and_errors_are_operation_outcomes(tenant_a):
    from assessments.tests.helpers_api import make_assessment

    queued = make_assessment(tenant_a, make_patient(tenant_a))
    api = tenant_a.api("clinician")
    for path in (f"DiagnosticReport/{queued.pk}", f"RiskAssessment/{queued.pk}", "Patient/not-a-uuid",
                 "Observation/abc", "Observation/\u00b2", "DocumentReference/-1"):  # fmt: skip
        response = fhir_get(api, path)
        assert response.status_code == 404, path
        outcome = validate(response.json())
        assert outcome.issue[0].code == "not-found"
    unauthenticated = fhir_get(type(api)(), "metadata")
    assert unauthenticated.status_code == 401 and validate(unauthenticated.json()).issue[0].code == "login"
    refused = api.post("/api/v1/fhir/metadata", {}, format="json")
    assert refused.status_code == 405 and refused.json()["resourceType"] == "OperationOutcome"
    # Whatever the Accept header asks for, FHIR JSON is what is served.
    plain = api.get("/api/v1/fhir/metadata", HTTP_ACCEPT="text/html")
    assert plain.status_code == 200 and plain["Content-Type"].startswith(FHIR_JSON)


def test_a_suspended_organizations_key_gets_a_403_operation_outcome(tenant_a, goff):
    patient, _ = goff
    organization = tenant_a.organization
    organization.status = organization.Status.SUSPENDED
    organization.save(update_fields=["status"])
    response = fhir_get(tenant_a.api("clinician"), f"Patient/{patient.pk}")
    assert response.status_code == 403
    outcome = validate(response.json())
    assert outcome.issue[0].code == "forbidden" and "suspended" in outcome.issue[0].diagnostics
    assert "Hart" not in response.content.decode()
