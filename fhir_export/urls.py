"""/api/v1/fhir/: FHIR's own paths (no trailing slash, as FHIR clients build them)."""

from django.urls import path

from . import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("Patient/<str:pk>", views.PatientView.as_view(), name="fhir-patient"),
    path("Patient/<str:pk>/$everything", views.PatientEverythingView.as_view(), name="fhir-patient-everything"),
    path("Observation", views.ObservationSearchView.as_view(), name="fhir-observation-search"),
    path("Observation/<str:pk>", views.ObservationView.as_view(), name="fhir-observation"),
    path("RiskAssessment/<str:pk>", views.RiskAssessmentView.as_view(), name="fhir-risk-assessment"),
    path("DiagnosticReport/<str:pk>", views.DiagnosticReportView.as_view(), name="fhir-diagnostic-report"),
    path("DocumentReference/<str:pk>", views.DocumentReferenceView.as_view(), name="fhir-document-reference"),
]
