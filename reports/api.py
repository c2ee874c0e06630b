"""``GET /api/v1/assessments/<id>/report.pdf``: the same PDF as the portal's, for partner systems.

The success is the PDF itself; a refusal is the API's usual JSON error (409 before the assessment has
completed, 404 for another organization's or a missing one), whatever the client's Accept header asks.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from accounts.api import TenantAPIView
from assessments.models import Assessment

from . import services
from .views import pdf_response


class _ErrorsAsJSON(BaseContentNegotiation):
    """The PDF is an HttpResponse that no renderer touches; only errors are rendered, always as JSON (a
    client asking for application/pdf must still read why it got none, not a 406)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AssessmentReportView(TenantAPIView):
    required_permission = "assessments.view_results"
    content_negotiation_class = _ErrorsAsJSON

    @extend_schema(
        summary="Download the PDF report of a completed assessment",
        description=(
            "The report a clinic prints: the clinic, the patient's identifiers on every page, the headline "
            "score with its label and unit, flagged biomarkers first, the explanation, the sign-off or a "
            "PRELIMINARY watermark. Audited as a read of patient data (report.generated). The file name "
            "carries the assessment id only."
        ),
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The report."),
            # No schema: the API's schema hook gives every 4xx the one Error component (medilens/api_contract.py).
            409: OpenApiResponse(description="The assessment has not completed: no report yet."),
        },
    )
    def get(self, request, pk):
        try:
            report = services.assessment_report(actor=request.auth, organization=request.organization,
                                                assessment_id=pk)
        except Assessment.DoesNotExist:
            raise NotFound("Not found.") from None
        except services.ReportUnavailable as refused:
            return Response(
                {"error": {"status": 409, "code": "not_completed", "message": refused.message}},
                status=status.HTTP_409_CONFLICT,
            )
        return pdf_response(report)
