"""Audit events for FHIR reads: each mirrors the API read that shows the same data (a Patient is a
``patient.viewed``, a report or score an ``assessment.viewed``, a file's metadata ``file.listed``), with
``via: fhir`` and the resource read, so the bulk-access monitor counts FHIR reads like any other."""

from __future__ import annotations

from assessments.read_audit import request_actor
from audit import reads


def resource_read(*, request, action: str, target, patient_id, resource: str, extra: dict | None = None) -> None:
    reads.record_read(
        action=action,
        actor=request_actor(request),
        organization=request.organization,
        target=target,
        patients=[patient_id],
        details={"via": "fhir", "resource": resource, **(extra or {})},
    )


def everything(*, request, patient, assessments, resources: int) -> None:
    resource_read(
        request=request,
        action="patient.viewed",
        target=patient,
        patient_id=patient.pk,
        resource=f"Patient/{patient.pk}/$everything",
        extra={"assessments": [str(row.pk) for row in assessments], "resources": resources},
    )


def observation_search(*, request, values, query: dict) -> None:
    reads.record_list(
        action="biomarker.listed",
        actor=request_actor(request),
        organization=request.organization,
        ids=[value.pk for value in values],
        patients=[value.patient_id for value in values],
        query={"via": "fhir", **{name: str(item) for name, item in query.items()}},
    )
