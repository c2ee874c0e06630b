from django.urls import path

from . import views

app_name = "directory"

urlpatterns = [
    path("facilities/", views.FacilitySearchView.as_view(), name="facility_list"),
    path("medicines/", views.MedicineSearchView.as_view(), name="medicine_list"),
]
