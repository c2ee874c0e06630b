"""Portal pages for patients and assessments, a module per page.

Every view derives from OrganizationMixin and names its permission; reads go through selectors, writes
through services. Views shape what a template shows and nothing more: a refused write comes back from
services as a ValidationError (field errors), TransitionRefused or UploadRejected, and is shown on the
re-rendered form with a 4xx status. Row building, formatting and chart geometry live in presenters.py
and charts.py.
"""

from .actions import (
    AssessmentActionView,
    AssessmentAttachView,
    AssessmentDiscussionView,
    AssessmentSignOffView,
)
from .assessment import AssessmentDetailView, AssessmentPageMixin, AssessmentProgressView
from .create import AssessmentCreateView
from .files import ExplanationImageView, FileDownloadView, signed_download
from .patients import (
    PatientConsentView,
    PatientCreateView,
    PatientDetailView,
    PatientEditView,
    PatientListView,
    PatientTimelineView,
)
from .versions import ArtifactView, AssessmentReanalyseView

__all__ = [
    "ArtifactView",
    "AssessmentReanalyseView",
    "AssessmentActionView",
    "AssessmentAttachView",
    "AssessmentDiscussionView",
    "AssessmentCreateView",
    "AssessmentDetailView",
    "AssessmentPageMixin",
    "AssessmentProgressView",
    "AssessmentSignOffView",
    "ExplanationImageView",
    "FileDownloadView",
    "PatientConsentView",
    "PatientCreateView",
    "PatientDetailView",
    "PatientEditView",
    "PatientListView",
    "PatientTimelineView",
    "signed_download",
]
