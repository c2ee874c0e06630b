from django.urls import path

from . import artifact_views as artifacts
from . import views

urlpatterns = [
    path("patients/", views.PatientListView.as_view(), name="patient-list"),
    path("patients/<uuid:pk>/", views.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<uuid:pk>/biomarkers/", views.PatientBiomarkerHistoryView.as_view(), name="patient-biomarkers"),
    path("assessments/", views.AssessmentListView.as_view(), name="assessment-list"),
    path("assessments/<uuid:pk>/", views.AssessmentDetailView.as_view(), name="assessment-detail"),
    path("assessments/<uuid:pk>/cancel/", views.AssessmentCancelView.as_view(), name="assessment-cancel"),
    path("assessments/<uuid:pk>/retry/", views.AssessmentRetryView.as_view(), name="assessment-retry"),
    path(
        "assessments/<uuid:pk>/attachments/", views.AssessmentAttachmentsView.as_view(), name="assessment-attachments"
    ),
    path(
        "assessments/<uuid:pk>/explanation-image/",
        views.ExplanationImageView.as_view(),
        name="assessment-explanation-image",
    ),
    path("files/<int:pk>/download/", views.FileDownloadView.as_view(), name="file-download"),
    path("assessments/<uuid:pk>/reanalyse/", artifacts.AssessmentReanalyseView.as_view(), name="assessment-reanalyse"),
    path("assessments/<uuid:pk>/artifacts/", artifacts.AssessmentArtifactsView.as_view(), name="assessment-artifacts"),
    path("artifacts/<int:pk>/download/", artifacts.ArtifactDownloadView.as_view(), name="artifact-download"),
]
