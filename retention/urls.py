from django.urls import path

from . import views

app_name = "retention"

urlpatterns = [
    path("retention/", views.UpcomingPurgesView.as_view(), name="upcoming"),
    path("patients/<uuid:pk>/legal-hold/", views.LegalHoldView.as_view(), name="legal_hold"),
]
