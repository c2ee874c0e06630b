"""The migration that adds last_activity_at dates existing patients by what they last had done, not by the
day the migration ran (which would postpone every overdue purge by a whole retention period)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from medilens.testing.migrations import leaves, migrate

BEFORE = [("assessments", "0007_upload_display_name_idempotency_ids")]
AFTER = [("assessments", "0008_patient_retention")]


@pytest.mark.django_db(transaction=True)
def test_existing_patients_get_their_latest_activity(tenant_a):
    old = migrate(BEFORE)
    try:
        Patient = old.get_model("assessments", "Patient")
        Assessment = old.get_model("assessments", "Assessment")
        now = timezone.now()
        common = {"organization_id": tenant_a.organization.pk, "date_of_birth": "1950-01-01", "sex_at_birth": "female"}
        idle = Patient.objects.create(mrn="IDLE", given_name="I", family_name="Dle", **common)
        signed = Patient.objects.create(mrn="SIGNED", given_name="S", family_name="Igned", **common)
        Assessment.objects.create(
            organization_id=tenant_a.organization.pk, patient=signed, modality="cvd_risk", status="completed",
            completed_at=now - timedelta(days=900), reviewed_at=now - timedelta(days=800),
        )
        # auto_now fields are set on save: date the rows back with update(), as years of use would have.
        Patient.objects.filter(pk=idle.pk).update(updated_at=now - timedelta(days=3000))
        Patient.objects.filter(pk=signed.pk).update(updated_at=now - timedelta(days=2000))
        Assessment.objects.filter(patient=signed).update(created_at=now - timedelta(days=1000))

        new = migrate(AFTER)
        Patient = new.get_model("assessments", "Patient")
        activity = dict(Patient.objects.values_list("mrn", "last_activity_at"))
    finally:
        migrate(leaves())

    assert abs(activity["IDLE"] - (now - timedelta(days=3000))) < timedelta(seconds=5)
    assert abs(activity["SIGNED"] - (now - timedelta(days=800))) < timedelta(seconds=5)
