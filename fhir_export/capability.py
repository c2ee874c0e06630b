"""The CapabilityStatement served at ``metadata``: what this server does, as FHIR clients discover it."""

from __future__ import annotations

from django.conf import settings

FHIR_VERSION = "4.0.1"
# When what this statement says last changed (its "date").
PUBLISHED = "2026-12-06"
READ = [{"code": "read"}]


def capability_statement(*, base_url: str) -> dict:
    def resource(kind: str, profile_doc: str, **extra) -> dict:
        return {"type": kind, "interaction": READ, "documentation": profile_doc, **extra}

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "MediLens",
        "kind": "instance",
        "software": {"name": "MediLens"},
        "implementation": {"description": "MediLens FHIR R4 read-only export", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Authenticate with the API key: 'Authorization: Bearer <key>'. A key reads its "
                    "own organization's data only; anything else is not found (404)."
                ),
                "security": {"description": "Bearer API key (the same keys as /api/v1/)."},
                "resource": [
                    resource(
                        "Patient",
                        "identifier: the MRN under the organization's system; gender: sex at birth.",
                        operation=[
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                                "documentation": "A searchset Bundle of the patient and everything below.",
                            }
                        ],
                    ),
                    resource(
                        "Observation",
                        "One per biomarker value of a completed assessment: LOINC where one exists, else "
                        f"{settings.FHIR_SYSTEM_BASE.rstrip('/')}/CodeSystem/biomarker; UCUM units.",
                        interaction=[*READ, {"code": "search-type"}],
                        searchParam=[
                            {"name": "patient", "type": "reference"},
                            {"name": "subject", "type": "reference"},
                            {"name": "code", "type": "token"},
                            {"name": "date", "type": "date", "documentation": "prefixes eq, ge, gt, le, lt"},
                            {"name": "_count", "type": "number", "documentation": "1-200, default 50"},
                            {"name": "_offset", "type": "number", "documentation": "paging, as next links give"},
                        ],
                    ),
                    resource("RiskAssessment", "The headline score of a completed assessment."),
                    resource("DiagnosticReport", "One per completed assessment; final after clinician sign-off."),
                    resource("DocumentReference", "An assessment's file; its URL is the audited download route."),
                ],
            }
        ],
    }
