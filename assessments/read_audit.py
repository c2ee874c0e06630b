"""Audit events for reads of patient data in lists, forms, the dashboard and signed file links.

Views call one function here, one line each, after their permission check and before they answer: the
event names the ids the response shows (``audit.reads``). The acting user (portal) or API client (API)
and the organization are the request's, as the tenancy guard resolved them. Single-record pages use
``services.record_view``.
"""

import re

from accounts.tenancy import organization_scope
from audit import reads

from .models import Assessment, ResultArtifact, UploadedFile

# org/<organization id>/assessments/<assessment id>/<random>.<ext>: see medilens.storage.object_key; a result
# version's artifacts live under results/v<N>/ there (version_services.artifact_prefix).
_KEY = re.compile(
    r"^org/(?P<organization>\d+)/assessments/(?P<assessment>[0-9a-f-]{36})/(?:results/v\d+/)?[0-9a-f]{32}\.\w+$"
)


def request_actor(request):
    """The portal's signed-in user, or the API's client (DRF puts the ApiClient in request.auth)."""
    return getattr(request, "auth", None) or request.user


def patient_list(*, request, page, patients, search: str = "") -> None:
    """``patients``: the rows the page shows (a search result's page is a list of ids, its rows loaded apart)."""
    _patients_listed(request, patients, query={**reads.search_summary(search), "page": page.number})


def api_patient_list(*, request, patients) -> None:
    _patients_listed(
        request, patients, query={**reads.search_summary(request.query_params.get("q", "")), **_cursor(request)}
    )


def _patients_listed(request, patients, *, query: dict) -> None:
    ids = [patient.pk for patient in patients]
    reads.record_list(
        action="patient.listed", actor=request_actor(request), organization=request.organization, ids=ids,
        patients=ids, query=query,
    )


def _assessments_listed(request, assessments, *, action: str, query: dict) -> None:
    reads.record_list(
        action=action,
        actor=request_actor(request),
        organization=request.organization,
        ids=[assessment.pk for assessment in assessments],
        patients=[assessment.patient_id for assessment in assessments],
        query=query,
    )


def _cursor(request) -> dict:
    return {"cursor": True} if request.query_params.get("cursor") else {}


def api_assessment_list(*, request, assessments, filters: dict) -> None:
    query = {name: str(getattr(value, "pk", value)) for name, value in filters.items()}
    _assessments_listed(request, assessments, action="assessment.listed", query={**query, **_cursor(request)})


def file_list(*, request, assessment: Assessment, files) -> None:
    reads.record_list(
        action="file.listed",
        actor=request_actor(request),
        organization=request.organization,
        target=assessment,
        ids=[uploaded.pk for uploaded in files],
        patients=[assessment.patient_id],
        query={"assessment": str(assessment.pk)},
    )


def patient_form(*, request, patient, page: str) -> None:
    """A form that shows a patient's record (the edit form, the new-assessment form)."""
    reads.record_read(
        action="patient.viewed", actor=request_actor(request), organization=request.organization, target=patient,
        patients=[patient.pk], details={"page": page},
    )


def patient_timeline(*, request, patient, assessments) -> None:
    """A patient's timeline: the record's events and those of the assessments it lists."""
    reads.record_read(
        action="patient.viewed", actor=request_actor(request), organization=request.organization, target=patient,
        patients=[patient.pk], details={"page": "timeline", "assessments": [str(a.pk) for a in assessments]},
    )


def dashboard(*, request, assessments) -> None:
    """The dashboard's recent assessments (patients' names, scores). A dashboard that shows none read no
    patient data: nothing to record."""
    if not assessments:
        return
    _assessments_listed(request, assessments, action="dashboard.viewed", query={"section": "recent_assessments"})


def signed_link_fetched(*, request, payload: dict) -> None:
    """The embedded default's signed download link, fetched: audited when the file is sent, whoever holds
    the link (the link is the authorization; the session, when there is one, names the person)."""
    from accounts.models import Organization

    match = _KEY.match(str(payload.get("k", "")))
    if match is None:
        return
    organization = Organization.objects.filter(pk=int(match["organization"])).first()
    if organization is None:
        return
    with organization_scope(organization):
        uploaded = UploadedFile.objects.filter(storage_key=payload["k"]).select_related("assessment").first()
        artifact = None if uploaded else ResultArtifact.objects.filter(storage_key=payload["k"]).first()
        assessment = uploaded.assessment if uploaded else Assessment.objects.filter(pk=match["assessment"]).first()
    kind = "input" if uploaded else "artifact" if artifact else "image"
    user = getattr(request, "user", None)
    reads.record_read(
        action="file.downloaded",
        actor=user if getattr(user, "is_authenticated", False) else "anonymous",
        organization=organization,
        target=uploaded or artifact or assessment,
        patients=[assessment.patient_id] if assessment else [],
        details={"via": "signed_link", "assessment_id": match["assessment"], "file": kind},
    )


def assessment_list(*, request, page, assessments, query: dict) -> None:
    """The portal's assessment list and review worklist: the rows shown, with the filters in use."""
    _assessments_listed(request, assessments, action="assessment.listed", query={**query, "page": page.number})
