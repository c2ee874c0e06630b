"""Encrypted PHI, step 2 of 3: seal every existing row's PHI under its organization's data key, fill the
MRN's blind token, the search tokens and the last activity. Reversible: unapplying opens every value
again (with the same FIELD_ENCRYPTION_KEYS).

The values are written with QuerySet.update(): a sealed value goes to the column as it is, while the
model's attribute would try to open it.
"""

import datetime
from types import SimpleNamespace

from django.db import migrations
from django.db.models import Max

from medilens.crypto import blind, cipher, keyring
from medilens.crypto.fields import Sealed

BATCH = 1000
PATIENT_FIELDS = ["mrn", "given_name", "family_name", "date_of_birth", "history_notes"]
OTHER_MODELS = [("Assessment", ["review_note"]), ("ChatMessage", ["body"]), ("UploadedFile", ["original_filename"])]


def _batches(queryset, fields):
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", "organization_id", *fields)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _place(model, field_name, pk, organization_id):
    column = model._meta.get_field(field_name).column
    return cipher.Place(model._meta.db_table, column, str(pk), organization_id)


def _seal(model, field_name, pk, organization_id, value):
    if value is None:
        return None
    return Sealed(cipher.seal(str(value).encode("utf-8"), _place(model, field_name, pk, organization_id)))


def _last_activity(patient_model):
    rows = patient_model.objects.annotate(
        last_assessed=Max("assessments__created_at"), last_signed=Max("assessments__reviewed_at")
    ).values_list("pk", "created_at", "updated_at", "consent_recorded_at", "last_assessed", "last_signed")
    return {pk: max(t for t in times if t is not None) for pk, *times in rows}


def _seal_patients(apps):
    from assessments import patient_index  # the current tokenizer: tokens must match what searches ask for

    patient_model = apps.get_model("assessments", "Patient")
    token_model = apps.get_model("assessments", "PatientSearchToken")
    activity = _last_activity(patient_model)
    for rows in _batches(patient_model.objects.all(), PATIENT_FIELDS + ["postcode"]):
        tokens = []
        for pk, organization_id, mrn, given, family, born, notes, postcode in rows:
            plain = {"mrn": str(mrn).strip(), "given_name": str(given), "family_name": str(family),
                     "date_of_birth": str(born)[:10], "history_notes": str(notes or ""), "postcode": postcode}
            sealed = {name: _seal(patient_model, name, pk, organization_id, value) for name, value in plain.items()}
            sealed["mrn_index"] = blind.token(organization_id, "mrn-unique", blind.exact(plain["mrn"]))
            patient_model.objects.filter(pk=pk).update(last_activity_at=activity[pk], **sealed)
            person = SimpleNamespace(
                mrn=plain["mrn"], given_name=plain["given_name"], family_name=plain["family_name"],
                date_of_birth=datetime.date.fromisoformat(plain["date_of_birth"]),
            )
            tokens += [
                token_model(organization_id=organization_id, patient_id=pk, kind=kind,
                            token=blind.token(organization_id, kind, value), last_activity_at=activity[pk])
                for kind, value in sorted(patient_index.entries(person))
            ]
        token_model.objects.bulk_create(tokens, batch_size=BATCH)


def _seal_others(apps):
    for model_name, fields in OTHER_MODELS:
        model = apps.get_model("assessments", model_name)
        for rows in _batches(model.objects.all(), fields):
            for pk, organization_id, *values in rows:
                sealed = {
                    name: _seal(model, name, pk, organization_id, value)
                    for name, value in zip(fields, values, strict=True)
                }
                model.objects.filter(pk=pk).update(**sealed)


def seal_everything(apps, schema_editor):
    with keyring.use(keyring.KeyStore(apps.get_model("crypto", "OrganizationKey"), memo=True)):
        _seal_patients(apps)
        _seal_others(apps)


def open_everything(apps, schema_editor):
    with keyring.use(keyring.KeyStore(apps.get_model("crypto", "OrganizationKey"), memo=True)):
        models = [("Patient", PATIENT_FIELDS + ["postcode"]), *OTHER_MODELS]
        for model_name, fields in models:
            model = apps.get_model("assessments", model_name)
            for rows in _batches(model.objects.all(), fields):
                for pk, organization_id, *values in rows:
                    opened = {
                        name: None if value is None else Sealed(
                            cipher.open_sealed(str(value), _place(model, name, pk, organization_id)).decode("utf-8")
                        )
                        for name, value in zip(fields, values, strict=True)
                    }
                    model.objects.filter(pk=pk).update(**opened)
        apps.get_model("assessments", "PatientSearchToken").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("assessments", "0010_phi_encrypted_columns"),
        ("crypto", "0001_initial"),
    ]

    operations = [migrations.RunPython(seal_everything, open_everything)]
