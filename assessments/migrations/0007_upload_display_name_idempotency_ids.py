"""Files get a neutral display name; idempotency records keep ids instead of response bodies.

Existing files are named as new ones are (modality, upload date, index per assessment and kind), a frozen
copy of assessments.uploads.display_name. Existing idempotency records of a success keep the ids their
stored body named; the rest (refusals, whose retries now run again) are deleted, and with the column go
the bodies with patient data in them.
"""

from collections import defaultdict

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def _display_name(modality, kind, day, index, extension):
    prefix = modality.replace("_", "-") + ("-document" if kind == "attachment" else "")
    return f"{prefix}-{day:%Y-%m-%d}-{index}.{extension}"


def name_files(apps, schema_editor):
    UploadedFile = apps.get_model("assessments", "UploadedFile")
    counters = defaultdict(int)
    rows = UploadedFile._base_manager.select_related("assessment").order_by("assessment_id", "created_at", "pk")
    for row in rows.iterator(chunk_size=2000):
        counters[(row.assessment_id, row.kind)] += 1
        extension = row.storage_key.rsplit(".", 1)[-1] if "." in row.storage_key else "bin"
        day = timezone.localtime(row.created_at).date() if settings.USE_TZ else row.created_at.date()
        row.display_name = _display_name(
            row.assessment.modality, row.kind, day, counters[(row.assessment_id, row.kind)], extension
        )
        row.save(update_fields=["display_name"])


def _ids(body):
    if isinstance(body, dict) and "id" in body:
        return [str(body["id"])]
    if isinstance(body, list) and all(isinstance(item, dict) and "id" in item for item in body):
        return [str(item["id"]) for item in body]
    return None


def keep_ids(apps, schema_editor):
    IdempotencyRecord = apps.get_model("assessments", "IdempotencyRecord")
    for record in IdempotencyRecord._base_manager.iterator(chunk_size=2000):
        ids = _ids(record.response_body) if 200 <= record.response_status < 300 else None
        if ids is None:
            record.delete()
        else:
            record.resource_ids = ids
            record.save(update_fields=["resource_ids"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("assessments", "0006_typed_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="uploadedfile",
            name="display_name",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.RunPython(name_files, migrations.RunPython.noop),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="resource_ids",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(keep_ids, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="idempotencyrecord",
            name="response_body",
        ),
        migrations.AddIndex(
            model_name="idempotencyrecord",
            index=models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ),
    ]
