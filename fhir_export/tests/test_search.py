"""Observation search: by patient, by code (LOINC or MediLens's own), by date with FHIR's prefixes, paged;
anything it cannot honour is a 400 OperationOutcome naming the parameter, and nothing is read or written."""

from __future__ import annotations

import pytest

from accounts.tenancy import scopes_disabled
from assessments.models import BiomarkerValue
from assessments.tests.helpers_api import make_patient
from audit.models import AuditEvent

from .helpers import GOFF_PANEL, fhir_get, run, validate

pytestmark = pytest.mark.django_db
LOINC_CHOLESTEROL = "http://loinc.org|2093-3"


@pytest.fixture
def history(tenant_a, settings):
    """One patient with two lipid panels measured on known days (the panel's own date, as a lab gives it),
    and another patient with one."""
    patient, other = make_patient(tenant_a), make_patient(tenant_a)
    first = run(tenant_a, patient, modality="cvd_risk", inputs={**GOFF_PANEL, "measured_on": "2026-03-10"})
    june = {**GOFF_PANEL, "total_cholesterol": 240, "measured_on": "2026-06-20"}
    second = run(tenant_a, patient, modality="cvd_risk", inputs=june)
    third = run(tenant_a, other, modality="cvd_risk", inputs=dict(GOFF_PANEL))
    assert {first.status, second.status, third.status} == {"completed"}, first.failure_reason
    return patient, other, first, second


def _values(bundle) -> list[float]:
    return [entry["resource"]["valueQuantity"]["value"] for entry in bundle["entry"]]


def _search(tenant, **params):
    response = fhir_get(tenant.api("read_only"), "Observation", **params)
    assert response.status_code == 200, response.content
    bundle = response.json()
    validate(bundle)
    assert bundle["type"] == "searchset"
    return bundle


def test_search_by_patient_and_loinc_code_finds_that_patients_values_newest_first(tenant_a, history):
    patient, other, _, _ = history
    bundle = _search(tenant_a, patient=str(patient.pk), code=LOINC_CHOLESTEROL)
    assert _values(bundle) == [240, 213] and bundle["total"] == 2
    assert all(e["resource"]["subject"]["reference"] == f"Patient/{patient.pk}" for e in bundle["entry"])
    assert bundle["entry"][0]["fullUrl"].startswith("http://testserver/api/v1/fhir/Observation/")
    # The same by reference, by MediLens's own code, and with no system; several codes are alternatives.
    assert _values(_search(tenant_a, subject=f"Patient/{patient.pk}", code="2093-3")) == [240, 213]
    own = _search(tenant_a, patient=str(patient.pk), code="https://medilens.example/fhir/CodeSystem/biomarker|total_cholesterol")
    assert _values(own) == [240, 213]
    both = _search(tenant_a, patient=str(patient.pk), code=f"{LOINC_CHOLESTEROL},http://loinc.org|2085-9")
    assert sorted(_values(both)) == [50, 50, 213, 240]
    assert _search(tenant_a, patient=str(patient.pk), code="http://loinc.org|0000-0")["total"] == 0
    # Without a patient: the organization's values.
    assert _values(_search(tenant_a, code=LOINC_CHOLESTEROL)) == [213, 240, 213]  # today's, June's, March's
    with scopes_disabled():
        event = AuditEvent.objects.filter(action="biomarker.listed").latest("id")
    assert event.details["query"]["via"] == "fhir" and event.details["count"] == 3


def test_search_by_date_with_prefixes(tenant_a, history):
    patient = history[0]
    by = {"patient": str(patient.pk), "code": LOINC_CHOLESTEROL}
    assert _values(_search(tenant_a, **by, date="ge2026-06-01")) == [240]
    assert _values(_search(tenant_a, **by, date="lt2026-06")) == [213]
    assert _values(_search(tenant_a, **by, date="2026-03-10")) == [213]
    assert _values(_search(tenant_a, **by, date="eq2026-03")) == [213]
    assert _values(_search(tenant_a, **by, date="gt2026-03-10")) == [240]
    assert _values(_search(tenant_a, **by, date="le2026")) == [240, 213]
    assert _values(_search(tenant_a, **by, date=["ge2026-01-01", "le2026-04-01"])) == [213]
    assert _search(tenant_a, **by, date="ge2026-06-20T23:59:59+14:00")["total"] == 1


def test_search_pages_with_next_links(tenant_a, history):
    patient = history[0]
    first = _search(tenant_a, patient=str(patient.pk), _count="3")
    with scopes_disabled():
        total = BiomarkerValue.objects.filter(patient=patient).count()
    assert first["total"] == total and len(first["entry"]) == 3
    seen = [entry["resource"]["id"] for entry in first["entry"]]
    link = next(link["url"] for link in first["link"] if link["relation"] == "next")
    while link:
        page = fhir_get(tenant_a.api("read_only"), link.removeprefix("http://testserver/api/v1/fhir/")).json()
        seen += [entry["resource"]["id"] for entry in page["entry"]]
        link = next((item["url"] for item in page["link"] if item["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == total


BAD = [
    ({"name": "x"}, "name"),
    ({"patient": "a", "frobnicate": "1"}, "frobnicate"),
    ({"date": "yesterday"}, "date"),
    ({"date": "ge2026-13-01"}, "date"),
    ({"date": "ge2026-02-30"}, "date"),
    ({"date": "ge2026-01-01T10:00:00"}, "date"),  # a dateTime without its zone
    ({"date": "sa2026-01-01"}, "date"),
    ({"date": ""}, "date"),
    ({"code": ""}, "code"),
    ({"code": "http://loinc.org|"}, "code"),
    ({"_count": "0"}, "_count"),
    ({"_count": "false"}, "_count"),
    ({"_count": "\u00b2"}, "_count"),  # a digit to str.isdigit(), not to int()
    ({"date": "ge9999-12-31T23:59:59-14:00"}, "date"),  # past the last instant Python can hold
    ({"date": "ge\u0662\u0660\u0662\u0666"}, "date"),  # Arabic-Indic digits are not a FHIR date
    ({"_offset": "-1"}, "_offset"),
    ({"patient": "Patient/a/b"}, "patient"),
    ({"_format": "xml"}, "_format"),
    ({"code": "2093-3\x00"}, "query"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD)
def test_bad_searches_are_400_operation_outcomes_naming_the_parameter(tenant_a, params, parameter):
    with scopes_disabled():
        before = AuditEvent.objects.count()
    response = fhir_get(tenant_a.api("read_only"), "Observation", **params)
    assert response.status_code == 400, response.content
    outcome = validate(response.json())
    assert outcome.issue[0].severity == "error" and outcome.issue[0].code == "invalid"
    assert outcome.issue[0].expression == [parameter] and outcome.issue[0].diagnostics
    with scopes_disabled():
        assert AuditEvent.objects.count() == before  # nothing was read


def test_a_search_for_an_unknown_patient_is_404_like_another_organizations(tenant_a, tenant_b):
    theirs = make_patient(tenant_b)
    for reference in (str(theirs.pk), "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = fhir_get(tenant_a.api("read_only"), "Observation", patient=reference)
        assert response.status_code == 404 and validate(response.json()).issue[0].code == "not-found"
        assert str(theirs.pk) not in response.content.decode()



def test_search_and_everything_take_the_same_queries_for_more_results(tenant_a):
    """No query per resource: more assessments, more values, the same number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = make_patient(tenant_a)
    api = tenant_a.api("read_only")

    def queries(path, **params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert fhir_get(api, path, **params).status_code == 200
        return len(captured.captured_queries)

    run(tenant_a, patient, modality="cvd_risk", inputs=dict(GOFF_PANEL))
    queries("metadata")  # the key's first use of the minute records it (one write): not what is measured
    few = (queries("Observation", patient=str(patient.pk)), queries(f"Patient/{patient.pk}/$everything"))
    for _ in range(3):
        run(tenant_a, patient, modality="cvd_risk", inputs=dict(GOFF_PANEL))
    many = (queries("Observation", patient=str(patient.pk)), queries(f"Patient/{patient.pk}/$everything"))
    assert many == few, (few, many)
