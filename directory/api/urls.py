from django.urls import path

from . import views

urlpatterns = [
    path("directory/facilities/", views.FacilityListView.as_view(), name="directory-facility-list"),
    path("directory/medicines/", views.MedicineListView.as_view(), name="directory-medicine-list"),
]
