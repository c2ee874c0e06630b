"""FHIR R4 read-only endpoints under /api/v1/fhir/. Every view is a TenantAPIView (the API key's
organization scopes the whole request, another organization's row is a 404), answers application/fhir+json,
and turns every error into an OperationOutcome. Reads are audited as the API reads they mirror."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api import TenantAPIView
from assessments import services

from . import read_audit, resources, selectors
from .capability import capability_statement
from .outcome import FHIRContentNegotiation, FHIRJSONRenderer, exception_handler, operation_outcome
from .search import SearchError, parse_observation_search

RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
    "required": ["resourceType"],
    "additionalProperties": True,
}
OUTCOME = OpenApiResponse(RESOURCE_SCHEMA, description="OperationOutcome")


def _responses(description: str, *, search: bool = False) -> dict:
    responses = {200: OpenApiResponse(RESOURCE_SCHEMA, description=description)}
    for status in (401, 403, 404, 405, 406, 429):
        responses[status] = OUTCOME
    if search:
        responses[400] = OUTCOME
    return responses


# What each operation does, for the OpenAPI document.
DESCRIPTIONS = {
    "fhir_metadata": "The CapabilityStatement: what this FHIR server serves.",
    "fhir_patient_read": (
        "A Patient: MRN under the organization's identifier system, name, birthDate, gender (sex at birth). "
        "Audited."
    ),
    "fhir_observation_read": (
        "One biomarker value as an Observation (LOINC or MediLens code, UCUM unit, range, interpretation). "
        "Audited."
    ),
    "fhir_risk_assessment_read": "The headline score of a completed assessment; 404 when it has none. Audited.",
    "fhir_diagnostic_report_read": "A completed assessment: preliminary until signed off, then final. Audited.",
    "fhir_document_reference_read": (
        "An assessment's file; the attachment URL is the audited download route. Audited."
    ),
    "fhir_patient_everything": (
        "Patient/$everything: a searchset Bundle of the patient and all its completed results; any parameter is "
        "a 400 (start, end, _since, _type and _count are not supported). Audited."
    ),
    "fhir_observation_search": (
        "Observation search (patient, code, date, _count, _offset); unknown parameters and malformed values "
        "are a 400 OperationOutcome. Audited."
    ),
}


def _schema(operation_id: str, **options):
    return extend_schema(tags=["fhir"], operation_id=operation_id, description=DESCRIPTIONS[operation_id], **options)


class FHIRView(TenantAPIView):
    renderer_classes = [FHIRJSONRenderer]
    content_negotiation_class = FHIRContentNegotiation
    required_permission = "assessments.view_results"

    def get_exception_handler(self):
        return exception_handler

    def url(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def base_url(self) -> str:
        return self.url(reverse("api:fhir-metadata").removesuffix("metadata"))

    def resource_url(self, resource: dict) -> str:
        return f"{self.base_url()}{resource['resourceType']}/{resource['id']}"


class MetadataView(FHIRView):
    # Any valid key may discover what the server does; it reads no patient data.
    required_permission = "patients.view"

    @_schema("fhir_metadata", responses=_responses("CapabilityStatement"))
    def get(self, request):
        return Response(capability_statement(base_url=self.base_url()))


class PatientView(FHIRView):
    required_permission = "patients.view"

    @_schema("fhir_patient_read", responses=_responses("Patient"))
    def get(self, request, pk):
        patient = selectors.patient(pk)
        services.record_view(actor=request.auth, organization=request.organization, obj=patient)
        return Response(resources.patient(patient, request.organization))


class ObservationView(FHIRView):
    @_schema("fhir_observation_read", responses=_responses("Observation"))
    def get(self, request, pk):
        value = selectors.biomarker_value(pk)
        assessment = selectors.assessments_by_id([value.assessment_id])[value.assessment_id]
        read_audit.resource_read(
            request=request, action="assessment.viewed", target=assessment, patient_id=value.patient_id,
            resource=f"Observation/{value.pk}",
        )  # fmt: skip
        return Response(resources.observation(value, assessment, selectors.input_file_ids(assessment)))


class RiskAssessmentView(FHIRView):
    @_schema("fhir_risk_assessment_read", responses=_responses("RiskAssessment"))
    def get(self, request, pk):
        assessment = selectors.completed_assessment(pk)
        resource = resources.risk_assessment(assessment, [value.pk for value in assessment.biomarkers.all()])
        if resource is None:
            return Response(operation_outcome(404, "This assessment has no headline score."), status=404)
        read_audit.resource_read(
            request=request, action="assessment.viewed", target=assessment, patient_id=assessment.patient_id,
            resource=f"RiskAssessment/{assessment.pk}",
        )  # fmt: skip
        return Response(resource)


class DiagnosticReportView(FHIRView):
    @_schema("fhir_diagnostic_report_read", responses=_responses("DiagnosticReport"))
    def get(self, request, pk):
        assessment = selectors.completed_assessment(pk)
        read_audit.resource_read(
            request=request, action="assessment.viewed", target=assessment, patient_id=assessment.patient_id,
            resource=f"DiagnosticReport/{assessment.pk}",
        )  # fmt: skip
        return Response(resources.diagnostic_report(assessment, [value.pk for value in assessment.biomarkers.all()]))


class DocumentReferenceView(FHIRView):
    @_schema("fhir_document_reference_read", responses=_responses("DocumentReference"))
    def get(self, request, pk):
        uploaded = selectors.uploaded_file(pk)
        assessment = uploaded.assessment
        read_audit.resource_read(
            request=request, action="file.listed", target=assessment, patient_id=assessment.patient_id,
            resource=f"DocumentReference/{uploaded.pk}",
        )  # fmt: skip
        return Response(resources.document_reference(uploaded, assessment, self.url))


def _entry(view: FHIRView, resource: dict, mode: str = "match") -> dict:
    return {
        "fullUrl": view.resource_url(resource),
        "resource": resource,
        "search": {"mode": mode},
    }


def assessment_resources(view: FHIRView, assessment) -> list[dict]:
    """A completed assessment's resources: its report, its score, its observations and its files."""
    values = list(assessment.biomarkers.all())
    ids = [value.pk for value in values]
    inputs = selectors.input_file_ids(assessment)
    found = [resources.diagnostic_report(assessment, ids)]
    if (risk := resources.risk_assessment(assessment, ids)) is not None:
        found.append(risk)
    found += [resources.observation(value, assessment, inputs) for value in values]
    found += [resources.document_reference(row, assessment, view.url) for row in assessment.files.all()]
    return found


class PatientEverythingView(FHIRView):
    @_schema("fhir_patient_everything", responses=_responses("Bundle (searchset)", search=True))
    def get(self, request, pk):
        # $everything's optional parameters (start, end, _since, _type, _count) are not supported: refused
        # rather than ignored, so a partner never takes the whole record for the part it asked for.
        unknown = sorted(set(request.query_params) - {"_format"})
        if unknown:
            message = f"Patient/$everything takes no parameter here ({unknown[0]!r} is not supported)."
            return Response(operation_outcome(400, message, expression=unknown[0]), status=400)
        patient = selectors.patient(pk)
        assessments = selectors.patient_assessments(patient)
        found = [resources.patient(patient, request.organization)]
        for assessment in assessments:
            found += assessment_resources(self, assessment)
        read_audit.everything(request=request, patient=patient, assessments=assessments, resources=len(found))
        return Response(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "link": [{"relation": "self", "url": self.url(request.get_full_path())}],
                "entry": [_entry(self, resource) for resource in found],
            }
        )


SEARCH_PARAMETERS = [
    OpenApiParameter("patient", str, description="Patient id, or 'Patient/<id>'"),
    OpenApiParameter("subject", str, description="Same as patient"),
    OpenApiParameter("code", str, description="system|code, |code or code; commas: any of them"),
    OpenApiParameter("date", str, many=True, description="e.g. ge2026-01-01; prefixes eq, ge, gt, le, lt"),
    OpenApiParameter("_count", int, description="Page size, 1-200 (default 50)"),
    OpenApiParameter("_offset", int, description="Where the page starts (next links carry it)"),
]


class ObservationSearchView(FHIRView):
    @_schema("fhir_observation_search", parameters=SEARCH_PARAMETERS, responses=_responses("Bundle", search=True))
    def get(self, request):
        try:
            search = parse_observation_search(request.query_params)
        except SearchError as error:
            return Response(operation_outcome(400, str(error), expression=error.parameter), status=400)
        patient = selectors.patient(search.patient) if search.patient else None
        queryset = selectors.observations(patient_row=patient, names=search.names, date_filters=search.date_filters)
        total = queryset.count()
        values = list(queryset[search.offset : search.offset + search.count])
        assessments = selectors.assessments_by_id(value.assessment_id for value in values)
        read_audit.observation_search(request=request, values=values, query=search.summary)
        entries = [
            _entry(self, resources.observation(value, assessments[value.assessment_id],
                                               selectors.input_file_ids(assessments[value.assessment_id])))  # fmt: skip
            for value in values
        ]
        return Response(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": total,
                "link": self._links(request, search, total),
                "entry": entries,
            }
        )

    def _links(self, request, search, total) -> list[dict]:
        links = [{"relation": "self", "url": self.url(request.get_full_path())}]
        if search.offset + search.count < total:
            query = request.query_params.copy()
            query["_offset"] = str(search.offset + search.count)
            query["_count"] = str(search.count)
            links.append({"relation": "next", "url": self.url(f"{request.path}?{query.urlencode()}")})
        return links
