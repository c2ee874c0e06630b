"""Run in a fresh process by test_databases.py, against the database its environment names (the embedded
SQLite, or a scratch PostgreSQL database), from an empty schema:

1. migrate to just before encryption and write plaintext rows with the historical models;
2. migrate to the latest state: the data migration seals them;
3. read the raw rows with SQL, read them back through the models, search them, move ciphertexts, rotate
   keys, then unapply and reapply the encryption migrations.

Prints one JSON object (the test asserts on it). Planted values are distinctive so a raw scan can find any
plaintext leftover.
"""

import base64
import datetime
import json
import secrets
import sys

import django

PLANTED = {
    "mrn": "QX-90417",
    "given_name": "Nadia",
    "family_name": "Castillo-Żurawska",
    "date_of_birth": datetime.date(1931, 7, 29),
    "history_notes": "Sister Philippa Quenby has the same condition",
}
REVIEW_NOTE = "Discussed with Nadia Castillo-Zurawska on the phone"
MESSAGE = "Ask Nadia Castillo-Zurawska about QX-90417"
FILENAME = "Castillo QX-90417 referral.pdf"
BEFORE = ("assessments", "0009_unitless_cvd_inputs")
NEEDLES = ["QX-90417", "Nadia", "Castillo", "Zurawska", "Żurawska", "1931-07-29", "Quenby"]


def _migrate(*target):
    from django.core.management import call_command

    call_command("migrate", *target, verbosity=0, interactive=False)


def _plant_plaintext():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    _migrate(*BEFORE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    organization = old.get_model("accounts", "Organization").objects.create(name="Probe", slug="probe")
    other = old.get_model("accounts", "Organization").objects.create(name="Other", slug="other")
    user = old.get_model("accounts", "User").objects.create(email="probe@example.org", full_name="Probe")
    patient_model = old.get_model("assessments", "Patient")
    patient = patient_model.objects.create(organization=organization, sex_at_birth="female", **PLANTED)
    second = patient_model.objects.create(
        organization=organization, sex_at_birth="male", mrn="QX-90999", given_name="Olaf",
        family_name="O'Brien", date_of_birth=datetime.date(1950, 1, 2),
    )
    stranger = patient_model.objects.create(
        organization=other, sex_at_birth="male", mrn="QX-90417", given_name="Nadia",
        family_name="Castillo", date_of_birth=datetime.date(1931, 7, 29),
    )
    assessment = old.get_model("assessments", "Assessment").objects.create(
        organization=organization, patient=patient, modality="cvd_risk", status="completed",
        review_note=REVIEW_NOTE,
    )
    thread = old.get_model("assessments", "ChatThread").objects.create(organization=organization, assessment=assessment)
    old.get_model("assessments", "ChatMessage").objects.create(
        organization=organization, thread=thread, author=user, body=MESSAGE
    )
    old.get_model("assessments", "UploadedFile").objects.create(
        organization=organization, assessment=assessment, storage_key="org/x/probe.pdf", original_filename=FILENAME,
        content_type="application/pdf", size=1, sha256_original="0" * 64, sha256_stored="0" * 64,
    )
    return {"patient": patient.pk, "second": second.pk, "stranger": stranger.pk, "organization": organization.pk,
            "other": other.pk, "assessment": assessment.pk}


def _raw_text() -> str:
    """Every stored value of the PHI columns (and the blind index table), as the database returns them."""
    from django.db import connection

    encrypted = "assessments_patientsearchtoken" in connection.introspection.table_names()
    queries = [
        "SELECT mrn, given_name, family_name, date_of_birth, history_notes FROM assessments_patient",
        "SELECT review_note FROM assessments_assessment",
        "SELECT body FROM assessments_chatmessage",
        "SELECT original_filename FROM assessments_uploadedfile",
    ]
    if encrypted:
        queries += ["SELECT postcode FROM assessments_patient",
                    "SELECT kind, token FROM assessments_patientsearchtoken"]
    found = []
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(sql)
            for row in cursor.fetchall():
                found.extend(bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
    return "\n".join(found)


def _plaintext_in_raw() -> list[str]:
    raw = _raw_text().casefold()
    return [needle for needle in NEEDLES if needle.casefold() in raw]


def _read(ids) -> dict:
    from accounts.models import Organization
    from accounts.tenancy import organization_scope
    from assessments.models import Assessment, DiscussionMessage, Patient, UploadedFile
    from medilens.crypto import keyring

    keyring.store().forget()
    with organization_scope(Organization.objects.get(pk=ids["organization"])):
        patient = Patient.objects.get(pk=ids["patient"])
        return {
            "patient": [patient.mrn, patient.given_name, patient.family_name, patient.date_of_birth.isoformat(),
                        patient.history_notes],
            "review_note": Assessment.objects.get(pk=ids["assessment"]).review_note,
            "message": DiscussionMessage.objects.get().body,
            "filename": UploadedFile.objects.get().original_filename,
        }


def _search(ids) -> dict:
    from accounts.models import Organization
    from accounts.tenancy import organization_scope
    from assessments import selectors

    queries = ["cast", "Castillo, Nadia", "Nadia Castillo", "castillo-zurawska", "ZURAWSKA", "QX-90417", "qx-904",
               "qx-9", "1931-07-29", "obrien", "o'bri", "olaf o", "nobody", "qx"]
    names = {str(ids["patient"]): "nadia", str(ids["second"]): "olaf"}
    found = {}
    with organization_scope(Organization.objects.get(pk=ids["organization"])):
        for query in queries:
            found[query] = sorted(names.get(str(p.pk), "other") for p in selectors.patients(search=query))
    return found


def _moved(ids) -> dict:
    """Copy ciphertexts to another row, column and organization with SQL; each must refuse to open."""
    from django.db import connection

    from accounts.tenancy import scopes_disabled
    from assessments.models import Patient
    from medilens.crypto.cipher import DecryptionFailed

    pk = Patient._meta.pk
    results = {}

    def attempt(name, sql, params, target, attribute):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        try:
            with scopes_disabled():
                getattr(Patient.objects.get(pk=target), attribute)
            results[name] = "opened"
        except DecryptionFailed as error:
            results[name] = "refused" if "Castillo" not in str(error) else "refused, naming the value"

    source = pk.get_db_prep_value(ids["patient"], connection)
    attempt("other row", "UPDATE assessments_patient SET mrn = (SELECT mrn FROM assessments_patient WHERE id = %s) "
            "WHERE id = %s", [source, pk.get_db_prep_value(ids["second"], connection)], ids["second"], "mrn")
    attempt("other column", "UPDATE assessments_patient SET given_name = family_name WHERE id = %s", [source],
            ids["patient"], "given_name")
    attempt("other organization", "UPDATE assessments_patient SET family_name = (SELECT family_name FROM "
            "assessments_patient WHERE id = %s) WHERE id = %s",
            [source, pk.get_db_prep_value(ids["stranger"], connection)], ids["stranger"], "family_name")
    return results


def _rotate(ids) -> dict:
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from medilens.crypto import masterkeys
    from medilens.crypto.models import OrganizationKey

    old = list(settings.FIELD_ENCRYPTION_KEYS)
    new = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    steps = {"new_key_id": masterkeys.key_id(base64.urlsafe_b64decode(new))}
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, *old]):
        call_command("rotate_encryption_keys", verbosity=0)
        steps["wrapped_by"] = sorted(set(OrganizationKey.all_organizations.values_list("master_key_id", flat=True)))
    # From here on only the new master key is configured (the old one left the list).
    settings.FIELD_ENCRYPTION_KEYS = [new]
    steps["after_rewrap"] = _read(ids)
    call_command("rotate_encryption_keys", "--data-keys", "--batch-size", "1", verbosity=0)
    steps["data_key_versions"] = sorted(set(OrganizationKey.all_organizations.filter(purpose="data", retired_at=None)
                                            .values_list("version", flat=True)))
    steps["after_data_keys"] = _read(ids)
    steps["search_after_rotation"] = _search(ids)["Nadia Castillo"]
    return steps


def main():
    django.setup()
    ids = _plant_plaintext()
    out = {"vendor": None, "plaintext_before": _plaintext_in_raw()}
    _migrate()
    from django.db import connection

    out["vendor"] = connection.vendor
    out["plaintext_after"] = _plaintext_in_raw()
    out["read"] = _read(ids)
    out["search"] = _search(ids)
    out["rotation"] = _rotate(ids)
    out["plaintext_after_rotation"] = _plaintext_in_raw()
    # Unapply and reapply: the data migration is reversible.
    _migrate(*BEFORE)
    out["plaintext_after_unapply"] = _plaintext_in_raw()
    _migrate()
    out["read_after_reapply"] = _read(ids)
    out["moved"] = _moved(ids)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    sys.exit(main())
