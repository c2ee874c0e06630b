from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("assessments/<uuid:pk>/report.pdf", views.AssessmentReportView.as_view(), name="assessment_report"),
    path("patients/<uuid:pk>/report.pdf", views.PatientSummaryReportView.as_view(), name="patient_summary"),
]
