"""The new-assessment page cannot dead-end: a card per modality with its formats and a sample input, the
cognitive battery routed to the kiosk, a request the patient's record already rules out saying why before it
is sent (and the service then refusing it for the same reason), and labels that read as sentences."""

import re
from datetime import date

import pytest
from django.contrib.staticfiles import finders

from accounts.roles import Role
from accounts.tenancy import scopes_disabled
from assessments import intake
from assessments.models import Assessment
from modalities import registry
from modalities.cvd_risk import rule

from .portal import form_data, make_patient, text

pytestmark = pytest.mark.django_db


def _new_url(patient, modality=""):
    return f"/patients/{patient.pk}/assessments/new/" + (f"?modality={modality}" if modality else "")


def _born(age: int) -> date:
    """A date of birth that makes the patient ``age`` today (a 1 January birthday has always passed)."""
    return date(date.today().year - age, 1, 1)


def test_the_chooser_shows_a_card_per_modality_with_formats_and_samples(tenant_a):
    patient = make_patient(tenant_a, "I-1")
    response = tenant_a.client_for(Role.TECHNICIAN).get(_new_url(patient))
    assert response.status_code == 200
    body, page = response.content.decode(), text(response)
    cards = re.findall(r'<li class="modality-card">(.*?)</li>', body, flags=re.S)
    assert len(cards) == len(registry.names())
    for _name, label in registry.choices():
        assert label in page
    ecg = next(card for card in cards if "ECG (cardiology)" in card)
    assert "WFDB (.hea + .dat)" in ecg and "EDF" in ecg and "CSV" in ecg
    assert f'href="{_new_url(patient, "cardiology")}"' in ecg
    sample = re.search(r'href="/static/(samples/[^"]+)" download="', ecg).group(1)
    assert finders.find(sample)  # a file collectstatic ships, not a dead link
    assert "Start" in ecg
    cvd = next(card for card in cards if "Cardiovascular risk" in card)
    assert "Files" not in text_of(cvd) and "prefilled from the patient" in cvd  # no file to send, no sample


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_the_cognitive_card_and_its_url_go_to_the_kiosk(tenant_a):
    patient = make_patient(tenant_a, "I-2")
    client = tenant_a.client_for(Role.TECHNICIAN)
    body = client.get(_new_url(patient)).content.decode()
    card = next(c for c in re.findall(r'<li class="modality-card">(.*?)</li>', body, flags=re.S) if "Cognitive" in c)
    kiosk = f"/cognitive/patients/{patient.pk}/start/"
    assert f'href="{kiosk}"' in card and "Start in patient mode" in card
    response = client.get(_new_url(patient, "cognitive"))
    assert response.status_code == 302 and response["Location"] == kiosk
    assert client.get(kiosk).status_code == 200


def test_titles_read_as_sentences_and_needed_files_are_not_optional(tenant_a):
    patient = make_patient(tenant_a, "I-3")
    client = tenant_a.client_for(Role.TECHNICIAN)
    page = text(client.get(_new_url(patient, "cardiology")))
    assert "New ECG assessment" in page and "New ecg" not in page
    files_label = re.search(r"ECG \(cardiology\) input files( \(optional\))?", page)
    assert files_label and files_label.group(1) is None and "At least one is needed." in page
    assert "Supporting documents (optional)" in page  # what is optional still says so
    assert "New chest X-ray assessment" in text(client.get(_new_url(patient, "radiology")))
    assert "New cardiovascular risk assessment" in text(client.get(_new_url(patient, "cvd_risk")))


@pytest.mark.parametrize(
    ("age", "prior_cvd", "shown"),
    [
        (60, True, rule.SECONDARY_PREVENTION_REASON),
        (25, False, "No risk equation applies to this patient."),
    ],
)
def test_a_cvd_request_the_record_rules_out_says_why_before_and_is_refused_alike(tenant_a, age, prior_cvd, shown):
    patient = make_patient(tenant_a, f"I-4-{age}", date_of_birth=_born(age), prior_cardiovascular_disease=prior_cvd)
    client = tenant_a.client_for(Role.TECHNICIAN)
    response = client.get(_new_url(patient, "cvd_risk"))
    assert response.status_code == 200
    notice = re.search(r'id="record-refusal">(.*?)</div>', response.content.decode(), flags=re.S)
    assert notice and shown in text_of(notice.group(1).replace("&#x27;", "'"))
    # The service, given a fully typed panel, refuses it for the same reason; nothing is stored.
    refused = client.post(_new_url(patient, "cvd_risk"), form_data(patient_age=age))
    assert refused.status_code == 400 and shown in text(refused)
    with scopes_disabled():
        assert not Assessment.objects.filter(patient=patient).exists()


def test_a_patient_only_prevent_covers_is_told_the_egfr_is_needed(tenant_a):
    patient = make_patient(tenant_a, "I-5", date_of_birth=_born(33))
    body = tenant_a.client_for(Role.TECHNICIAN).get(_new_url(patient, "cvd_risk")).content.decode()
    assert 'id="record-refusal"' not in body
    needs = re.search(r'id="record-needs">(.*?)</div>', body, flags=re.S)
    assert needs and "eGFR (mL/min/1.73m2): Needed for this patient" in text_of(needs.group(1))
    assert not re.search(r'for="id_inputs-egfr">[^<]*<span class="optional">', body)  # no longer "(optional)"


def test_a_patient_the_equations_cover_sees_no_notice(tenant_a):
    patient = make_patient(tenant_a, "I-6", date_of_birth=_born(60))
    body = tenant_a.client_for(Role.TECHNICIAN).get(_new_url(patient, "cvd_risk")).content.decode()
    assert 'id="record-refusal"' not in body and 'id="record-needs"' not in body
    assert re.search(r'for="id_inputs-egfr">[^<]*<span class="optional">', body)


def test_a_modality_title_keeps_acronyms_and_lowers_words():
    assert intake.title("ECG (cardiology)") == "ECG"
    assert intake.title("Chest X-ray") == "chest X-ray"
    assert intake.title("Dermatology (skin lesion)") == "dermatology"


def test_the_chooser_is_tenant_scoped(tenant_a, tenant_b):
    other = make_patient(tenant_b, "I-7")
    assert tenant_a.client_for(Role.TECHNICIAN).get(_new_url(other)).status_code == 404
