"""A patient with one of everything a purge must remove, made through the services where they exist."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_assessment, make_patient, pdf
from assessments import services as assessment_services
from assessments.models import AIExplanation, Assessment, BiomarkerValue, Patient
from medilens import storage

# Values no audit event may ever carry.
PHI = {
    "given_name": "Zebulon",
    "family_name": "Quixotica",
    "mrn": "PHI-MRN-778899",
    "date_of_birth": date(1933, 3, 7),
    "history_notes": "history-note-that-is-phi",
}


@dataclass
class Owned:
    patient: Patient
    assessment: Assessment
    keys: list[str]


def full_patient(tenant, **fields) -> Owned:
    """A patient with a completed, signed-off assessment: a biomarker, an explanation with an image, an
    attachment in storage, a discussion message."""
    admin = tenant.users[Role.ORG_ADMIN]
    patient = make_patient(tenant, **fields)
    assessment = make_assessment(tenant, patient, status=Assessment.Status.COMPLETED, attachments=[pdf()])
    image_key = storage.object_key(tenant.organization.pk, assessment.pk, "png")
    storage.store(image_key, ContentFile(b"\x89PNG\r\n\x1a\nheatmap"))
    with scopes_disabled():
        # update_or_create: a worker another test left running may have completed the assessment first (with
        # its own explanation and biomarkers, one per name) when make_assessment published it.
        AIExplanation.objects.update_or_create(
            assessment=assessment,
            defaults={"organization": tenant.organization, "summary": "why", "image_key": image_key},
        )
        BiomarkerValue.objects.update_or_create(
            assessment=assessment, name="pce_ascvd_10y",
            defaults={"organization": tenant.organization, "patient": patient, "category": "risk", "value": 4.2,
                      "unit": "%", "measured_at": timezone.now()},
        )  # fmt: skip
    with organization_scope(tenant.organization):
        assessment_services.post_discussion_message(actor=admin, assessment=assessment, body="Looks stable.")
        assessment = assessment_services.sign_off(actor=admin, assessment=assessment, note="Reviewed.")
        keys = [*assessment.files.values_list("storage_key", flat=True), image_key]
    return Owned(patient, assessment, keys)


def age(patient: Patient, *, days: int) -> None:
    """Make the patient's last activity ``days`` ago (as if nothing happened since)."""
    with scopes_disabled():
        Patient.objects.filter(pk=patient.pk).update(last_activity_at=timezone.now() - timedelta(days=days))
