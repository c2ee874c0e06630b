"""The audit log names its targets as a person reads them: the patient (name and MRN) with a link to the
page, not a model label and a UUID; its action filter is a list of the log's own actions."""

import re

import pytest
from django.urls import reverse

import audit
from accounts.tests.tenant_routes import make_assessment, make_patient
from audit.models import AuditEvent


@pytest.fixture
def auditor(tenant_a):
    return tenant_a.client_for("auditor")


def _row_of(body: str, action: str) -> str:
    rows = re.findall(r"<tr>.*?</tr>", body, flags=re.S)
    [row] = [row for row in rows if f"<code>{action}</code>" in row]
    return row


def test_patient_and_assessment_targets_show_the_patient_and_link_to_the_page(tenant_a, auditor):
    patient = make_patient(tenant_a, given_name="Nadia", family_name="Castillo", mrn="CAS-2291")
    assessment = make_assessment(tenant_a, patient)
    audit.record(action="test.patient_target", organization=tenant_a.organization, target=patient)
    audit.record(action="test.assessment_target", organization=tenant_a.organization, target=assessment)

    body = auditor.get(reverse("audit:log")).content.decode()

    row = _row_of(body, "test.patient_target")
    assert "Castillo, Nadia (MRN CAS-2291)" in row
    assert f'href="{reverse("assessments:patient_detail", kwargs={"pk": patient.pk})}"' in row
    assert str(patient.pk) not in row.replace(reverse("assessments:patient_detail", kwargs={"pk": patient.pk}), "")
    row = _row_of(body, "test.assessment_target")
    assert "assessment of Castillo, Nadia (MRN CAS-2291)" in row
    assert f'href="{reverse("assessments:assessment_detail", kwargs={"pk": assessment.pk})}"' in row


def test_showing_patient_names_is_an_audited_read(tenant_a, auditor):
    patient = make_patient(tenant_a, given_name="Ines", family_name="Ortega")
    audit.record(action="test.patient_target", organization=tenant_a.organization, target=patient)
    auditor.get(reverse("audit:log"))
    event = AuditEvent.objects.filter(action="patient.listed", organization=tenant_a.organization).latest("sequence")
    assert event.details["patients"] == [str(patient.pk)]
    assert event.details["query"]["source"] == "audit_log"


def test_other_targets_and_vanished_ones_fall_back_to_type_and_id(tenant_a, tenant_b, auditor):
    theirs = make_patient(tenant_b, given_name="Bea", family_name="Other", mrn="B-SECRET-1")
    audit.record(action="test.foreign_target", organization=tenant_a.organization,
                 target_type="assessments.patient", target_id=str(theirs.pk))  # fmt: skip
    audit.record(action="test.bad_id", organization=tenant_a.organization,
                 target_type="assessments.patient", target_id="not-a-uuid")  # fmt: skip
    audit.record(action="test.member_target", organization=tenant_a.organization,
                 target_type="accounts.membership", target_id="42")  # fmt: skip
    response = auditor.get(reverse("audit:log"))
    assert response.status_code == 200
    body = response.content.decode()
    # Another organization's patient is never named, even if an id of theirs were in this log.
    assert "Other, Bea" not in body and "B-SECRET-1" not in body
    assert "accounts.membership 42" in _row_of(body, "test.member_target")
    assert "assessments.patient not-a-uuid" in _row_of(body, "test.bad_id")


def test_the_action_filter_lists_the_logs_own_actions(tenant_a, tenant_b, auditor):
    audit.record(action="membership.added", organization=tenant_a.organization)
    audit.record(action="membership.removed", organization=tenant_a.organization)
    audit.record(action="test.only_in_b", organization=tenant_b.organization)
    body = auditor.get(reverse("audit:log")).content.decode()
    select = re.search(r'<select name="action".*?</select>', body, flags=re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options[0] == ""
    assert {"membership", "membership.added", "membership.removed"} <= set(options)
    assert "test.only_in_b" not in select  # another organization's actions are not offered


@pytest.mark.parametrize("value", ["membership added", "<script>", "x" * 101, "Membership"])
def test_a_malformed_action_is_an_inline_message(tenant_a, auditor, value):
    response = auditor.get(reverse("audit:log"), {"action": value})
    assert response.status_code == 400
    assert "Choose one of the listed actions." in response.content.decode() or "at most 100" in (
        response.content.decode()
    )
