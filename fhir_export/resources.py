"""MediLens rows as FHIR R4 resources (plain dicts, serialised as application/fhir+json).

One builder per resource type; each takes rows the selectors loaded and the request's URL builder, and
queries nothing itself. What each resource carries, and why:

- ``Patient``: the MRN as an identifier under the organization's system, name, birth date, and
  ``gender`` from sex at birth (FHIR's administrative gender is the closest element MediLens records).
- ``Observation``: one stored biomarker value, coded in LOINC where the catalogue has a code and always in
  MediLens's biomarker system; UCUM units; the range and flag it was read against when it was stored.
- ``DocumentReference``: one stored file, its attachment URL the API's audited download route (never a
  presigned URL, never the name it was uploaded under).
- ``RiskAssessment``: the headline score, with ``probabilityDecimal`` only where the score is a probability.
- ``DiagnosticReport``: a completed assessment, ``preliminary`` until a clinician signs it off.
"""

from __future__ import annotations

from django.urls import reverse

from assessments.presenters import REFERENCE_MODEL_NOTICE, is_reference_result, value_range

from . import codes


def reference(resource_type: str, resource_id) -> dict:
    return {"reference": f"{resource_type}/{resource_id}"}


def _instant(moment) -> str | None:
    return moment.isoformat() if moment else None


def _status(assessment) -> str:
    """Results are preliminary until a clinician signs them off (Assessment.is_preliminary)."""
    return "final" if assessment.reviewed_at else "preliminary"


def _modality_code(assessment) -> dict:
    from modalities import registry

    try:
        label = registry.get(assessment.modality).modality.label
    except registry.UnknownModality:
        label = assessment.modality
    return {"coding": [{"system": codes.modality_system(), "code": assessment.modality, "display": label}],
            "text": label}  # fmt: skip


def patient(row, organization) -> dict:
    """``organization``: the request's (the row's own, which the tenancy guard has checked)."""
    return {
        "resourceType": "Patient",
        "id": str(row.pk),
        "meta": {"lastUpdated": _instant(row.updated_at)},
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
                    "text": "Medical record number",
                },
                "system": codes.mrn_system(organization),
                "value": row.mrn,
            }
        ],
        "name": [{"use": "official", "family": row.family_name, "given": [row.given_name]}],
        "gender": codes.ADMINISTRATIVE_GENDER.get(row.sex_at_birth, "unknown"),
        "birthDate": row.date_of_birth.isoformat(),
    }


def _reference_range(value) -> list[dict]:
    if value.reference_low is None and value.reference_high is None:
        return []
    entry = {}
    if value.reference_low is not None:
        entry["low"] = codes.quantity(value.reference_low, value.unit)
    if value.reference_high is not None:
        entry["high"] = codes.quantity(value.reference_high, value.unit)
    # FHIR's low and high are inclusive; the text says where a source puts the limit itself out of range.
    text = value_range(
        value.reference_low, value.reference_high, value.reference_low_inclusive, value.reference_high_inclusive
    )
    entry["text"] = f"{text} {value.unit}".strip()
    return [entry]


def observation(value, assessment, input_file_ids) -> dict:
    """``value``: a BiomarkerValue of ``assessment``; ``input_file_ids``: its input files (derivedFrom)."""
    spec = codes.spec_of(assessment.modality, value.name)
    resource = {
        "resourceType": "Observation",
        "id": str(value.pk),
        "status": _status(assessment),
        "category": codes.category(assessment.modality, value.category),
        "code": codes.biomarker_code(value.name, spec),
        "subject": reference("Patient", value.patient_id),
        "effectiveDateTime": _instant(value.measured_at),
        "issued": _instant(assessment.completed_at),
        "valueQuantity": codes.quantity(value.value, value.unit),
    }
    if interpretation := codes.interpretation(value.flag, value.value, value.reference_low, value.reference_high):
        resource["interpretation"] = interpretation
    if ranges := _reference_range(value):
        resource["referenceRange"] = ranges
    if spec is not None:
        resource["method"] = {"text": spec.source}
    if input_file_ids:
        resource["derivedFrom"] = [reference("DocumentReference", pk) for pk in input_file_ids]
    if is_reference_result(assessment):
        resource["note"] = [{"text": REFERENCE_MODEL_NOTICE}]
    return resource


def document_reference(uploaded, assessment, absolute_url) -> dict:
    """``absolute_url``: the request's ``build_absolute_uri``. The attachment's URL is the API's download
    route, which checks the key's permission, audits the download and only then issues a short-lived link."""
    kind = "Input file" if uploaded.kind == uploaded.Kind.INPUT else "Attached document"
    return {
        "resourceType": "DocumentReference",
        "id": str(uploaded.pk),
        "status": "current",
        "type": {"text": f"{kind} of a {assessment.modality} assessment"},
        "subject": reference("Patient", assessment.patient_id),
        "date": _instant(uploaded.created_at),
        "content": [
            {
                "attachment": {
                    "contentType": uploaded.content_type,
                    "url": absolute_url(reverse("api:file-download", kwargs={"pk": uploaded.pk})),
                    "size": uploaded.size,
                    "title": uploaded.display_name,
                    "creation": _instant(uploaded.created_at),
                }
            }
        ],
        "context": {"related": [reference("DiagnosticReport", assessment.pk)]},
    }


def _prediction(score: dict, assessment) -> dict:
    prediction = {"outcome": {"text": score.get("label") or "Risk"}}
    value = assessment.risk_score
    if score.get("probability") is True and value is not None:
        maximum = score.get("maximum") or 100
        prediction["probabilityDecimal"] = round(value / maximum, 6) if maximum in (1, 100) else None
    if assessment.risk_level:
        prediction["qualitativeRisk"] = {
            "coding": [{"system": codes.risk_level_system(), "code": assessment.risk_level}],
            "text": assessment.risk_level,
        }
    prediction["rationale"] = f"{score.get('label', 'Score')}: {value} {score.get('unit', '')}".strip()
    return {key: item for key, item in prediction.items() if item is not None}


def risk_assessment(assessment, biomarker_ids) -> dict | None:
    """The headline score of a completed assessment; None when it has none (a withheld score)."""
    score = (assessment.results or {}).get("score")
    if not score or assessment.risk_score is None:
        return None
    notes = [score.get("note") or "", "MediLens's own rule, not a published score." if score.get("own_rule") else ""]
    if is_reference_result(assessment):
        notes.append(REFERENCE_MODEL_NOTICE)
    resource = {
        "resourceType": "RiskAssessment",
        "id": str(assessment.pk),
        "status": _status(assessment),
        "subject": reference("Patient", assessment.patient_id),
        "occurrenceDateTime": _instant(assessment.completed_at),
        "method": {
            "coding": [{"system": codes.score_system(), "code": score.get("key") or assessment.modality,
                        "display": score.get("label")}],  # fmt: skip
            "text": f"{score.get('label')} ({score.get('source')})",
        },
        "basis": [reference("DiagnosticReport", assessment.pk)]
        + [reference("Observation", pk) for pk in biomarker_ids],
        "prediction": [_prediction(score, assessment)],
    }
    if notes := [{"text": text} for text in notes if text]:
        resource["note"] = notes
    return resource


def diagnostic_report(assessment, biomarker_ids) -> dict:
    explanation = getattr(assessment, "explanation", None)
    resource = {
        "resourceType": "DiagnosticReport",
        "id": str(assessment.pk),
        "status": _status(assessment),
        "code": _modality_code(assessment),
        "subject": reference("Patient", assessment.patient_id),
        "effectiveDateTime": _instant(assessment.completed_at),
        "issued": _instant(assessment.reviewed_at or assessment.completed_at),
        "result": [reference("Observation", pk) for pk in biomarker_ids],
    }
    if explanation is not None and explanation.summary:
        resource["conclusion"] = explanation.summary
    if assessment.risk_level:
        resource["conclusionCode"] = [
            {"coding": [{"system": codes.risk_level_system(), "code": assessment.risk_level}],
             "text": f"{assessment.risk_level} risk"}  # fmt: skip
        ]
    return resource
