"""No PHI in logs, error reports or the audit export (issue 12, item 5).

A patient with distinctive identifiers goes through every PHI-bearing request of the portal and the API
(create, a refused duplicate, search by name, MRN and date of birth, read, edit, consent, an assessment run
by the Celery task, a sign-off note and a discussion message naming the patient, an attachment named after
them, refused bad input, another tenant's id, and a server error on a value that no longer opens), with
log capture at DEBUG for django.request, the SQL log, Celery and the project's loggers. The captured text,
the audit CSV and the flash messages must not hold the name, MRN or date of birth in any usual spelling.
"""

import csv
import io
import logging
import re
from datetime import date

import pytest
from django.db import connection
from django.test import Client

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import tasks
from assessments.models import Assessment, Patient
from medilens.crypto import keyring
from medilens.log_scrub import ScrubFilter

from .portal import form_data, make_patient, pdf_bytes, upload

pytestmark = pytest.mark.django_db

GIVEN, FAMILY, MRN, BORN = "Philippa", "Vantablack-Quenby", "ZQX-58213", date(1931, 7, 29)
NEEDLES = [
    GIVEN, "Vantablack", "Quenby", MRN, "ZQX58213", "58213", BORN.isoformat(), "29 Jul 1931", "Jul 29, 1931",
    "July 29, 1931", "07/29/1931", "29/07/1931", "29.07.1931", "19310729",
]
LOGGERS = ["django", "django.request", "django.db.backends", "django.security", "celery", "celery.app.trace",
           "celery.task", "medilens", "accounts", "assessments", "audit", "modalities"]


def _leaks(text: str) -> list[str]:
    """The needles found as whole words: blind-index tokens (hex) and ciphertexts (base64) are logged with the
    SQL, and a random one can hold "58213" inside it (b582137e...), which is not a leak."""
    folded = text.casefold()
    return [
        needle for needle in NEEDLES
        if re.search(rf"(?<![0-9a-z]){re.escape(needle.casefold())}(?![0-9a-z])", folded)
    ]


@pytest.fixture
def captured(caplog):
    # These loggers at DEBUG (and the capture handler with them); the rest at the settings' INFO.
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True  # django.db.backends logs every statement with its parameters
    yield caplog
    connection.force_debug_cursor = False


# The history answers a new record needs before a risk panel can run on it (unknown is never read as no).
HISTORY_ANSWERED = ["has_diabetes", "treated_hypertension", "current_smoker", "on_statin",
                    "prior_cardiovascular_disease"]  # fmt: skip


def _portal_requests(tenant, client):
    patient_form = {"mrn": MRN, "given_name": GIVEN, "family_name": FAMILY, "date_of_birth": BORN.isoformat(),
                    "sex_at_birth": "female", "postcode": "ZZ9 9ZZ", "history_notes": f"{GIVEN}'s sister",
                    "consent": "on", **dict.fromkeys(HISTORY_ANSWERED, "false")}
    assert client.post("/patients/new/", patient_form).status_code == 302
    assert client.post("/patients/new/", patient_form).status_code == 400  # duplicate MRN
    assert client.post("/patients/new/", {**patient_form, "mrn": "", "date_of_birth": "31/31/1931"}).status_code == 400
    for query in (FAMILY, "vantab", MRN, "zqx-58", BORN.isoformat(), f"{FAMILY}, {GIVEN}"):
        assert client.get("/patients/", {"q": query}).status_code == 200
    with organization_scope(tenant.organization):
        patient = Patient.objects.get()
    for url in (f"/patients/{patient.pk}/", f"/patients/{patient.pk}/edit/"):
        assert client.get(url).status_code == 200
    edit = {**patient_form, "history_notes": f"{GIVEN} {FAMILY} moved", "weight_kg": "70"}
    assert client.post(f"/patients/{patient.pk}/edit/", edit).status_code == 302
    assert client.post(f"/patients/{patient.pk}/edit/", {**edit, "weight_kg": "-1"}).status_code == 400
    response = client.post(f"/patients/{patient.pk}/assessments/new/", form_data())
    assert response.status_code == 302, response.content[-2000:]
    return patient


def _run_and_review(tenant, client, patient):
    with organization_scope(tenant.organization):
        assessment = Assessment.objects.get(patient=patient)
    # The worker's task, traced by Celery as a worker would (its loggers are captured).
    assert tasks.run_assessment.apply(args=[str(assessment.pk)]).get() == "completed"
    base = f"/assessments/{assessment.pk}"
    assert client.post(f"{base}/sign-off/", {"note": f"Told {GIVEN} {FAMILY} ({MRN})"}).status_code == 302
    assert client.post(f"{base}/discussion/", {"body": f"{GIVEN} {FAMILY} born {BORN:%d/%m/%Y}"}).status_code == 302
    letter = upload(f"{FAMILY} {MRN} {BORN}.pdf", pdf_bytes(), "application/pdf")
    assert client.post(f"{base}/attachments/", {"attachments": [letter]}).status_code == 302
    bad = upload(f"{FAMILY} {MRN}.exe", b"MZ\x90\x00not a pdf", "application/pdf")
    assert client.post(f"{base}/attachments/", {"attachments": [bad]}).status_code in (400, 413, 415)
    assert client.get(f"{base}/").status_code == 200
    return assessment


def _api_requests(tenant, other):
    api = tenant.api("clinician")
    body = {"mrn": f"{MRN}-B", "given_name": GIVEN, "family_name": FAMILY, "date_of_birth": BORN.isoformat(),
            "sex_at_birth": "female"}
    created = api.post("/api/v1/patients/", body, format="json")
    assert created.status_code == 201
    assert api.post("/api/v1/patients/", body, format="json").status_code == 400  # duplicate
    assert api.post("/api/v1/patients/", {**body, "mrn": "X-1", "date_of_birth": "1931-13-45"},
                    format="json").status_code == 400
    for query in (FAMILY, MRN, BORN.isoformat()):
        assert api.get("/api/v1/patients/", {"q": query}).status_code == 200
    url = f"/api/v1/patients/{created.json()['id']}/"
    assert api.get(url).status_code == 200
    assert api.patch(url, {"history_notes": f"{GIVEN} again"}, format="json").status_code == 200
    assert api.patch(url, {"family_name": "x" * 500}, format="json").status_code == 400
    assert api.get(f"/api/v1/patients/{other.pk}/").status_code == 404  # another tenant's patient


def _server_error_on_a_moved_value(tenant, client, patient):
    """A value copied from another row no longer opens: the page is a 500, logged with the place only."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE assessments_patient SET given_name = family_name WHERE id = %s", [patient.pk])
    keyring.store().forget()
    quiet = Client(raise_request_exception=False)
    quiet.cookies = client.cookies
    assert quiet.get(f"/patients/{patient.pk}/").status_code == 500


def test_phi_bearing_requests_log_no_phi_and_the_audit_export_holds_ids(tenant_a, tenant_b, captured):
    other = make_patient(tenant_b, "OTHER-1", given_name=GIVEN, family_name=FAMILY)
    client = tenant_a.client_for(Role.ORG_ADMIN)
    patient = _portal_requests(tenant_a, client)
    _run_and_review(tenant_a, client, patient)
    _api_requests(tenant_a, other)
    _server_error_on_a_moved_value(tenant_a, client, patient)
    export = client.get("/audit/export.csv")
    assert export.status_code == 200
    exported = b"".join(export.streaming_content).decode()

    logged = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in captured.records)
    # The capture saw what it should: SQL statements, the refused requests, the task and the server error.
    assert "SELECT" in logged and "Bad Request: /patients/new/" in logged
    assert any(r.name.startswith("celery") for r in captured.records)
    assert "Internal Server Error" in logged and "assessments_patient.given_name" in logged
    assert _leaks(logged) == []

    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["action"] for r in rows} >= {"patient.created", "patient.updated", "patient.viewed",
                                           "assessment.signed_off", "discussion.posted"}
    assert _leaks(exported) == []
    with organization_scope(tenant_a.organization):
        ids = {str(p.pk) for p in Patient.objects.all()}
    assert ids <= {r["target_id"] for r in rows}  # the export names patients by internal id


def test_flash_messages_carry_no_phi(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    form = {"mrn": MRN, "given_name": GIVEN, "family_name": FAMILY, "date_of_birth": BORN.isoformat(),
            "sex_at_birth": "female"}
    response = client.post("/patients/new/", form)
    # Messages travel in a signed (not encrypted) cookie: read it back as the browser holds it.
    cookie = response.cookies["messages"].value
    from django.contrib.messages.storage.cookie import CookieStorage

    stored = CookieStorage(None)._decode(cookie)
    assert [m.message for m in stored] == ["The patient was added."]
    assert _leaks(cookie) == []


def test_the_development_server_log_redacts_a_search():
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET /patients/?q={FAMILY}&page=2 HTTP/1.1", "200", "512"), None)
    assert ScrubFilter().filter(record)
    assert record.getMessage() == '"GET /patients/?q=[redacted]&page=2 HTTP/1.1" 200 512'
    assert _leaks(record.getMessage()) == []


def test_the_settings_put_the_filter_on_the_access_log():
    handlers = logging.getLogger("django.server").handlers  # the settings' console handler (and pytest's own)
    assert any(isinstance(f, ScrubFilter) for handler in handlers for f in handler.filters)
