"""Result versions on the assessment page: the re-analysis action (with a confirmation step) and the
artifacts' same-origin, permission-checked, audited reads (downloads, and the 3D viewer's model and still)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View

from accounts.access import OrganizationMixin
from accounts.confirmation import confirmation_page, error_messages, is_confirmed

from .. import artifacts, services, version_services
from ..models import ResultArtifact
from .assessment import AssessmentPageMixin


class AssessmentReanalyseView(AssessmentPageMixin, View):
    """GET, or a POST without the confirmation: the confirmation page. The confirmed POST queues the
    re-analysis; a refusal (not completed any more) re-renders the assessment page with the reason."""

    required_permission = "assessments.manage"

    def _confirm(self, assessment):
        current = version_services.next_version_number(assessment.pk) - 1
        return confirmation_page(
            self.request,
            title="Re-analyse this assessment",
            question=f"Analyse this assessment again as version {current + 1}?",
            consequences=(
                f"The analysis runs again on the same inputs with the current analyzer. Version {current} and its "
                f"files stay as they are. The new version is not signed off until a clinician signs it"
                + (", and the assessment reads as preliminary again." if assessment.reviewed_at else ".")
            ),
            confirm_label="Re-analyse",
            cancel_url=reverse("assessments:assessment_detail", args=[assessment.pk]),
            danger=False,
        )

    def get(self, request, pk):
        return self._confirm(self.get_assessment(pk))

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        if not is_confirmed(request):
            return self._confirm(assessment)
        try:
            services.reanalyse_assessment(actor=request.user, organization=request.organization, assessment=assessment)
        except ValidationError as error:
            return self.render_page(assessment, status=400, page_errors=error_messages(error))
        messages.success(request, "The assessment was queued for re-analysis; its result will be a new version.")
        return redirect("assessments:assessment_detail", pk=assessment.pk)


class ArtifactView(OrganizationMixin, View):
    """One result artifact, streamed from storage through this origin: ``inline`` for the 3D viewer's model
    and its still image (model-viewer fetches the GLB; a presigned URL on the object store's origin would
    need CORS and a CSP exception), as an attachment for downloads. Audited either way."""

    required_permission = "assessments.view_results"
    inline = False

    def get(self, request, pk):
        try:
            item = artifacts.artifact(pk)
        except ResultArtifact.DoesNotExist:
            raise Http404("No such file.") from None
        handle = artifacts.open_for(actor=request.user, item=item, via="portal-viewer" if self.inline else "portal")
        response = FileResponse(
            handle, as_attachment=not self.inline, filename=artifacts.download_name(item),
            content_type=item.content_type,
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
