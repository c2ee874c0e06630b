"""The assessment page: status and stages (polled while it runs), inputs, and, for members who may see
results, the typed result, biomarkers, explanation, files and discussion."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.views import View

from accounts.access import OrganizationMixin
from directory import clinical_links

from .. import artifacts, figures, presenters, selectors, services
from ..forms import AttachmentForm, DiscussionMessageForm, SignOffForm
from ..models import Assessment, UploadedFile
from ..presenters import RISK_LEVEL_BADGES
from .common import duration, max_upload_mb


def _stage_rows(stages) -> list:
    for stage in stages:
        stage.duration_display = duration(stage.duration_ms)
    return stages


def _progress(assessment, stages) -> dict:
    total = len(stages)
    done = sum(1 for s in stages if s.status in ("completed", "skipped"))
    current = next((s for s in stages if s.status == "running"), None)
    return {
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "current": current,
        "polling": not assessment.is_finished,
    }


class AssessmentPageMixin(OrganizationMixin):
    """Loads one assessment (404 outside the organization) and renders its page, for the page itself and
    for the POSTs on it that re-render it with their form errors."""

    template_name = "assessments/assessment_detail.html"

    def get_assessment(self, pk) -> Assessment:
        queryset = selectors.with_details(Assessment.objects.all()).select_related(
            "patient", "reviewed_by", "requested_by", "requested_by_client"
        )
        return get_object_or_404(queryset, pk=pk)

    def render_page(self, assessment, *, status=200, page_errors=(), **bound_forms):
        request = self.request
        analyzer = presenters.analyzer_for(assessment.modality)
        stages = _stage_rows(list(assessment.stages.all()))
        can_results = self.has_permission("assessments.view_results")
        input_rows = presenters.input_rows(analyzer, assessment.inputs)
        versions = list(artifacts.versions(assessment)) if can_results else []
        context = {
            "assessment": assessment,
            "patient": assessment.patient,
            "analyzer": analyzer,
            "modality_label": analyzer.modality.label if analyzer else assessment.modality,
            "stages": stages,
            "progress": _progress(assessment, stages),
            "input_rows": input_rows,
            "input_rows_half": (len(input_rows) + 1) // 2,
            "page_errors": list(page_errors),
            "can_results": can_results,
            "can_cancel": self.has_permission("assessments.manage")
            and assessment.status in (Assessment.Status.QUEUED, Assessment.Status.RUNNING)
            and not versions,
            "can_reanalyse": self.has_permission("assessments.manage")
            and assessment.status == Assessment.Status.COMPLETED,
            "can_retry": self.has_permission("assessments.manage") and assessment.status == Assessment.Status.FAILED,
            "can_sign_off": self.has_permission("assessments.sign_off") and assessment.is_preliminary,
            "can_attach": self.has_permission("assessments.create"),
            "can_post_discussion": self.has_permission("discussion.post"),
            "attachment_form": bound_forms.get("attachment_form") or AttachmentForm(),
            "sign_off_form": bound_forms.get("sign_off_form")
            or SignOffForm(
                reference_model=presenters.is_reference_result(assessment),
                initial={"version": versions[0].number if versions else None},
            ),
            "discussion_form": bound_forms.get("discussion_form") or DiscussionMessageForm(),
            "max_upload_mb": max_upload_mb(),
        }
        if can_results:
            explanation = getattr(assessment, "explanation", None)
            files = list(assessment.files.all())
            input_files = [f for f in files if f.kind == UploadedFile.Kind.INPUT]
            result = presenters.result_view(assessment, explanation.contributions if explanation else [])
            rows = presenters.biomarker_rows(
                analyzer, assessment.biomarkers.all(), previous=selectors.previous_values(assessment)
            )
            context.update({
                "explanation": explanation,
                "figure": figures.figure(assessment.modality, input_files),
                "result": result,
                "findings": presenters.findings(rows, (result.get("score") or {}).get("biomarker")),
                "biomarker_groups": presenters.biomarker_groups(rows),
                "reference_model": presenters.is_reference_result(assessment),
                "reference_model_notice": presenters.REFERENCE_MODEL_NOTICE,
                "biomarker_rows": rows,
                "risk_badge": RISK_LEVEL_BADGES.get(assessment.risk_level, "neutral"),
                "confidence": (
                    f"{assessment.confidence * 100:.0f}%"
                    if assessment.confidence is not None
                    else (analyzer.modality.no_confidence_reason if analyzer else "Not given")
                ),
                "recommendations": clinical_links.with_medicine_links(
                    presenters.recommendations(assessment.recommendations)
                ),
                "facility_link": clinical_links.facility_link(assessment),
                "input_files": input_files,
                "attachments": [f for f in files if f.kind == UploadedFile.Kind.ATTACHMENT],
                "discussion": list(selectors.assessment_messages(assessment)),
                "versions": versions,
                "versions_signed_off": artifacts.signed_off_summary(versions),
                "viewer": artifacts.viewer(versions[0]) if versions else None,
            })
        response = render(request, self.template_name, context, status=status)
        if context.get("viewer"):
            response._csp_update = artifacts.VIEWER_POLICY  # django-csp reads it (its csp_update decorator's way)
        return response


class AssessmentDetailView(AssessmentPageMixin, View):
    required_permission = "assessments.view"

    def get(self, request, pk):
        assessment = self.get_assessment(pk)
        services.record_view(actor=request.user, organization=request.organization, obj=assessment)
        return self.render_page(assessment)


class AssessmentProgressView(OrganizationMixin, View):
    """The live part of the assessment page, polled by htmx while the assessment is queued or running.
    Once it has finished the fragment carries no polling attributes (so polling stops) and the response
    asks htmx to reload the page once, so the results appear."""

    required_permission = "assessments.view"

    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        stages = _stage_rows(list(assessment.stages.order_by("order")))
        response = render(
            request,
            "assessments/includes/progress.html",
            {"assessment": assessment, "stages": stages, "progress": _progress(assessment, stages)},
        )
        if assessment.is_finished and request.headers.get("HX-Request") == "true":
            response["HX-Refresh"] = "true"
        response["Cache-Control"] = "no-store"
        return response
