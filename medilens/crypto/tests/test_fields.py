"""Encrypted fields on PostgreSQL, through the services a request uses: the raw rows hold ciphertext only,
a ciphertext opens only in its own place, and everything that would compare plaintext in SQL is refused
loudly (it would otherwise silently match nothing)."""

from datetime import date

import pytest
from django.core.exceptions import FieldError
from django.db import connection, transaction

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, DiscussionMessage, Patient, UploadedFile
from assessments.tests.portal import make_assessment, make_patient, pdf_bytes, upload
from medilens.crypto import cipher, keyring
from medilens.crypto.cipher import DecryptionFailed
from medilens.crypto.fields import EncryptionError
from medilens.crypto.models import OrganizationKey

pytestmark = pytest.mark.django_db

PLANTED = {"given_name": "Philippa", "family_name": "Quenby-Ødegård", "date_of_birth": date(1961, 7, 29),
           "history_notes": "Brother Ambrose Quenby: same"}
NEEDLES = ["Philippa", "Quenby", "Ødegård", "QNB-4471", "1961-07-29", "Ambrose", "SW1A 2AA"]


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [str(value) for row in cursor.fetchall() for value in row]


def _reload(model, pk):
    keyring.store().forget()  # read with keys from the database, as another process would
    with scopes_disabled():
        return model.objects.get(pk=pk)


def _planted(tenant):
    patient = make_patient(tenant, "QNB-4471", postcode="SW1A 2AA", **PLANTED)
    letter = upload("Quenby QNB-4471 letter.pdf", pdf_bytes(), "application/pdf")
    assessment = make_assessment(tenant, patient, run=True, attachments=[letter])
    with organization_scope(tenant.organization):
        services.sign_off(actor=tenant.users["clinician"], assessment=assessment, note="Told Philippa Quenby")
        services.post_discussion_message(
            actor=tenant.users["clinician"], assessment=assessment, body="Philippa QNB-4471 ok?"
        )
    return patient, assessment


def test_the_raw_rows_hold_no_plaintext_and_the_models_read_it_back(tenant_a):
    patient, assessment = _planted(tenant_a)
    raw = _raw(
        "SELECT mrn, given_name, family_name, date_of_birth, postcode, history_notes FROM assessments_patient "
        "WHERE id = %s", [patient.pk]
    )
    raw += _raw("SELECT review_note FROM assessments_assessment WHERE id = %s", [assessment.pk])
    raw += _raw("SELECT body FROM assessments_chatmessage")
    raw += _raw("SELECT original_filename FROM assessments_uploadedfile WHERE assessment_id = %s", [assessment.pk])
    assert len(raw) == 9 and all(value.startswith("e1:") for value in raw)
    text = "\n".join(raw).casefold()
    assert [needle for needle in NEEDLES if needle.casefold() in text] == []

    again = _reload(Patient, patient.pk)
    assert (again.mrn, again.given_name, again.family_name, again.date_of_birth, again.postcode,
            again.history_notes) == ("QNB-4471", "Philippa", "Quenby-Ødegård", date(1961, 7, 29), "SW1A 2AA",
                                     "Brother Ambrose Quenby: same")
    assert _reload(Assessment, assessment.pk).review_note == "Told Philippa Quenby"
    with scopes_disabled():
        assert DiscussionMessage.objects.get().body == "Philippa QNB-4471 ok?"
        assert UploadedFile.objects.get(assessment=assessment).original_filename == "Quenby QNB-4471 letter.pdf"


def test_the_same_value_is_sealed_differently_each_time(tenant_a):
    first = make_patient(tenant_a, "N-1", given_name="Same", family_name="Same")
    second = make_patient(tenant_a, "N-2", given_name="Same", family_name="Same")
    rows = _raw("SELECT given_name, family_name FROM assessments_patient WHERE id IN (%s, %s)", [first.pk, second.pk])
    assert len(set(rows)) == 4  # a fresh nonce per value: equal names are not equal ciphertexts


@pytest.mark.parametrize(
    "sql, target",
    [
        # The MRN of one patient copied onto another patient of the same organization.
        ("UPDATE assessments_patient SET mrn = (SELECT mrn FROM assessments_patient WHERE id = %(a)s) "
         "WHERE id = %(b)s", "b"),
        # One column's ciphertext copied into another column of the same row.
        ("UPDATE assessments_patient SET given_name = family_name WHERE id = %(a)s", "a"),
        # A row of organization A's ciphertext copied onto organization B's patient.
        ("UPDATE assessments_patient SET family_name = (SELECT family_name FROM assessments_patient "
         "WHERE id = %(a)s) WHERE id = %(other)s", "other"),
        # The whole row moved to organization B.
        ("UPDATE assessments_patient SET organization_id = %(other_org)s WHERE id = %(a)s", "a"),
        # One character of the ciphertext changed.
        ("UPDATE assessments_patient SET mrn = substr(mrn, 1, 12) || "
         "CASE WHEN substr(mrn, 13, 1) = 'A' THEN 'B' ELSE 'A' END || substr(mrn, 14) WHERE id = %(a)s", "a"),
    ],
    ids=["other row", "other column", "other organization", "row moved to other organization", "tampered"],
)
def test_a_ciphertext_opens_only_in_its_own_place(tenant_a, tenant_b, sql, target):
    a = make_patient(tenant_a, "M-1", given_name="Alma", family_name="Quenby")
    b = make_patient(tenant_a, "M-2", given_name="Bea", family_name="Quenby")
    other = make_patient(tenant_b, "M-3", given_name="Cleo", family_name="Quenby")
    rows = {"a": a, "b": b, "other": other}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"a": a.pk, "b": b.pk, "other": other.pk, "other_org": tenant_b.organization.pk})
    moved = _reload(Patient, rows[target].pk)
    with pytest.raises(DecryptionFailed) as refused:
        [moved.mrn, moved.given_name, moved.family_name]  # noqa: B018
    # The error names the place, never a value.
    assert "Quenby" not in str(refused.value) and "M-1" not in str(refused.value)
    assert "assessments_patient" in str(refused.value)


def test_sql_comparisons_and_raw_writes_of_plaintext_are_refused(tenant_a):
    patient = make_patient(tenant_a, "R-1")
    with organization_scope(tenant_a.organization):
        with pytest.raises(FieldError):
            Patient.objects.filter(mrn="R-1").exists()
        with pytest.raises(FieldError):
            Patient.objects.filter(family_name__icontains="oka").exists()
        with pytest.raises(EncryptionError), transaction.atomic():
            Patient.objects.filter(pk=patient.pk).update(given_name="Plain")
    with pytest.raises(EncryptionError):
        UploadedFile.objects.bulk_create([UploadedFile(
            organization=tenant_a.organization, assessment=make_assessment(tenant_a, patient),
            storage_key="x", original_filename="a.pdf", content_type="application/pdf", size=1,
            sha256_original="0" * 64, sha256_stored="0" * 64,
        )])


def test_string_forms_name_ids_never_phi(tenant_a):
    patient, assessment = _planted(tenant_a)
    with scopes_disabled():
        upload = UploadedFile.objects.get(assessment=assessment)
    for text in (str(patient), repr(patient), str(upload), repr(upload), str(assessment)):
        assert not any(needle.casefold() in text.casefold() for needle in NEEDLES), text
    assert str(patient) == f"Patient {patient.pk}"


def test_a_key_created_in_a_rolled_back_transaction_never_seals_a_saved_value(tenant_a):
    """The organization's first data key is created inside the transaction that first seals a value. If that
    transaction rolls back, the key is gone: a later value must not be sealed with it (it would never open)."""
    assert not OrganizationKey.all_organizations.filter(organization=tenant_a.organization).exists()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_patient(tenant_a, "RB-1")
        assert OrganizationKey.all_organizations.filter(organization=tenant_a.organization).exists()
        raise RuntimeError("roll back")
    assert not OrganizationKey.all_organizations.filter(organization=tenant_a.organization).exists()
    kept = make_patient(tenant_a, "RB-2", given_name="Kept")
    assert _reload(Patient, kept.pk).given_name == "Kept"


def test_crypto_shredding_one_organization_leaves_the_other_readable(tenant_a, tenant_b):
    from medilens.crypto.rotation_services import shred_organization

    gone = make_patient(tenant_a, "S-1", given_name="Gone")
    kept = make_patient(tenant_b, "S-1", given_name="Kept")
    shred_organization(actor="system:test", organization=tenant_a.organization)
    with pytest.raises(DecryptionFailed):
        _reload(Patient, gone.pk).given_name  # noqa: B018
    assert _reload(Patient, kept.pk).given_name == "Kept"
    # The search tokens of the shredded organization are unmatchable too: its index key is gone with it.
    assert not OrganizationKey.all_organizations.filter(organization=tenant_a.organization).exists()


def test_the_stored_form_names_its_key_version_and_nothing_else():
    place = cipher.Place("t", "c", "1", 1)
    assert cipher.key_version("e1:3:AAAA") == 3
    assert cipher.key_version("Castillo") is None
    with pytest.raises(DecryptionFailed):
        cipher.open_sealed("Castillo", place)
