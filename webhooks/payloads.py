"""The body of a delivery: ``{type, timestamp, data}`` where ``data`` is the object as the API returns it.

Rendered at each attempt from the current row (nothing of the patient is stored with the delivery); a
patient or assessment that no longer exists (retention purged it) is not sent.
"""

from __future__ import annotations

import json

from rest_framework.utils.encoders import JSONEncoder


def _data(object_type: str, object_id) -> dict | None:
    from assessments import selectors
    from assessments.api.serializers import AssessmentSerializer, PatientSerializer
    from assessments.models import Assessment, Patient

    if object_type == "assessment":
        assessment = selectors.with_details(Assessment.objects.all()).filter(pk=object_id).first()
        # An endpoint is managed with webhooks.manage, held by org admins and granted clients, all of which
        # may read results: the representation a results-reading key gets.
        return None if assessment is None else AssessmentSerializer(assessment, context={"view_results": True}).data
    if object_type == "patient":
        patient = Patient.objects.filter(pk=object_id).first()
        return None if patient is None else PatientSerializer(patient).data
    raise ValueError(f"unknown webhook object type {object_type!r}")


def body(delivery) -> bytes | None:
    data = _data(delivery.object_type, delivery.object_id)
    if data is None:
        return None
    payload = {"type": delivery.event_type, "timestamp": delivery.event_at.isoformat(), "data": data}
    return json.dumps(payload, cls=JSONEncoder, separators=(",", ":")).encode("utf-8")
