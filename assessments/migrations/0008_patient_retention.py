"""Retention (issue 12): when a patient's record was last active, and a legal hold that stops its purge.

Existing patients get their last activity from what the database already says: the latest of the
patient row's own change and its assessments' creation, completion and sign-off. Not "now": that would
postpone every overdue purge by a whole retention period.
"""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest


def backfill_last_activity(apps, schema_editor):
    Patient = apps.get_model("assessments", "Patient")
    Assessment = apps.get_model("assessments", "Assessment")

    def latest(field):
        rows = Assessment.objects.filter(patient=OuterRef("pk")).order_by().values("patient")
        return Coalesce(Subquery(rows.annotate(at=Max(field)).values("at")[:1]), F("updated_at"))

    Patient.objects.update(
        last_activity_at=Greatest(
            F("updated_at"), latest("created_at"), latest("completed_at"), latest("reviewed_at")
        )
    )


class Migration(migrations.Migration):
    dependencies = [("assessments", "0007_upload_display_name_idempotency_ids")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="last_activity_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="patient",
            name="legal_hold",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["organization", "last_activity_at"], name="patient_org_activity_idx"),
        ),
        migrations.RunPython(backfill_last_activity, migrations.RunPython.noop),
    ]
