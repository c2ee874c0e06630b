from django.urls import path

from . import views
from .views import worklist

app_name = "assessments"

urlpatterns = [
    path("assessments/", worklist.AssessmentListView.as_view(), name="assessment_list"),
    path("assessments/review/", worklist.ReviewWorklistView.as_view(), name="review"),
    path("patients/", views.PatientListView.as_view(), name="patient_list"),
    path("patients/new/", views.PatientCreateView.as_view(), name="patient_create"),
    path("patients/<uuid:pk>/", views.PatientDetailView.as_view(), name="patient_detail"),
    path("patients/<uuid:pk>/edit/", views.PatientEditView.as_view(), name="patient_edit"),
    path("patients/<uuid:pk>/timeline/", views.PatientTimelineView.as_view(), name="patient_timeline"),
    path("patients/<uuid:pk>/consent/", views.PatientConsentView.as_view(), name="patient_consent"),
    path("patients/<uuid:pk>/assessments/new/", views.AssessmentCreateView.as_view(), name="assessment_create"),
    path("assessments/<uuid:pk>/", views.AssessmentDetailView.as_view(), name="assessment_detail"),
    path("assessments/<uuid:pk>/progress/", views.AssessmentProgressView.as_view(), name="assessment_progress"),
    path(
        "assessments/<uuid:pk>/cancel/", views.AssessmentActionView.as_view(action="cancel"), name="assessment_cancel"
    ),
    path("assessments/<uuid:pk>/retry/", views.AssessmentActionView.as_view(action="retry"), name="assessment_retry"),
    path(
        "assessments/<uuid:pk>/reanalyse/", views.AssessmentReanalyseView.as_view(), name="assessment_reanalyse"
    ),
    path("artifacts/<int:pk>/download/", views.ArtifactView.as_view(), name="artifact_download"),
    path("artifacts/<int:pk>/view/", views.ArtifactView.as_view(inline=True), name="artifact_view"),
    path("assessments/<uuid:pk>/sign-off/", views.AssessmentSignOffView.as_view(), name="assessment_sign_off"),
    path("assessments/<uuid:pk>/discussion/", views.AssessmentDiscussionView.as_view(), name="assessment_discussion"),
    path("assessments/<uuid:pk>/attachments/", views.AssessmentAttachView.as_view(), name="assessment_attach"),
    path("files/<int:pk>/download/", views.FileDownloadView.as_view(), name="file_download"),
    path(
        "assessments/<uuid:pk>/explanation-image/", views.ExplanationImageView.as_view(), name="explanation_image"
    ),
    path("files/signed/<str:token>/", views.signed_download, name="signed_download"),
]
