"""REST API v1 for patients and assessments. Every view derives from TenantAPIView: the API key's
organization is the scope of the whole request; another tenant's id is a 404."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.api import TenantAPIView
from accounts.roles import role_has
from assessments import read_audit, selectors, services
from assessments.models import Assessment, Patient, UploadedFile
from assessments.uploads import UploadRejected

from . import representation
from .idempotency import idempotent, with_resources
from .pagination import Cursor
from .parsers import JSONParser, MultiPartParser
from .schema import create_examples, create_request_schema
from .serializers import (
    AssessmentCreateSerializer,
    AssessmentSerializer,
    BiomarkerHistorySerializer,
    FileSerializer,
    PatientSerializer,
)


def _raise_validation(error: DjangoValidationError):
    detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    raise serializers.ValidationError(detail)


def _upload_error(error: UploadRejected) -> Response:
    code = {413: "file_too_large", 415: "unsupported_file_type", 503: "storage_unavailable"}.get(
        error.status, "invalid_file"
    )
    response = Response(
        {
            "error": {
                "status": error.status,
                "code": code,
                "message": error.message,
                "fields": {"files": [error.message]},
            }
        },
        status=error.status,
    )
    if error.status == 503:
        response["Retry-After"] = "30"
    return response


def _oversize(request) -> Response | None:
    # The size-limit upload handler marks the request while the body is parsed: parse it first, or an
    # oversize file is silently dropped and the request goes on without it.
    request.data  # noqa: B018
    if getattr(request._request, "upload_over_request_limit", False):
        limit = settings.MAX_REQUEST_UPLOAD_BYTES // (1024 * 1024)
        message = (
            f"The files of this request total more than {limit} MB, the limit for one request. Nothing was stored."
        )
        error = {"status": 413, "code": "request_too_large", "message": message, "fields": {"files": [message]}}
        return Response({"error": error}, status=413)
    names = getattr(request._request, "oversize_uploads", None)
    if names:
        return _upload_error(UploadRejected(f"{', '.join(names)}: larger than the upload limit.", status=413))
    return None


def _view_results(request) -> bool:
    return role_has(request.auth.role, "assessments.view_results")


def _assessment_data(request, assessments, *, many: bool = False):
    """Assessments as the key may see them: without result fields unless it may view results. Rows read with
    ``representation.for_representation``; the answer is AssessmentSerializer's (representation.py)."""
    rows = representation.represent(assessments if many else [assessments], view_results=_view_results(request))
    return rows if many else rows[0]


def _fresh_assessment(pk) -> Assessment:
    return get_object_or_404(representation.for_representation(Assessment.objects.all()), pk=pk)


# The schema describes what a key that may view results gets.
ASSESSMENT_SCHEMA = AssessmentSerializer(context={"view_results": True})
ASSESSMENT_LIST_SCHEMA = AssessmentSerializer(many=True, context={"view_results": True})


# PostgreSQL cannot store or compare text holding a NUL character: the schema says so, and _text_param refuses it.
NO_NUL_TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}
BIOMARKER_HISTORY_SCHEMA = inline_serializer(
    "PatientBiomarkerHistory",
    {
        "patient": serializers.UUIDField(),
        "name": serializers.CharField(),
        "days": serializers.IntegerField(min_value=1, max_value=3650),
        "values": BiomarkerHistorySerializer(many=True),
    },
)


def _text_param(request, name: str) -> str:
    """A text query parameter. PostgreSQL refuses text with a NUL character: a 400 here, not a 500 there."""
    value = request.query_params.get(name, "")
    if "\x00" in value:
        raise serializers.ValidationError({name: ["Null characters are not allowed."]})
    return value


class PatientListView(TenantAPIView):
    required_permission = {"GET": "patients.view", "POST": "patients.edit"}
    pagination_class = Cursor

    @extend_schema(
        description="Patients, most recently active first (names are encrypted at rest: no order by name).",
        parameters=[
            OpenApiParameter(
                "q",
                NO_NUL_TEXT,
                description="Search: the start of a name or MRN (3+ characters), the exact MRN, or a date of "
                "birth as YYYY-MM-DD; several terms (space or comma separated) must all match.",
            )
        ],
        responses=PatientSerializer(many=True),
    )
    def get(self, request):
        paginator = Cursor()
        paginator.ordering = ("-last_activity_at", "-id")
        page = paginator.paginate_queryset(selectors.patients(search=_text_param(request, "q")), request, self)
        read_audit.api_patient_list(request=request, patients=page)
        return paginator.get_paginated_response(PatientSerializer(page, many=True).data)

    @extend_schema(request=PatientSerializer, responses={201: PatientSerializer})
    @idempotent
    def post(self, request):
        serializer = PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        consent = data.pop("consent", False)
        try:
            patient = services.create_patient(
                actor=request.auth, organization=request.organization, consent=consent, **data
            )
        except DjangoValidationError as error:
            _raise_validation(error)
        return with_resources(Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED), [patient.pk])

    def replay(self, request, resource_ids):
        return PatientSerializer(get_object_or_404(Patient, pk=resource_ids[0])).data


class PatientDetailView(TenantAPIView):
    required_permission = {"GET": "patients.view", "PATCH": "patients.edit", "PUT": "patients.edit"}

    @extend_schema(responses=PatientSerializer)
    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        services.record_view(actor=request.auth, organization=request.organization, obj=patient)
        return Response(PatientSerializer(patient).data)

    def _update(self, request, pk, partial):
        patient = get_object_or_404(Patient, pk=pk)
        serializer = PatientSerializer(patient, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("consent", None)
        try:
            patient = services.update_patient(actor=request.auth, patient=patient, **data)
        except DjangoValidationError as error:
            _raise_validation(error)
        return Response(PatientSerializer(patient).data)

    @extend_schema(request=PatientSerializer, responses=PatientSerializer)
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(request=PatientSerializer, responses=PatientSerializer)
    def put(self, request, pk):
        return self._update(request, pk, partial=False)


class PatientBiomarkerHistoryView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name", {**NO_NUL_TEXT, "minLength": 1}, required=True, description="Biomarker name, e.g. pce_ascvd_10y"
            ),
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": 3650, "default": 90},
                description="How far back, in days: from 1 to 3650 (default 90).",
            ),
        ],
        responses=BIOMARKER_HISTORY_SCHEMA,
    )
    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        name = _text_param(request, "name").strip()
        errors = {}
        if not name:
            available = ", ".join(selectors.patient_biomarker_names(patient)) or "none yet"
            errors["name"] = [f"Name a biomarker. This patient has: {available}."]
        try:
            days = int(request.query_params.get("days", 90))
            if not 1 <= days <= 3650:
                raise ValueError
        except ValueError:
            errors["days"] = ["days must be a whole number from 1 to 3650."]
        if errors:
            raise serializers.ValidationError(errors)
        values = selectors.patient_biomarker_history(patient, name, days=days)
        services.record_view(actor=request.auth, organization=request.organization, obj=patient)
        return Response(
            {
                "patient": str(patient.pk),
                "name": name,
                "days": days,
                "values": BiomarkerHistorySerializer(values, many=True).data,
            }
        )


class AssessmentFilter(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    modality = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=Assessment.Status.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def to_internal_value(self, data):
        # DRF reads an empty query value of an optional field as "not given": `created_after=` would list
        # everything, as if the partner had asked for no bound. A filter given is a filter that must parse.
        empty = {name: ["This filter is empty: give a value or leave the parameter out."]
                 for name in self.fields if data.get(name) == ""}  # fmt: skip
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)


class AssessmentListView(TenantAPIView):
    required_permission = {"GET": "assessments.view", "POST": "assessments.create"}
    parser_classes = [JSONParser, MultiPartParser]
    stores_files_on = frozenset({"POST"})
    pagination_class = Cursor  # read by the schema generator: the list is cursor-paginated

    @extend_schema(
        parameters=[AssessmentFilter],
        responses={
            200: ASSESSMENT_LIST_SCHEMA,
            404: OpenApiResponse(description="The `patient` filter names no patient of the key's organization."),
        },
    )
    def get(self, request):
        filters = AssessmentFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = dict(filters.validated_data)
        if "patient" in criteria:
            criteria["patient"] = get_object_or_404(Patient, pk=criteria["patient"])
        queryset = representation.for_representation(selectors.assessments(**criteria))
        paginator = Cursor()
        page = paginator.paginate_queryset(queryset, request, self)
        read_audit.api_assessment_list(request=request, assessments=page, filters=criteria)
        return paginator.get_paginated_response(_assessment_data(request, page, many=True))

    @extend_schema(request=create_request_schema(), responses={201: ASSESSMENT_SCHEMA}, examples=create_examples())
    @idempotent
    def post(self, request):
        if (oversize := _oversize(request)) is not None:
            return oversize
        serializer = AssessmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        patient = Patient.objects.filter(pk=data["patient"]).first()
        if patient is None:
            raise serializers.ValidationError({"patient": ["No such patient in this organization."]})
        try:
            assessment = services.create_assessment(
                actor=request.auth,
                organization=request.organization,
                patient=patient,
                modality=data["modality"],
                inputs=data.get("inputs") or {},
                files=request.FILES.getlist("files"),
                attachments=request.FILES.getlist("attachments"),
            )
        except UploadRejected as error:
            return _upload_error(error)
        except DjangoValidationError as error:
            _raise_validation(error)
        data = _assessment_data(request, _fresh_assessment(assessment.pk))
        return with_resources(Response(data, status=status.HTTP_201_CREATED), [assessment.pk])

    def replay(self, request, resource_ids):
        return _assessment_data(request, _fresh_assessment(resource_ids[0]))


class AssessmentDetailView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(responses=ASSESSMENT_SCHEMA)
    def get(self, request, pk):
        assessment = _fresh_assessment(pk)
        services.record_view(actor=request.auth, organization=request.organization, obj=assessment)
        return Response(_assessment_data(request, assessment))


class _AssessmentAction(TenantAPIView):
    required_permission = "assessments.manage"
    # Not named ``action``: drf-spectacular reads ``view.action`` as a ViewSet action name.
    service = None

    @extend_schema(request=None, responses=ASSESSMENT_SCHEMA)
    @idempotent
    def post(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        try:
            type(self).service(actor=request.auth, assessment=assessment)
        except services.TransitionRefused as error:
            return Response(
                {"error": {"status": 409, "code": "invalid_transition", "message": " ".join(error.messages)}},
                status=status.HTTP_409_CONFLICT,
            )
        return with_resources(Response(_assessment_data(request, _fresh_assessment(pk))), [pk])

    def replay(self, request, resource_ids, pk):
        return _assessment_data(request, _fresh_assessment(resource_ids[0]))


class AssessmentCancelView(_AssessmentAction):
    service = staticmethod(services.cancel_assessment)


class AssessmentRetryView(_AssessmentAction):
    service = staticmethod(services.retry_assessment)


class AssessmentAttachmentsView(TenantAPIView):
    required_permission = {"GET": "assessments.view_results", "POST": "assessments.create"}
    parser_classes = [MultiPartParser]
    stores_files_on = frozenset({"POST"})

    @extend_schema(responses=FileSerializer(many=True))
    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        files = list(assessment.files.order_by("created_at", "id"))
        read_audit.file_list(request=request, assessment=assessment, files=files)
        return Response(FileSerializer(files, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            }
        },
        responses={201: FileSerializer(many=True)},
    )
    @idempotent
    def post(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        if (oversize := _oversize(request)) is not None:
            return oversize
        try:
            rows = services.add_attachments(
                actor=request.auth, assessment=assessment, files=request.FILES.getlist("files")
            )
        except UploadRejected as error:
            return _upload_error(error)
        except DjangoValidationError as error:
            _raise_validation(error)
        response = Response(FileSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)
        return with_resources(response, [row.pk for row in rows])

    def replay(self, request, resource_ids, pk):
        rows = UploadedFile.objects.filter(assessment_id=pk, pk__in=resource_ids).order_by("created_at", "pk")
        return FileSerializer(rows, many=True).data


class ExplanationImageView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(
        responses={
            200: {"type": "object", "properties": {"url": {"type": "string"}, "expires_in": {"type": "integer"}}}
        }
    )
    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        url = services.issue_explanation_image_url(actor=request.auth, assessment=assessment)
        if url is None:
            raise NotFound("This assessment has no explanation image.")
        return Response({"url": request.build_absolute_uri(url) if url.startswith("/") else url, "expires_in": 300})


class FileDownloadView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(
        responses={
            200: {"type": "object", "properties": {"url": {"type": "string"}, "expires_in": {"type": "integer"}}}
        }
    )
    def get(self, request, pk):
        uploaded = get_object_or_404(UploadedFile.objects.select_related("assessment"), pk=pk)
        url = services.issue_download_url(actor=request.auth, uploaded_file=uploaded)
        return Response({"url": request.build_absolute_uri(url) if url.startswith("/") else url, "expires_in": 300})
