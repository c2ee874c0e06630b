"""The new-assessment page: the modality, its input schema's form, the files, and the service's refusals
shown on the fields they concern."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from accounts.access import OrganizationMixin
from modalities import registry

from .. import intake, presenters, read_audit, services
from ..forms import UploadsForm, input_groups, inputs_form
from ..models import Patient
from ..uploads import StorageUnavailable, UploadRejected, safe_filename
from .common import add_once, finish, max_upload_mb, oversize_message


def _analyzer_form(analyzer, **kwargs):
    """The form of the modality's input schema (None when the portal asks for no inputs)."""
    return inputs_form(analyzer.modality.input_schema, prefix=AssessmentCreateView.input_prefix, **kwargs)


def _uploads_form(analyzer, *args):
    """The files part of the form. Input files a modality needs are not "(optional)" beside the help text's
    "At least one is needed", though the form itself does not refuse them: the service says so, in the
    modality's words."""
    uploads = UploadsForm(*args, analyzer=analyzer, max_upload_mb=max_upload_mb())
    if "files" in uploads.fields and analyzer is not None and analyzer.modality.requires_files:
        uploads.fields["files"].needed = True
    return uploads


def _raw_inputs(form) -> dict:
    """The input form's fields as submitted, as text (an unticked checkbox is an explicit False, so it overrides
    the patient's record instead of falling back to it); the input schema validates them."""
    return {
        name: field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
        for name, field in form.fields.items()
    }


class AssessmentCreateView(OrganizationMixin, View):
    required_permission = "assessments.create"
    template_name = "assessments/assessment_form.html"
    input_prefix = "inputs"
    stores_files_on = frozenset({"POST"})  # the files are stored before the service's transaction opens

    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        choices = registry.choices()
        modality = request.GET.get("modality") or (choices[0][0] if len(choices) == 1 else "")
        analyzer = presenters.analyzer_for(modality) if modality else None
        if modality and analyzer is None:
            return self.render_page(patient, modality, None, None, None, status=400,
                                    page_errors=[str(registry.UnknownModality(modality))])
        elsewhere = intake.elsewhere_url(modality, patient)
        if elsewhere:  # a form that could never succeed: go where it is done
            return redirect(elsewhere)
        read_audit.patient_form(request=request, patient=patient, page="new_assessment")
        input_form = None
        if analyzer is not None and analyzer.modality.input_schema is not None:
            initial = analyzer.modality.input_schema.initial(services.patient_facts(patient))
            input_form = _analyzer_form(analyzer, initial=initial)
        uploads = _uploads_form(analyzer) if analyzer else None
        return self.render_page(patient, modality, analyzer, input_form, uploads, check_record=True)

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        files = request.FILES  # parsed already; the size-limit handler noted any file over the cap
        modality = request.POST.get("modality") or request.GET.get("modality") or ""
        analyzer = presenters.analyzer_for(modality)
        input_form = _analyzer_form(analyzer, data=request.POST) if analyzer is not None else None
        uploads = _uploads_form(analyzer, request.POST, files)
        sent_files, sent_attachments = files.getlist("files"), files.getlist("attachments")
        page_errors: list[str] = []
        consent_missing = False

        oversize = oversize_message(request)
        if oversize:
            uploads.add_error(None, oversize)
            return self.render_page(patient, modality, analyzer, input_form, uploads, status=413,
                                    files_sent=True)
        try:
            assessment = services.create_assessment(
                actor=request.user,
                organization=request.organization,
                patient=patient,
                modality=modality,
                inputs=_raw_inputs(input_form) if input_form is not None else {},
                attachments=sent_attachments,
                files=sent_files,
            )
        except UploadRejected as error:
            field = None if isinstance(error, StorageUnavailable) else "attachments"
            if field and "files" in uploads.fields and any(
                error.message.startswith(f"{safe_filename(f.name)}:") for f in sent_files
            ):
                field = "files"
            uploads.add_error(field, error.message)
            status = error.status
        except ValidationError as error:
            status = 400
            for key, errors in error.message_dict.items():
                name = key.removeprefix("inputs.")
                if key == "patient":
                    consent_missing = not patient.has_consent
                    page_errors.extend(errors)
                elif key in ("files", "attachments") and key in uploads.fields:
                    add_once(uploads, key, errors)
                elif key.startswith("inputs.") and input_form is not None and name in input_form.fields:
                    input_form.add_error(name, errors)  # the input schema's words: the form itself checks nothing
                elif key == "inputs" and input_form is not None:
                    add_once(input_form, None, errors)
                else:  # modality, or a field this page does not show
                    page_errors.extend(errors)
        else:
            messages.success(request, f"{analyzer.modality.label} assessment queued.")
            return finish(request, reverse("assessments:assessment_detail", args=[assessment.pk]))
        return self.render_page(
            patient, modality, analyzer, input_form, uploads, status=status, page_errors=page_errors,
            consent_missing=consent_missing, files_sent=bool(sent_files or sent_attachments),
        )

    def render_page(self, patient, modality, analyzer, input_form, uploads, *, status=200, page_errors=(),
                    consent_missing=False, files_sent=False, check_record=False):
        request = self.request
        refusal, needs = {}, {}
        if check_record and analyzer is not None:
            facts = services.patient_facts(patient)
            refusal = intake.record_refusal(analyzer, facts)
            needs = {} if refusal else intake.record_needs(analyzer, facts)
            for name in needs:
                if input_form is not None and name in input_form.fields:
                    input_form.fields[name].required = True  # the form says so before it is sent
        context = {
            "patient": patient,
            "modality": modality if analyzer else "",
            "analyzer": analyzer,
            "title": intake.title(analyzer.modality.label) if analyzer else "",
            "cards": intake.cards(patient),
            "record_refusal": [message for errors in refusal.values() for message in errors],
            "record_needs": [
                (str(input_form.fields[name].label) if input_form is not None and name in input_form.fields else name,
                 message)
                for name, errors in needs.items() for message in errors
            ],
            "input_form": input_form,
            "input_groups": input_groups(modality, input_form) if input_form is not None else [],
            "uploads": uploads,
            "page_errors": list(page_errors),
            "consent_missing": consent_missing,
            "consent_warning": (
                not consent_missing and not patient.has_consent
                and request.organization.require_consent_for_assessment
            ),
            "files_sent": files_sent,
            "has_errors": status >= 400,
        }
        return render(request, self.template_name, context, status=status)
