"""Generating a report: render it, then record the read of patient data it is (``report.generated``).

A report is a read, not a write: nothing is stored (the PDF goes to the requester only) and no row changes.
The audit event names the report's subject as its target and every patient it shows, as any read event does
(``audit.reads``), so the bulk-access monitor counts reports as it counts pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from assessments.models import Assessment
from audit import reads

from . import content, selectors
from .rendering import render_pdf

ASSESSMENT_TEMPLATE = "reports/assessment_report.html"
PATIENT_TEMPLATE = "reports/patient_summary.html"


class ReportUnavailable(Exception):
    """The report cannot be made yet; ``message`` says why, in words for the person who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Report:
    pdf: bytes
    filename: str  # no PHI: ids only


def _status_words(assessment: Assessment) -> str:
    return assessment.get_status_display().lower()


def assessment_report(*, actor, organization, assessment_id) -> Report:
    """The PDF of one completed assessment. Raises Assessment.DoesNotExist outside ``organization`` and
    ReportUnavailable when it has not completed (a report of no result would be an empty document)."""
    assessment = selectors.assessment_for_report(organization=organization, pk=assessment_id)
    if assessment.status != Assessment.Status.COMPLETED:
        raise ReportUnavailable(
            f"A report is available once the assessment has completed; this one is {_status_words(assessment)}."
        )
    context, keys = content.assessment_report(assessment)
    pdf = render_pdf(ASSESSMENT_TEMPLATE, context, storage_keys=keys)
    reads.record_read(
        action="report.generated", actor=actor, organization=organization, target=assessment,
        patients=[assessment.patient_id], details={"report": "assessment", "bytes": len(pdf)},
    )
    return Report(pdf=pdf, filename=f"medilens-report-{assessment.pk}.pdf")


def patient_summary_report(*, actor, organization, patient_id) -> Report:
    """The patient summary PDF: the latest completed result of each modality and their trends. Raises
    Patient.DoesNotExist outside ``organization``."""
    patient = selectors.patient_for_report(organization=organization, pk=patient_id)
    completed = list(selectors.completed_assessments(patient))
    context, keys = content.patient_summary(patient, completed)
    pdf = render_pdf(PATIENT_TEMPLATE, context, storage_keys=keys)
    shown = [str(section["latest"]["assessment"].pk) for section in context["modalities"]]
    reads.record_read(
        action="report.generated", actor=actor, organization=organization, target=patient,
        patients=[patient.pk], details={"report": "patient_summary", "assessments": shown, "bytes": len(pdf)},
    )
    return Report(pdf=pdf, filename=f"medilens-patient-summary-{patient.pk}.pdf")
