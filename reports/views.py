"""Portal downloads of the PDF reports. Permission, then the service (which renders and audits), then the
file under a name that carries ids only."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views import View

from accounts.access import OrganizationMixin
from assessments.models import Assessment, Patient

from . import services


def pdf_response(report: services.Report) -> HttpResponse:
    """The PDF as a download (the portal's and the API's), under a name that carries ids only, never cached."""
    response = HttpResponse(report.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response["Cache-Control"] = "no-store"
    return response


class AssessmentReportView(OrganizationMixin, View):
    # The report shows results (scores, biomarkers, the explanation): the results page's permission.
    required_permission = "assessments.view_results"

    def get(self, request, pk):
        try:
            report = services.assessment_report(actor=request.user, organization=request.organization,
                                                assessment_id=pk)
        except Assessment.DoesNotExist:
            raise Http404("No such assessment.") from None
        except services.ReportUnavailable as refused:
            messages.error(request, refused.message)
            return redirect("assessments:assessment_detail", pk=pk)
        return pdf_response(report)


class PatientSummaryReportView(OrganizationMixin, View):
    required_permission = "assessments.view_results"

    def get(self, request, pk):
        try:
            report = services.patient_summary_report(actor=request.user, organization=request.organization,
                                                     patient_id=pk)
        except Patient.DoesNotExist:
            raise Http404("No such patient.") from None
        return pdf_response(report)
