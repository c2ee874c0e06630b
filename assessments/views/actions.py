"""The POSTs on an assessment page: cancel and retry (one action view), sign-off, a discussion message,
attachments. Each calls its service and, when refused, re-renders the page with the reason."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View

from .. import presenters, services
from ..forms import AttachmentForm, DiscussionMessageForm, SignOffForm
from ..uploads import StorageUnavailable, UploadRejected
from .assessment import AssessmentPageMixin
from .common import add_errors, finish, oversize_message


class AssessmentActionView(AssessmentPageMixin, View):
    """The one-click state changes on an assessment's page (cancel, retry): the service named by ``action``
    (set in the URLconf), then back to the page with what happened, or the page again with the service's
    refusal. One view, so that every such button is permission-checked, refused and reported alike."""

    required_permission = "assessments.manage"
    action = ""
    ACTIONS = {
        "cancel": (services.cancel_assessment, "The assessment was cancelled."),
        "retry": (services.retry_assessment, "The assessment was queued again."),
    }

    def post(self, request, pk):
        service, done = self.ACTIONS[self.action]
        assessment = self.get_assessment(pk)
        try:
            service(actor=request.user, assessment=assessment)
        except ValidationError as error:
            return self.render_page(assessment, status=400, page_errors=error.messages)
        messages.success(request, done)
        return redirect("assessments:assessment_detail", pk=assessment.pk)


class AssessmentSignOffView(AssessmentPageMixin, View):
    required_permission = "assessments.sign_off"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = SignOffForm(request.POST, reference_model=presenters.is_reference_result(assessment))
        if form.is_valid():
            try:
                services.sign_off(
                    actor=request.user,
                    assessment=assessment,
                    note=form.cleaned_data["note"],
                    acknowledge_reference_model=form.cleaned_data.get("acknowledge_reference_model", False),
                    version=form.cleaned_data.get("version"),
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "Results signed off. They no longer read as preliminary.")
                return redirect("assessments:assessment_detail", pk=assessment.pk)
        # A refusal on a page that no longer shows the form (already signed, not completed) goes on top.
        page_errors = form.non_field_errors() if not assessment.is_preliminary else ()
        return self.render_page(assessment, status=400, sign_off_form=form, page_errors=page_errors)


class AssessmentDiscussionView(AssessmentPageMixin, View):
    required_permission = "discussion.post"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = DiscussionMessageForm(request.POST)
        if form.is_valid():
            try:
                services.post_discussion_message(
                    actor=request.user, assessment=assessment, body=form.cleaned_data["body"]
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "Message posted.")
                return redirect(reverse("assessments:assessment_detail", args=[assessment.pk]) + "#discussion")
        return self.render_page(assessment, status=400, discussion_form=form)


class AssessmentAttachView(AssessmentPageMixin, View):
    required_permission = "assessments.create"
    stores_files_on = frozenset({"POST"})  # the files are stored before the service's transaction opens

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = AttachmentForm(request.POST, request.FILES)
        oversize = oversize_message(request)
        if oversize:
            form.add_error(None, oversize)
            return self.render_page(assessment, status=413, attachment_form=form)
        status = 400
        if form.is_valid():
            try:
                rows = services.add_attachments(
                    actor=request.user, assessment=assessment, files=form.cleaned_data["attachments"]
                )
            except UploadRejected as error:
                form.add_error(None if isinstance(error, StorageUnavailable) else "attachments", error.message)
                status = error.status
            except ValidationError as error:
                add_errors(form, error, rename={"files": "attachments"})
            else:
                count = len(rows)
                messages.success(request, f"{count} document{'s' if count != 1 else ''} attached.")
                return finish(request, reverse("assessments:assessment_detail", args=[assessment.pk]) + "#files")
        return self.render_page(assessment, status=status, attachment_form=form)
