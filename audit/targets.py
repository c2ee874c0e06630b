"""What an audit event's target means to a person: the patient (name and MRN) and a link to the page,
not ``assessments.assessment 552407fe-...``.

Events store only a type and an id (the log is append-only and must not hold PHI), so the names are
looked up when the page is shown, for the whole page at once (one query per kind of target), inside the
organization's scope: an id of another organization, or of a patient since erased, finds nothing and
the row falls back to its type and id. Names are encrypted fields, decrypted by the model as everywhere.
"""

import uuid
from dataclasses import dataclass

from django.apps import apps
from django.urls import reverse

from accounts.tenancy import organization_scope
from modalities import registry


@dataclass(frozen=True)
class Target:
    label: str  # what the row says: "Castillo, Nadia (MRN 00123)", "ECG assessment of Castillo, Nadia ..."
    url: str = ""
    patient_id: str = ""


def _patient_label(patient) -> str:
    return f"{patient.family_name}, {patient.given_name} (MRN {patient.mrn})"


def _patients(ids):
    Patient = apps.get_model("assessments", "Patient")
    for patient in Patient.objects.filter(pk__in=ids):
        url = reverse("assessments:patient_detail", kwargs={"pk": patient.pk})
        yield str(patient.pk), Target(label=_patient_label(patient), url=url, patient_id=str(patient.pk))


def _assessments(ids):
    Assessment = apps.get_model("assessments", "Assessment")
    labels = dict(registry.choices())
    for assessment in Assessment.objects.filter(pk__in=ids).select_related("patient"):
        label = (
            f"{labels.get(assessment.modality, assessment.modality)} assessment of {_patient_label(assessment.patient)}"
        )
        url = reverse("assessments:assessment_detail", kwargs={"pk": assessment.pk})
        yield str(assessment.pk), Target(label=label, url=url, patient_id=str(assessment.patient_id))


_RESOLVERS = {"assessments.patient": _patients, "assessments.assessment": _assessments}


def _valid_ids(ids) -> list[str]:
    # Ids of these models are UUIDs; a malformed stored id must not break the page.
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return valid


def describe(organization, events) -> dict[int, Target]:
    """``{event.pk: Target}`` for the events whose target is a patient or an assessment that still exists."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        if event.target_type in _RESOLVERS and event.target_id:
            wanted.setdefault(event.target_type, set()).add(event.target_id)
    found: dict[tuple[str, str], Target] = {}
    with organization_scope(organization):
        for target_type, ids in wanted.items():
            for pk, target in _RESOLVERS[target_type](_valid_ids(ids)):
                found[(target_type, pk)] = target
    return {
        event.pk: found[(event.target_type, event.target_id)]
        for event in events
        if (event.target_type, event.target_id) in found
    }
